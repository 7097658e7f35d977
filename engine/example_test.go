package engine_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// Example shows embedding Coffer in a Go program: one drive, defaults.
func Example() {
	dir, _ := os.MkdirTemp("", "coffer-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	e, err := engine.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	if err := e.CreateBucket(ctx, "notes"); err != nil {
		log.Fatal(err)
	}
	body := "hello, coffer"
	info, err := e.PutObject(ctx, "notes", "greeting.txt", strings.NewReader(body),
		&engine.PutOptions{Size: int64(len(body)), Headers: engine.Headers{ContentType: "text/plain"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("etag", info.ETag)

	obj, err := e.GetObject(ctx, "notes", "greeting.txt", &engine.GetOptions{Range: engine.ByteRange(7, 12)})
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	part, _ := io.ReadAll(obj)
	fmt.Printf("%s (%s)\n", part, obj.Info.ContentType)
	// Output:
	// etag e004d78759beafab89b22b60c62641ad
	// coffer (text/plain)
}

// Example_drives shows a store erasure-coded over six drives: four data
// and two parity shards, so any two drives may fail.
func Example_drives() {
	root, _ := os.MkdirTemp("", "coffer-drives")
	defer os.RemoveAll(root)
	var drives []string
	for i := range 6 {
		drives = append(drives, filepath.Join(root, fmt.Sprintf("disk%d", i)))
	}
	e, err := engine.Open("", &engine.Options{Drives: drives}) // 6 drives: 3 data + 3 parity by default
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	e.CreateBucket(ctx, "photos")
	_, err = e.PutObject(ctx, "photos", "a.jpg", strings.NewReader(strings.Repeat("x", 1<<20)), nil)
	fmt.Println(err)

	res, _ := e.ListObjects(ctx, "photos", engine.ListOptions{})
	fmt.Println(len(res.Objects), res.Objects[0].Key, res.Objects[0].Size)
	// Output:
	// <nil>
	// 1 a.jpg 1048576
}
