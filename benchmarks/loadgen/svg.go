package loadgen

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
)

// SVG geometry.
const (
	svgW, svgH             = 900, 660
	plotL, plotR           = 80, 870
	tputTop, tputBottom    = 70, 300
	histTop, histBottom    = 380, 610
	svgFont                = `font-family="sans-serif" font-size="12"`
	svgAxis                = `stroke="#333" stroke-width="1"`
	svgGrid                = `stroke="#ddd" stroke-width="1"`
	svgLine                = `fill="none" stroke="#1f77b4" stroke-width="2"`
	svgBar                 = `fill="#ff7f0e"`
	svgMaxTimelineVertices = 4000
)

// svgWriter remembers the first write error.
type svgWriter struct {
	w   io.Writer
	err error
}

func (s *svgWriter) printf(format string, a ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, a...)
	}
}

func (s *svgWriter) text(x, y float64, anchor, t string) {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(t))
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, svgFont, b.String())
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// WriteSVG draws r as a standalone SVG image: throughput over time (MB/s,
// or operations/s for scenarios that move no bytes) above a log-scale
// latency histogram. It is written by hand and needs no fonts or scripts.
func WriteSVG(w io.Writer, r *Result) error {
	s := &svgWriter{w: w}
	s.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", svgW, svgH, svgW, svgH)
	s.printf(`<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	title := fmt.Sprintf("%s %s, %d clients, SSE %s: %.1f MB/s, %.1f objects/s, p50 %.2f ms, p99 %.2f ms, errors %d",
		r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE, r.MBps, r.ObjectsPerSec, r.Latency.P50, r.Latency.P99, r.Errors)
	s.text(svgW/2, 24, "middle", title)
	s.text(svgW/2, 42, "middle", r.Endpoint+" ("+string(r.Client)+" client)")

	// Throughput over time.
	useOps := r.Bytes == 0
	unit := "MB/s"
	if useOps {
		unit = "ops/s"
	}
	val := func(p Point) float64 {
		if useOps {
			return p.OpsPerSec
		}
		return p.MBps
	}
	tl := r.Timeline
	if len(tl) > svgMaxTimelineVertices {
		tl = tl[:svgMaxTimelineVertices]
	}
	var ymax, tmax float64
	for _, p := range tl {
		ymax = math.Max(ymax, val(p))
		tmax = math.Max(tmax, p.T)
	}
	ymax, tmax = niceMax(ymax), niceMax(tmax)
	s.text(plotL, tputTop-10, "start", "throughput over time ("+unit+")")
	axes(s, tputTop, tputBottom)
	for i := 0; i <= 4; i++ {
		y := tputBottom - float64(i)/4*(tputBottom-tputTop)
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" %s/>`+"\n", plotL, y, plotR, y, svgGrid)
		s.text(plotL-6, y+4, "end", trimFloat(ymax*float64(i)/4))
		x := plotL + float64(i)/4*(plotR-plotL)
		s.text(x, tputBottom+16, "middle", trimFloat(tmax*float64(i)/4)+" s")
	}
	if len(tl) > 0 {
		s.printf(`<polyline %s points="`, svgLine)
		s.printf("%.1f,%.1f ", float64(plotL), float64(tputBottom))
		for _, p := range tl {
			s.printf("%.1f,%.1f ", plotL+p.T/tmax*(plotR-plotL), tputBottom-val(p)/ymax*(tputBottom-tputTop))
		}
		s.printf(`"/>` + "\n")
	}

	// Latency histogram.
	s.text(plotL, histTop-10, "start", "latency histogram (ms, log scale; count of requests)")
	axes(s, histTop, histBottom)
	var cmax int64
	for _, b := range r.Histogram {
		cmax = max(cmax, b.Count)
	}
	cm := niceMax(float64(cmax))
	for i := 0; i <= 4; i++ {
		y := histBottom - float64(i)/4*(histBottom-histTop)
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" %s/>`+"\n", plotL, y, plotR, y, svgGrid)
		s.text(plotL-6, y+4, "end", trimFloat(cm*float64(i)/4))
	}
	if n := len(r.Histogram); n > 0 {
		bw := float64(plotR-plotL) / float64(n)
		for i, b := range r.Histogram {
			h := float64(b.Count) / cm * (histBottom - histTop)
			x := plotL + float64(i)*bw
			s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s/>`+"\n", x+1, histBottom-h, math.Max(bw-2, 1), h, svgBar)
			if n <= 16 || i%2 == 1 {
				s.text(x+bw, histBottom+16, "middle", trimFloat(b.UpperMs))
			}
		}
	}
	s.printf("</svg>\n")
	return s.err
}

func axes(s *svgWriter, top, bottom int) {
	s.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", plotL, bottom, plotR, bottom, svgAxis)
	s.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", plotL, top, plotL, bottom, svgAxis)
}

// trimFloat formats v with at most three significant decimals.
func trimFloat(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.3g", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
