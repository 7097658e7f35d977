package s3facade

import (
	"bytes"
	"fmt"

	"github.com/cofferdb/coffer/engine"
)

func (s *Server) serveMetrics(*request) (*response, error) {
	var b bytes.Buffer
	s.metrics.write(&b)
	writeEngineMetrics(&b, s.e.Stats())
	resp := &response{body: bytes.NewReader(b.Bytes()), size: int64(b.Len())}
	resp.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	return resp, nil
}

// writeEngineMetrics renders the engine's drive states and repair
// counters in the Prometheus text format.
func writeEngineMetrics(b *bytes.Buffer, st engine.Stats) {
	b.WriteString("# HELP coffer_drive_up Whether a drive is in use (1) or offline or refused (0), by drive and state.\n")
	b.WriteString("# TYPE coffer_drive_up gauge\n")
	for i, d := range st.Drives {
		up := 0
		if d.State == "online" || d.State == "new" {
			up = 1
		}
		fmt.Fprintf(b, "coffer_drive_up{drive=\"%d\",state=%q} %d\n", i, d.State, up)
	}
	counters := []struct {
		name, help string
		v          int64
	}{
		{"coffer_heal_requests_total", "Damaged shards reported by reads.", st.HealsQueued},
		{"coffer_shards_healed_total", "Shard files rewritten by heals and scrubs.", st.ShardsHealed},
		{"coffer_scrub_passes_total", "Completed scrub passes.", st.ScrubPasses},
		{"coffer_scrub_streams_total", "Stored streams verified by the scrubber.", st.ScrubStreams},
		{"coffer_scrub_damaged_total", "Streams the scrubber found damaged.", st.ScrubDamaged},
		{"coffer_unrecoverable_streams_total", "Streams found with more damage than parity covers.", st.Unrecoverable},
		{"coffer_drives_taken_offline_total", "Drives taken offline at run time after hanging or failing.", st.DrivesOffline},
	}
	for _, c := range counters {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
	gauges := []struct {
		name, help string
		v          int64
	}{
		{"coffer_index_replicas", "Index replicas the store keeps.", int64(st.IndexReplicas)},
		{"coffer_index_replicas_healthy", "Index replicas in use (a dropped one returns at the next start).", int64(st.IndexReplicasHealthy)},
		{"coffer_index_failed", "1 when no index replica is left and every request fails until a restart.", boolGauge(st.IndexFailed)},
		{"coffer_index_low_space", "1 when the index drives are full and new data is refused (507).", boolGauge(st.LowSpace)},
	}
	for _, g := range gauges {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", g.name, g.help, g.name, g.name, g.v)
	}
	if !st.LastScrub.IsZero() {
		b.WriteString("# HELP coffer_scrub_last_completed_seconds Unix time of the last completed scrub pass.\n# TYPE coffer_scrub_last_completed_seconds gauge\n")
		fmt.Fprintf(b, "coffer_scrub_last_completed_seconds %d\n", st.LastScrub.Unix())
	}
}

func boolGauge(v bool) int64 {
	if v {
		return 1
	}
	return 0
}
