package s3facade

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the request latency
// histogram. Immutable.
var latencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics counts requests by API and status, bytes in and out, and
// latency per API. Safe for concurrent use; owned by one Server.
type metrics struct {
	start    time.Time
	received atomic.Uint64
	sent     atomic.Uint64

	mu   sync.Mutex
	reqs map[reqKey]*atomic.Uint64
	lat  map[string]*histogram
}

type reqKey struct {
	api    string
	status int
}

type histogram struct {
	counts [len(latencyBuckets) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{start: time.Now(), reqs: map[reqKey]*atomic.Uint64{}, lat: map[string]*histogram{}}
}

func (m *metrics) observe(api string, status int, in int64, d time.Duration) {
	m.received.Add(uint64(max(in, 0)))
	k := reqKey{api, status}
	m.mu.Lock()
	c := m.reqs[k]
	if c == nil {
		c = new(atomic.Uint64)
		m.reqs[k] = c
	}
	h := m.lat[api]
	if h == nil {
		h = new(histogram)
		m.lat[api] = h
	}
	m.mu.Unlock()
	c.Add(1)
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

// write renders the Prometheus text exposition format.
func (m *metrics) write(b *bytes.Buffer) {
	m.mu.Lock()
	keys := make([]reqKey, 0, len(m.reqs))
	for k := range m.reqs {
		keys = append(keys, k)
	}
	apis := make([]string, 0, len(m.lat))
	for a := range m.lat {
		apis = append(apis, a)
	}
	m.mu.Unlock()
	slices.SortFunc(keys, func(a, b reqKey) int {
		if a.api != b.api {
			if a.api < b.api {
				return -1
			}
			return 1
		}
		return a.status - b.status
	})
	slices.Sort(apis)

	b.WriteString("# HELP coffer_s3_requests_total S3 requests served, by API and HTTP status.\n")
	b.WriteString("# TYPE coffer_s3_requests_total counter\n")
	for _, k := range keys {
		m.mu.Lock()
		v := m.reqs[k].Load()
		m.mu.Unlock()
		fmt.Fprintf(b, "coffer_s3_requests_total{api=%q,code=\"%d\"} %d\n", k.api, k.status, v)
	}
	b.WriteString("# HELP coffer_s3_received_bytes_total Request body bytes received.\n")
	b.WriteString("# TYPE coffer_s3_received_bytes_total counter\n")
	fmt.Fprintf(b, "coffer_s3_received_bytes_total %d\n", m.received.Load())
	b.WriteString("# HELP coffer_s3_sent_bytes_total Object bytes sent in response bodies.\n")
	b.WriteString("# TYPE coffer_s3_sent_bytes_total counter\n")
	fmt.Fprintf(b, "coffer_s3_sent_bytes_total %d\n", m.sent.Load())
	b.WriteString("# HELP coffer_s3_request_duration_seconds Time to handle a request (to the first response byte for streamed bodies).\n")
	b.WriteString("# TYPE coffer_s3_request_duration_seconds histogram\n")
	for _, a := range apis {
		m.mu.Lock()
		h := m.lat[a]
		m.mu.Unlock()
		var cum uint64
		for i := range h.counts {
			cum += h.counts[i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			fmt.Fprintf(b, "coffer_s3_request_duration_seconds_bucket{api=%q,le=%q} %d\n", a, le, cum)
		}
		fmt.Fprintf(b, "coffer_s3_request_duration_seconds_sum{api=%q} %s\n", a,
			strconv.FormatFloat(float64(h.sumNs.Load())/1e9, 'g', -1, 64))
		fmt.Fprintf(b, "coffer_s3_request_duration_seconds_count{api=%q} %d\n", a, cum)
	}
	b.WriteString("# HELP coffer_uptime_seconds Seconds since the server started.\n")
	b.WriteString("# TYPE coffer_uptime_seconds gauge\n")
	fmt.Fprintf(b, "coffer_uptime_seconds %s\n", strconv.FormatFloat(math.Round(time.Since(m.start).Seconds()), 'f', 0, 64))
}
