package loadgen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cofferdb/coffer/benchmarks/loadgen"
	"github.com/cofferdb/coffer/benchmarks/loadgen/localserver"
)

// TestSmokeCoffer runs every scenario, and PUT and GET in every SSE mode,
// briefly against a real in-process Coffer server (4+2 over six temporary
// folders), with small objects. It asserts correctness (no errors, content
// verified), never speed.
func TestSmokeCoffer(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	srv, err := localserver.Start(localserver.Options{Dir: t.TempDir(), DataShards: 4, ParityShards: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	base := loadgen.Options{
		Endpoint: srv.URL, AccessKey: localserver.AccessKey, SecretKey: localserver.SecretKey, Region: localserver.Region,
		Bucket: "smoke", CreateBucket: true, Size: 4 << 10, Concurrency: 4, Seed: 1,
	}
	run := func(t *testing.T, o loadgen.Options) *loadgen.Result {
		t.Helper()
		res, err := loadgen.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Unsupported != "" || res.Errors != 0 || res.Keys == 0 {
			t.Fatalf("%s %s: unsupported %q, %d errors %v, %d objects", o.Scenario, o.SSE, res.Unsupported, res.Errors, res.ErrorSamples, res.Keys)
		}
		return res
	}
	t.Run("scenarios", func(t *testing.T) {
		for _, s := range loadgen.Scenarios {
			o := base
			o.Scenario, o.Duration, o.Objects = s, time.Second, 64
			if s == loadgen.Get || s == loadgen.Mixed {
				o.Size = 100 << 10 // past the inline threshold: shard files
			}
			res := run(t, o)
			t.Logf("%-6s %5d ops %8.1f MB/s %8.1f obj/s p50 %.2f ms p99 %.2f ms", s, res.Ops, res.MBps, res.ObjectsPerSec, res.Latency.P50, res.Latency.P99)
		}
	})
	t.Run("sse", func(t *testing.T) {
		for _, m := range loadgen.SSEModes {
			for _, s := range []loadgen.Scenario{loadgen.Put, loadgen.Get} {
				o := base
				o.Scenario, o.SSE, o.Count, o.Objects = s, m, 40, 8
				run(t, o)
			}
		}
	})
	t.Run("sdk", func(t *testing.T) {
		o := base
		o.Scenario, o.Client, o.Count, o.Objects, o.SSE = loadgen.Mixed, loadgen.ClientSDK, 40, 8, loadgen.SSEC
		run(t, o)
	})
	t.Run("compare", func(t *testing.T) {
		o := base
		o.Scenario, o.Count = loadgen.Put, 20
		c, err := loadgen.Compare(context.Background(), o, o, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Pairs) != 2 || c.MedianRatio <= 0 {
			t.Fatalf("%+v", c)
		}
	})
}

// TestDiskCeiling runs the raw disk stage briefly and leaves nothing behind.
func TestDiskCeiling(t *testing.T) {
	root := t.TempDir()
	var drives []string
	for i := range 6 {
		drives = append(drives, filepath.Join(root, fmt.Sprint(i)))
	}
	mbps, err := loadgen.DiskCeiling(context.Background(), loadgen.DiskCeilingOptions{Drives: drives, DataShards: 4, ParityShards: 2, Size: 256 << 10, Concurrency: 2, Count: 4})
	if err != nil || mbps <= 0 {
		t.Fatalf("DiskCeiling = %v, %v", mbps, err)
	}
	for _, d := range drives {
		if names, _ := os.ReadDir(d); len(names) != 0 {
			t.Fatalf("%s left behind %d entries", d, len(names))
		}
	}
	if _, err := loadgen.DiskCeiling(context.Background(), loadgen.DiskCeilingOptions{Drives: drives[:5], DataShards: 4, ParityShards: 2, Size: 1, Concurrency: 1, Count: 1}); err == nil {
		t.Fatal("4+2 over 5 drives accepted")
	}
}
