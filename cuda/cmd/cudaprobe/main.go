// Command cudaprobe reports the GPU, builds the kernels for other architectures
// with NVRTC, and characterises the device rsqrtf exhaustively, writing the packed
// error table that rmsnorm embeds.
//
// Regenerate the H100 table (on a machine with an sm_90 GPU, the driver and NVRTC):
//
//	go run ./cuda/cmd/cudaprobe -table rmsnorm/rsqrt_sm90.bin -summary rsqrt_sm90.json
//
// Build check only (NVRTC, no GPU needed):
//
//	go run ./cuda/cmd/cudaprobe -no-gpu -build out -archs sm_90a,sm_100a
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fp4indexer/fp4indexer/cuda"
)

func main() {
	table := flag.String("table", "", "write the packed 2-bit rsqrt error table here (runs the exhaustive sweep)")
	rawTable := flag.String("raw-table", "", "write the signed per-entry ulp errors (2^24 bytes) here")
	summary := flag.String("summary", "", "write the sweep's JSON summary here")
	build := flag.String("build", "", "write PTX/CUBIN of each -archs target into this folder")
	archs := flag.String("archs", "sm_100a", "comma-separated NVRTC targets for -build")
	noGPU := flag.Bool("no-gpu", false, "use NVRTC only (with -build)")
	flag.Parse()
	if err := run(*table, *rawTable, *summary, *build, *archs, *noGPU); err != nil {
		fmt.Fprintln(os.Stderr, "cudaprobe:", err)
		os.Exit(1)
	}
}

func run(table, rawTable, summary, build, archs string, noGPU bool) error {
	var d *cuda.Device
	var comp *cuda.Compiler
	if noGPU {
		c, err := cuda.OpenCompiler("")
		if err != nil {
			return err
		}
		comp = c
	} else {
		dev, err := cuda.Open()
		if err != nil {
			return err
		}
		defer dev.Close()
		d, comp = dev, dev.Compiler()
		fmt.Println("device:", d.Info())
	}
	major, minor := comp.Version()
	fmt.Printf("NVRTC %d.%d (%s), archs %v\n", major, minor, comp.Path(), comp.SupportedArchs())
	if build != "" {
		if err := buildCheck(comp, build, archs); err != nil {
			return err
		}
	}
	if table == "" && summary == "" && rawTable == "" {
		return nil
	}
	if d == nil {
		return fmt.Errorf("-table/-summary need a GPU")
	}
	return sweep(d, table, rawTable, summary)
}

func buildCheck(c *cuda.Compiler, dir, archs string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, arch := range strings.Split(archs, ",") {
		arch = strings.TrimSpace(arch)
		if arch == "" {
			continue
		}
		t0 := time.Now()
		b, err := c.Compile("fp4indexer_kernels.cu", cuda.KernelSource(), arch, cuda.CompileOptions()...)
		if err != nil {
			fmt.Printf("build %s: FAILED: %v\n", arch, err)
			continue
		}
		ptx := string(b.PTX)
		fmt.Printf("build %s: PTX %d bytes, CUBIN %d bytes in %v; e2m1x2 cvt %d, ue8m0x2 cvt %d, e4m3x2 cvt %d\n", arch, len(b.PTX), len(b.CUBIN),
			time.Since(t0).Round(time.Millisecond), strings.Count(ptx, "e2m1x2.f32"), strings.Count(ptx, "ue8m0x2.f32"), strings.Count(ptx, "e4m3x2.f32"))
		if b.Log != "" {
			fmt.Printf("build %s log:\n%s\n", arch, b.Log)
		}
		if err := os.WriteFile(filepath.Join(dir, arch+".ptx"), b.PTX, 0o644); err != nil {
			return err
		}
		if b.CUBIN != nil {
			if err := os.WriteFile(filepath.Join(dir, arch+".cubin"), b.CUBIN, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

type summaryFile struct {
	Device       string              `json:"device"`
	Driver       string              `json:"driver"`
	NVRTC        string              `json:"nvrtc"`
	Arch         string              `json:"arch"`
	CompileFlags []string            `json:"compile_flags"`
	Seconds      float64             `json:"seconds"`
	TableFormat  string              `json:"table_format"`
	TableSHA256  string              `json:"table_sha256,omitempty"`
	TableErrors  map[int]int         `json:"table_errors"` // over the 2^24 base entries
	Report       cuda.RsqrtReport    `json:"report"`
	Specials     []cuda.RsqrtSpecial `json:"specials"`
}

func sweep(d *cuda.Device, table, rawTable, summary string) error {
	t0 := time.Now()
	errs, rep, err := d.CharacteriseRsqrt()
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	specials, err := d.RsqrtSpecials()
	if err != nil {
		return err
	}
	info := d.Info()
	s := summaryFile{
		Device: info.Name, Driver: cuda.DriverVersionString(info.Driver), NVRTC: fmt.Sprintf("%d.%d", info.NVRTCMajor, info.NVRTCMinor),
		Arch: info.Arch, CompileFlags: cuda.CompileOptions(), Seconds: secs, Report: rep, Specials: specials,
		TableFormat: "2^24 entries, index = (biased exponent & 1) << 23 | fraction (subnormals normalised); 2 bits each (two's complement: 00 = 0, 01 = +1, 10 = -2, 11 = -1), entry i at bits 2*(i%4) of byte i/4; d means bits(rsqrtf(x)) = bits(correctly rounded 1/sqrt(x)) + d",
		TableErrors: map[int]int{},
	}
	for _, e := range errs {
		s.TableErrors[int(e)]++
	}
	fmt.Printf("rsqrt sweep: %d inputs in %.2f s; errors %v; base-table mismatches %d (normal %d, subnormal %d); rsqrtf(4x) != rsqrtf(x)/2: %d; reference fixups %d (base %d)\n",
		rep.Inputs, secs, rep.Errors, rep.TableMismatches, rep.NormalMismatch, rep.SubnormalMism, rep.QuadViolations, rep.Fixups, rep.BaseFixups)
	for _, sp := range specials {
		fmt.Printf("  rsqrtf(%#08x) = %#08x (correctly rounded %#08x)\n", sp.Input, sp.Device, sp.Correct)
	}
	if rawTable != "" {
		raw := make([]byte, len(errs))
		for i, e := range errs {
			raw[i] = byte(e)
		}
		if err := os.WriteFile(rawTable, raw, 0o644); err != nil {
			return err
		}
	}
	if table != "" {
		packed, err := cuda.PackRsqrtTable(errs)
		if err != nil {
			fmt.Println("table not written:", err)
		} else {
			sum := sha256.Sum256(packed)
			s.TableSHA256 = hex.EncodeToString(sum[:])
			if err := os.WriteFile(table, packed, 0o644); err != nil {
				return err
			}
			fmt.Printf("table: %s, %d bytes, sha256 %s\n", table, len(packed), s.TableSHA256)
		}
	}
	if summary != "" {
		b, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(summary, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
