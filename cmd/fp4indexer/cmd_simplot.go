package main

// The plots of fp4indexer sim. They live in the command, not in package
// indexer, so that the models never import gonum/plot.

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fp4indexer/fp4indexer/indexer"
)

var (
	colorFP8 = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorFP4 = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// writeSimPlot draws two panels into one PNG: top-k recall against context
// length (FP8 and FP4), and the histogram of the logit errors relative to the
// row's RMS reference logit (FP8 and FP4, log count scale).
func writeSimPlot(path string, r *indexer.SimReport) error {
	recall, err := recallPlot(r)
	if err != nil {
		return err
	}
	hist, err := errorPlot(r)
	if err != nil {
		return err
	}
	img := vgimg.New(vg.Points(1100), vg.Points(460))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(24), PadY: vg.Points(12),
		PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(14)}
	canvases := plot.Align([][]*plot.Plot{{recall, hist}}, tiles, dc)
	recall.Draw(canvases[0][0])
	hist.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pow2Ticks labels a log axis at powers of two with plain integers.
type pow2Ticks struct{}

func (pow2Ticks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for e := math.Floor(math.Log2(lo)); math.Pow(2, e) <= hi*1.0001; e++ {
		v := math.Pow(2, e)
		if v < lo*0.9999 {
			continue
		}
		t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return t
}

func recallPlot(r *indexer.SimReport) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("top-%d recall vs float64 reference (%s, %d heads)", r.Setup.TopK, r.Setup.Model, r.Setup.Heads)
	p.X.Label.Text = "context (compressed keys)"
	p.Y.Label.Text = "recall |top-k ∩ top-k_ref| / k"
	p.Legend.Top = false
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	var fp8, fp4 plotter.XYs
	for _, c := range r.Curve {
		x := float64(c.Keys)
		if !finite(c.RecallFP8) || !finite(c.RecallFP4) {
			continue
		}
		fp8 = append(fp8, plotter.XY{X: x, Y: float64(c.RecallFP8)})
		fp4 = append(fp4, plotter.XY{X: x, Y: float64(c.RecallFP4)})
	}
	if len(fp8) == 0 {
		return nil, fmt.Errorf("plot: no recall points")
	}
	lo, hi := 1.0, 0.0
	for i := range fp8 {
		lo = min(lo, fp8[i].Y, fp4[i].Y)
		hi = max(hi, fp8[i].Y, fp4[i].Y)
	}
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		c    color.Color
		sh   draw.GlyphDrawer
	}{{"FP8", fp8, colorFP8, draw.CircleGlyph{}}, {"FP4", fp4, colorFP4, draw.TriangleGlyph{}}} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		pts.Color, pts.Shape, pts.Radius = s.c, s.sh, vg.Points(3)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	if fp8[0].X != fp8[len(fp8)-1].X {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = pow2Ticks{}
		p.X.Min, p.X.Max = fp8[0].X/1.1, fp8[len(fp8)-1].X*1.1
	}
	pad := max(0.01, (hi-lo)*0.1)
	p.Y.Min, p.Y.Max = max(0, lo-pad), min(1, hi+pad)
	if p.Y.Max <= p.Y.Min {
		p.Y.Min, p.Y.Max = p.Y.Max-0.02, p.Y.Max+0.01
	}
	return p, nil
}

func errorPlot(r *indexer.SimReport) (*plot.Plot, error) {
	h := r.Histogram
	p := plot.New()
	p.Title.Text = fmt.Sprintf("logit error of the %d decode steps", r.Setup.Steps)
	p.X.Label.Text = "(logit − ref) / rms(ref logits of the step)"
	p.Y.Label.Text = "keys per bin"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	if h.Bins == 0 || h.Range <= 0 {
		return nil, fmt.Errorf("plot: empty error histogram")
	}
	width := 2 * h.Range / float64(h.Bins)
	for _, s := range []struct {
		name   string
		counts []int64
		c      color.Color
	}{{"FP8", h.FP8, colorFP8}, {"FP4", h.FP4, colorFP4}} {
		var xys plotter.XYs
		nonzero := false
		for i, n := range s.counts {
			y := float64(n)
			if n == 0 {
				y = emptyBin // a log axis has no zero: drawn below the axis, clipped
			}
			nonzero = nonzero || n > 0
			xys = append(xys, plotter.XY{X: -h.Range + (float64(i)+0.5)*width, Y: y})
		}
		if !nonzero {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		l.StepStyle = plotter.MidStep
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = -h.Range, h.Range
	p.Y.Min = 0.8
	return p, nil
}

// emptyBin is where an empty histogram bin is drawn on the log count axis,
// below its minimum of 0.8.
const emptyBin = 0.1

func finite(v indexer.Num) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}
