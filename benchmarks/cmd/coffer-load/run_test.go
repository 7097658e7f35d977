package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunLocal drives the command end to end against an in-process
// server: a table, JSON and a chart come out, and bad flags fail.
func TestRunLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	svg := filepath.Join(dir, "chart.svg")
	var out, errb bytes.Buffer
	args := []string{"-local", "6", "-local-nosync", "-local-dir", dir, "-scenario", "put,get", "-size", "4KiB", "-concurrency", "2", "-count", "50", "-json", "-svg", svg, "-sse", "AES256"}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var res []struct {
		Scenario string `json:"scenario"`
		Objects  int64  `json:"objects"`
		Errors   int64  `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) != 2 || res[0].Objects != 50 || res[1].Objects != 50 || res[0].Errors+res[1].Errors != 0 {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, n := range []string{"chart-1.svg", "chart-2.svg"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if err := run(context.Background(), []string{"-local", "3", "-size", "lots"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "size") {
		t.Fatalf("bad size accepted: %v", err)
	}
	if err := run(context.Background(), []string{"-endpoint", "http://127.0.0.1:1", "-bucket", "b"}, &out, &errb); err == nil {
		t.Fatal("missing credentials accepted")
	}
}
