package loadgen

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// MaxRounds bounds a comparison.
const MaxRounds = 100

// Pair is one round of a comparison: A then B, and B's metric over A's.
type Pair struct {
	A     *Result `json:"a"`
	B     *Result `json:"b"`
	Ratio float64 `json:"ratio_b_over_a"` // 0 when either side measured nothing
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Metric      string  `json:"metric"` // "MB/s" or "objects/s"
	Pairs       []Pair  `json:"pairs"`
	MedianRatio float64 `json:"median_ratio_b_over_a"` // over the pairs with a ratio
}

// Compare runs the same scenario against two endpoints in rounds,
// alternating A then B in each, so that a noisy machine affects both
// sides alike; each round prints its ratio to progress (may be nil) as it
// finishes. a and b are complete Options (usually equal but for endpoint
// and credentials); each side runs with its own Options per round, with a
// fresh key prefix. It returns the first error of a run.
func Compare(ctx context.Context, a, b Options, rounds int, progress io.Writer) (*Comparison, error) {
	if rounds < 1 || rounds > MaxRounds {
		return nil, fmt.Errorf("%w: rounds %d outside 1..%d", ErrInvalidOptions, rounds, MaxRounds)
	}
	c := &Comparison{}
	var ratios []float64
	for i := range rounds {
		ra, err := Run(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("round %d, A: %w", i+1, err)
		}
		rb, err := Run(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("round %d, B: %w", i+1, err)
		}
		va, unit := ra.Metric()
		vb, _ := rb.Metric()
		c.Metric = unit
		p := Pair{A: ra, B: rb}
		if va > 0 && vb > 0 {
			p.Ratio = vb / va
			ratios = append(ratios, p.Ratio)
		}
		c.Pairs = append(c.Pairs, p)
		if progress != nil {
			fmt.Fprintf(progress, "round %d: A %.1f %s (errors %d)  B %.1f %s (errors %d)  B/A %.3f\n",
				i+1, va, unit, ra.Errors, vb, unit, rb.Errors, p.Ratio)
		}
	}
	c.MedianRatio = median(ratios)
	return c, nil
}

// median returns the median of v (the mean of the middle two for an even
// count), or 0 for none. It does not modify v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteComparison writes c as a table, one line per round, and the median.
func WriteComparison(w io.Writer, c *Comparison) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	if len(c.Pairs) > 0 {
		r := c.Pairs[0].A
		p("%s %s, %d clients, SSE %s; A = %s, B = %s\n", r.Scenario, FormatSize(r.Size), r.Concurrency, r.SSE, r.Endpoint, c.Pairs[0].B.Endpoint)
	}
	p("%-6s %14s %14s %8s %10s %10s\n", "round", "A "+c.Metric, "B "+c.Metric, "B/A", "A p99 ms", "B p99 ms")
	for i, pr := range c.Pairs {
		va, _ := pr.A.Metric()
		vb, _ := pr.B.Metric()
		p("%-6d %14.1f %14.1f %8.3f %10.2f %10.2f\n", i+1, va, vb, pr.Ratio, pr.A.Latency.P99, pr.B.Latency.P99)
	}
	p("median B/A %.3f over %d rounds\n", c.MedianRatio, len(c.Pairs))
	return err
}
