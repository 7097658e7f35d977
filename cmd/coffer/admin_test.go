package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cofferdb/coffer/engine"
)

// TestMaintenanceCommands damages a stopped store, then runs admin status,
// fsck, heal and repair --rebuild-index on it.
func TestMaintenanceCommands(t *testing.T) {
	root := t.TempDir()
	var drives []string
	for i := range 3 {
		drives = append(drives, filepath.Join(root, "d"+string(rune('0'+i))))
	}
	t.Setenv("COFFER_KMS_ROOT_KEY", "test:"+strings.Repeat("A", 43)+"=")
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errb.String())
		}
		return out.String()
	}
	// Write an object through the engine with the same key manager serve uses.
	var kc kmsConfig
	kc.backend = "builtin"
	km, closeKM, err := openKeyManager(&kc, drives[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open("", &engine.Options{Drives: drives, KeyManager: km})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.CreateBucket(ctx, "bkt")
	data := bytes.Repeat([]byte("coffer "), 300000)
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	e.Close()
	closeKM()

	if out := runOK("admin", "status", drives[0], drives[1], drives[2]); !strings.Contains(out, "buckets 1 bkt") || strings.Count(out, " online") != 3 {
		t.Fatalf("status:\n%s", out)
	}
	if out := runOK("fsck", drives[0], drives[1], drives[2]); !strings.Contains(out, "\nok\n") {
		t.Fatalf("fsck of a healthy store:\n%s", out)
	}
	// Lose one drive's shards: fsck reports, heal repairs, fsck is clean.
	os.RemoveAll(filepath.Join(drives[1], "shards"))
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"fsck", drives[0], drives[1], drives[2]}, &out, &errb); err == nil || !strings.Contains(out.String(), "damaged 1") {
		t.Fatalf("fsck of a damaged store: %v\n%s", err, out.String())
	}
	if out := runOK("heal", "--bucket", "bkt", drives[0], drives[1], drives[2]); !strings.Contains(out, "shards healed 1") {
		t.Fatalf("heal:\n%s", out)
	}
	runOK("fsck", drives[0], drives[1], drives[2])
	// Lose the index: repair --rebuild-index (Open rebuilds by itself when
	// every replica is gone; the command restores what is missing).
	for _, d := range drives {
		os.RemoveAll(filepath.Join(d, "index"))
	}
	runOK("repair", "--rebuild-index", drives[0], drives[1], drives[2])
	if out := runOK("fsck", drives[0], drives[1], drives[2]); !strings.Contains(out, "objects 1\n") {
		t.Fatalf("after rebuild:\n%s", out)
	}
}
