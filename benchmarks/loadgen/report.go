package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes results as an aligned text table, one row per result.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsize\tconc\tsse\tops\tMB/s\tobj/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tttfb p50\tttfb p99\terrors\tmismatch\t")
	for _, r := range results {
		if r.Unsupported != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\tunsupported: %s\t\t\t\t\t\t\t\t\t\t\t\n", r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE, r.Unsupported)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t\n",
			r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE, r.Ops, r.MBps, r.ObjectsPerSec,
			r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.TTFB.P50, r.TTFB.P99, r.Errors, r.Mismatches)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.ServerPeakRSS > 0 {
			if _, err := fmt.Fprintf(w, "  %s %s c=%d %s: server RSS %.1f MiB at start, %.1f MiB peak\n", r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE,
				float64(r.ServerRSS)/(1<<20), float64(r.ServerPeakRSS)/(1<<20)); err != nil {
				return err
			}
		}
		for _, s := range r.ErrorSamples {
			if _, err := fmt.Fprintf(w, "  %s %s c=%d %s: %s\n", r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteJSON writes v (a Result, a slice of them or a Comparison) as
// indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
