package loadgen

import (
	"bytes"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPercentileNearestRank checks the defining property on random data:
// at least p of the samples are ≤ the answer, and fewer than p are below it.
func TestPercentileNearestRank(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 500 {
		n := 1 + rng.IntN(3000)
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(rng.IntN(1000))
		}
		slices.Sort(d)
		for _, p := range []float64{0.5, 0.9, 0.99, 0.999, rng.Float64()} {
			if p == 0 {
				continue
			}
			got := Percentile(d, p)
			var le, lt int
			for _, x := range d {
				if x <= got {
					le++
				}
				if x < got {
					lt++
				}
			}
			if float64(le) < p*float64(n)-1e-9 || float64(lt) >= p*float64(n) {
				t.Fatalf("seed %d: n=%d p=%v: answer %v has %d ≤ and %d <", seed, n, p, got, le, lt)
			}
		}
	}
}

func TestPercentileEdges(t *testing.T) {
	if Percentile(nil, 0.5) != 0 {
		t.Fatal("empty")
	}
	d := []time.Duration{3}
	for _, p := range []float64{-1, 0.001, 0.5, 1, 2} {
		if Percentile(d, p) != 3 {
			t.Fatalf("single sample at p=%v", p)
		}
	}
	// 1..1000: the p-quantile by nearest rank is p·1000 exactly.
	d = make([]time.Duration, 1000)
	for i := range d {
		d[i] = time.Duration(i + 1)
	}
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		if got, want := Percentile(d, p), time.Duration(p*1000+0.5); got != want {
			t.Fatalf("p=%v: %v, want %v", p, got, want)
		}
	}
}

func TestHistogramCountsEverySample(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	d := make([]time.Duration, 5000)
	for i := range d {
		d[i] = time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
	}
	slices.Sort(d)
	h := histogram(d)
	var total int64
	prev := 0.0
	for _, b := range h {
		total += b.Count
		if b.UpperMs <= prev {
			t.Fatalf("seed %d: bucket bounds not increasing: %v", seed, h)
		}
		prev = b.UpperMs
	}
	if total != int64(len(d)) || ms(d[len(d)-1]) > h[len(h)-1].UpperMs*1.0001 {
		t.Fatalf("seed %d: %d of %d samples bucketed, top %v", seed, total, len(d), h[len(h)-1])
	}
}

// TestSVGIsValidXML parses the chart of a real-looking result and of an
// empty one, and checks it holds the line and one bar per bucket.
func TestSVGIsValidXML(t *testing.T) {
	d := []time.Duration{time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 40 * time.Millisecond}
	full := &Result{Scenario: Get, Size: 4096, Concurrency: 4, SSE: SSEC, Endpoint: `http://127.0.0.1:1/?a=<b>&c`, Bytes: 1 << 20, MBps: 12.5,
		Timeline: []Point{{T: 0.25, MBps: 10}, {T: 0.5, MBps: 15}, {T: 0.6, MBps: 12}}, Histogram: histogram(d)}
	for _, r := range []*Result{full, {Scenario: List}} {
		var b bytes.Buffer
		if err := WriteSVG(&b, r); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&b)
		counts := map[string]int{}
		var root string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("invalid XML: %v", err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				if root == "" {
					root = se.Name.Local
				}
				counts[se.Name.Local]++
			}
		}
		if root != "svg" {
			t.Fatalf("root %q", root)
		}
		wantLines := 0
		if len(r.Timeline) > 0 {
			wantLines = 1
		}
		if counts["polyline"] != wantLines || counts["rect"] != 1+len(r.Histogram) {
			t.Fatalf("elements %v for %d buckets", counts, len(r.Histogram))
		}
	}
}

func TestReportsRender(t *testing.T) {
	r := &Result{Scenario: Put, Size: 16 << 20, Concurrency: 4, SSE: SSES3, MBps: 123.4, ErrorSamples: []string{"boom"}}
	u := &Result{Scenario: Put, Size: 4096, SSE: SSEDSSE, Unsupported: "NotImplemented"}
	var b bytes.Buffer
	if err := WriteTable(&b, []*Result{r, u}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"16MiB", "123.4", "unsupported", "boom"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, b.String())
		}
	}
	c := &Comparison{Metric: "MB/s", Pairs: []Pair{{A: r, B: r, Ratio: 1}}, MedianRatio: 1}
	b.Reset()
	if err := WriteComparison(&b, c); err != nil || !strings.Contains(b.String(), "median B/A 1.000") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Fatalf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestReadRSS reads this process's resident memory, which cannot be zero.
func TestReadRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	n, err := readRSS(os.Getpid())
	if err != nil || n <= 0 {
		t.Fatalf("readRSS(self) = %d, %v", n, err)
	}
	s := startRSS(os.Getpid())
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	time.Sleep(3 * rssEvery)
	first, peak, err := s.finish()
	if err != nil || peak < first || first <= 0 {
		t.Fatalf("sampler: first %d peak %d err %v", first, peak, err)
	}
	_ = buf[len(buf)-4096]
}
