package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestStoreLayoutAndMissingDrives serves six drives with --parity 2 (the
// default for six is 3), then runs the maintenance commands without
// --parity: they use the store's recorded 4+2 and create no fourth index
// replica; a contradicting --parity is an error. A drive folder removed
// while the server is stopped is not recreated by serve or the commands: it
// is reported offline and the store serves from the others. A missing
// first drive, which holds the keyring, stops serve before anything is
// written.
func TestStoreLayoutAndMissingDrives(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	t.Setenv("COFFER_KMS_ROOT_KEY", "test:"+strings.Repeat("A", 43)+"=")
	t.Setenv("COFFER_KMS_ROOT_KEY_FILE", "")
	root := t.TempDir()
	var drives []string
	for i := range 6 {
		drives = append(drives, filepath.Join(root, fmt.Sprintf("d%d", i)))
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("layout "), 100000)
	putGet := func(r *running, key string) {
		t.Helper()
		c := client(r.addr, "rootuser", "rootpassword123")
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get %s: %d bytes, %v", key, len(got), err)
		}
	}
	cmd := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, args, &out, &errb)
		return out.String() + errb.String(), err
	}
	indexReplicas := func() (n int, on []int) {
		for i, d := range drives {
			if _, err := os.Stat(filepath.Join(d, "index")); err == nil {
				n++
				on = append(on, i)
			}
		}
		return n, on
	}

	r := start(t, append([]string{"--parity", "2"}, drives...)...)
	if _, err := client(r.addr, "rootuser", "rootpassword123").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	putGet(r, "first")
	r.stop(t)
	if n, on := indexReplicas(); n != 3 {
		t.Fatalf("served with --parity 2: index replicas on drives %v, want 3", on)
	}

	if out, err := cmd(append([]string{"fsck"}, drives...)...); err != nil || !strings.Contains(out, "\nok\n") {
		t.Fatalf("fsck without --parity: %v\n%s", err, out)
	}
	if n, on := indexReplicas(); n != 3 {
		t.Fatalf("fsck without --parity changed the index replicas: drives %v", on)
	}
	if out, err := cmd(append([]string{"heal"}, drives...)...); err != nil {
		t.Fatalf("heal without --parity: %v\n%s", err, out)
	}
	if out, err := cmd(append([]string{"admin", "status"}, drives...)...); err != nil || !strings.Contains(out, "layout 4+2 block 1048576 index replicas 3 (3 in use)\n") {
		t.Fatalf("admin status without --parity: %v\n%s", err, out)
	}
	out, err := cmd(append([]string{"fsck", "--parity", "3"}, drives...)...)
	if err == nil || !strings.Contains(err.Error(), "4 data + 2 parity") || !strings.Contains(err.Error(), "leave out --parity") {
		t.Fatalf("fsck --parity 3 on a 4+2 store: %v\n%s", err, out)
	}
	if n, on := indexReplicas(); n != 3 {
		t.Fatalf("a refused fsck changed the index replicas: drives %v", on)
	}

	// Drive 4 is not there at the next start (an unmounted disk whose
	// mount point is gone): serve does not create it and runs on five.
	if err := os.Rename(drives[4], drives[4]+".away"); err != nil {
		t.Fatal(err)
	}
	r = start(t, drives...)
	putGet(r, "second")
	if _, err := os.Stat(drives[4]); !os.IsNotExist(err) {
		t.Fatalf("serve created the missing drive folder: %v", err)
	}
	r.stop(t)
	out, err = cmd(append([]string{"admin", "status"}, drives...)...)
	if err != nil || !strings.Contains(out, "drive 4 "+drives[4]+" offline (") || !strings.Contains(out, "drive 3 "+drives[3]+" online") {
		t.Fatalf("admin status with drive 4 missing: %v\n%s", err, out)
	}
	// Both objects miss their shard on drive 4: degraded, recoverable.
	if out, err := cmd(append([]string{"fsck"}, drives...)...); err == nil || !strings.Contains(out, "damaged 2\n") || !strings.Contains(out, "unrecoverable 0\n") {
		t.Fatalf("fsck with drive 4 missing: %v\n%s", err, out)
	}
	if _, err := os.Stat(drives[4]); !os.IsNotExist(err) {
		t.Fatalf("a maintenance command created the missing drive folder: %v", err)
	}

	// The first drive missing: it holds the built-in keyring, so serve
	// and the commands refuse to start instead of creating a new one.
	if err := os.Rename(drives[4]+".away", drives[4]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(drives[0], drives[0]+".away"); err != nil {
		t.Fatal(err)
	}
	err = serve(ctx, append([]string{"--address", "127.0.0.1:0"}, drives...), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "first drive") {
		t.Fatalf("serve with the first drive missing: %v", err)
	}
	if out, err := cmd(append([]string{"admin", "status"}, drives...)...); err == nil || !strings.Contains(err.Error(), "first drive") {
		t.Fatalf("admin status with the first drive missing: %v\n%s", err, out)
	}
	if _, err := os.Stat(drives[0]); !os.IsNotExist(err) {
		t.Fatalf("the missing first drive was created: %v", err)
	}
	if err := os.Rename(drives[0]+".away", drives[0]); err != nil {
		t.Fatal(err)
	}
	// All back: the store serves "first" and "second" with every drive.
	r = start(t, drives...)
	c := client(r.addr, "rootuser", "rootpassword123")
	for _, k := range []string{"first", "second"} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s with every drive back: %v", k, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("get %s with every drive back: wrong bytes", k)
		}
	}
}
