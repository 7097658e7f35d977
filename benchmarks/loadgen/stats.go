package loadgen

import (
	"math"
	"slices"
	"time"
)

// timelineStep is the resolution of Result.Timeline.
const timelineStep = 250 * time.Millisecond

// maxTimeline bounds the timeline (MaxDuration at timelineStep).
const maxTimeline = int(MaxDuration/timelineStep) + 1

// recorder holds one worker's samples; only its worker touches it until
// the run merges them.
type recorder struct {
	lat, ttfb []time.Duration
	bytes     []int64 // per timeline step, by completion time
	keys      []int64
	ops       []int64
	last      time.Duration // completion of the last successful op
}

// add records one successful op that ended at (since the start), took
// lat, saw its first byte after ttfb and moved n bytes of k objects.
func (r *recorder) add(at, lat, ttfb time.Duration, n, k int64) {
	r.lat = append(r.lat, lat)
	r.ttfb = append(r.ttfb, ttfb)
	i := min(int(at/timelineStep), maxTimeline-1)
	for len(r.bytes) <= i {
		r.bytes = append(r.bytes, 0)
		r.keys = append(r.keys, 0)
		r.ops = append(r.ops, 0)
	}
	r.bytes[i] += n
	r.keys[i] += k
	r.ops[i]++
	r.last = max(r.last, at)
}

// Percentile returns the p-quantile (0 < p ≤ 1) of sorted by the
// nearest-rank method: the smallest sample such that at least p of all
// samples are at or below it. It returns 0 for no samples; p outside (0,1]
// is clamped.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if !(p > 0) {
		return sorted[0]
	}
	if p >= 1 {
		return sorted[n-1]
	}
	// The rank is ceil(p·n), computed with a little slack so that p·n
	// landing a rounding error above an integer does not skip a rank.
	rank := int(math.Ceil(p*float64(n) - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}

// Latency summarises a set of durations, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Mean float64 `json:"mean_ms"`
	Max  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize sorts d in place and summarises it.
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latency{
		P50: ms(Percentile(d, 0.50)), P90: ms(Percentile(d, 0.90)), P99: ms(Percentile(d, 0.99)),
		P999: ms(Percentile(d, 0.999)), Mean: ms(sum / time.Duration(len(d))), Max: ms(d[len(d)-1]),
	}
}

// Bucket is one bar of a latency histogram: Count samples in
// (previous UpperMs, UpperMs].
type Bucket struct {
	UpperMs float64 `json:"upper_ms"`
	Count   int64   `json:"count"`
}

// histogram buckets sorted durations on a log scale, four buckets per
// power of ten, from the smallest to the largest sample.
func histogram(sorted []time.Duration) []Bucket {
	if len(sorted) == 0 {
		return nil
	}
	const perDecade = 4
	lo := math.Floor(math.Log10(math.Max(ms(sorted[0]), 1e-3)) * perDecade)
	hi := math.Ceil(math.Log10(math.Max(ms(sorted[len(sorted)-1]), 1e-3)) * perDecade)
	if hi <= lo {
		hi = lo + 1
	}
	out := make([]Bucket, 0, int(hi-lo))
	j := 0
	for e := lo + 1; e <= hi; e++ {
		upper := math.Pow(10, e/perDecade)
		b := Bucket{UpperMs: upper}
		for j < len(sorted) && ms(sorted[j]) <= upper {
			b.Count++
			j++
		}
		out = append(out, b)
	}
	if j < len(sorted) { // rounding at the top edge
		out[len(out)-1].Count += int64(len(sorted) - j)
	}
	return out
}

// Point is one step of the throughput timeline.
type Point struct {
	T         float64 `json:"t_s"` // end of the step, seconds since the start
	MBps      float64 `json:"mb_per_s"`
	OpsPerSec float64 `json:"ops_per_s"`
}
