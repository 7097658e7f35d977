package engine

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkCompleteMultipart1000 times CompleteMultipartUpload of an
// upload of 1,000 parts (the parts are uploaded outside the timer; the
// 5 MiB part minimum is lowered so the benchmark writes 1,000 small
// parts instead of 5 GB). Complete copies no data, so its cost is the
// index commit and the manifest stream, not the part sizes.
func BenchmarkCompleteMultipart1000(b *testing.B) {
	e, _ := open42(b)
	e.minPartSize = 1
	mustBucket(b, e, "bkt")
	data := payload(1, 2048)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		key := fmt.Sprint("k", i)
		up, err := e.CreateMultipartUpload(ctx, "bkt", key, &MultipartOptions{SSE: &SSE{Type: SSENone}})
		if err != nil {
			b.Fatal(err)
		}
		parts := make([]CompletePart, 1000)
		for n := range parts {
			info, err := e.UploadPart(ctx, "bkt", key, up.UploadID, n+1, bytes.NewReader(data), nil)
			if err != nil {
				b.Fatal(err)
			}
			parts[n] = CompletePart{PartNumber: n + 1, ETag: info.ETag}
		}
		b.StartTimer()
		if _, err := e.CompleteMultipartUpload(ctx, "bkt", key, up.UploadID, parts, nil); err != nil {
			b.Fatal(err)
		}
	}
}
