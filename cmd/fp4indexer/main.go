// Command fp4indexer generates golden vectors for the DeepSeek V4 FP4 indexer
// kernels of SGLang PR #26209, verifies a kernel's output against them, runs
// exhaustive sweeps, simulates the indexer end to end and, on a machine with an
// NVIDIA GPU, checks the project's CUDA kernels byte for byte against the models.
//
// Exit status: 0 on success, 1 when the work failed (a mismatch, an I/O error),
// 2 for a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// usageError marks an error the user can fix by changing the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// command is one subcommand: it parses its own flags from args and writes its
// report to stdout.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"golden":  {"write golden vectors (inputs and exact expected outputs)", runGolden},
		"run":     {"compute expected outputs for your own inputs", runRun},
		"verify":  {"compare a kernel's output with the expected bytes", runVerify},
		"layout":  {"show where a token lives in the paged cache; dump a page", runLayout},
		"sweep":   {"exhaustive sweeps of the number formats against oracles", runSweep},
		"sim":     {"simulate the indexer: FP8 and FP4 top-k against a float64 reference", runSim},
		"conform": {"run the CUDA kernels on a GPU and compare every byte", runConform},
	}
}

func main() {
	os.Exit(mainRun(os.Args[1:], os.Stdout, os.Stderr))
}

func mainRun(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fp4indexer: unknown command %q (run fp4indexer help)\n", args[0])
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case isUsage(err):
		fmt.Fprintf(stderr, "fp4indexer %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "fp4indexer %s: %v\n", args[0], err)
		return 1
	}
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: fp4indexer COMMAND [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run fp4indexer COMMAND -h for a command's flags.")
}

// newFlagSet returns a flag set whose parse errors become usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fp4indexer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and turns a flag error into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}
