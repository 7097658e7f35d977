package s3facade

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// BenchmarkChunkedDecoder measures verifying a signed aws-chunked body
// (64 KiB chunks, signed trailer): per-chunk work must not allocate.
func BenchmarkChunkedDecoder(b *testing.B) {
	body := randBytes(1, 16<<20)
	key := sigv4.DeriveKey(testSecret, sigv4.Scope{Date: "20260102", Region: "us-east-1", Service: "s3"})
	seed := string(bytes.Repeat([]byte("a"), 64))
	enc := bytes.Join(encodeChunks(body, 64<<10, true, true, key[:], seed, "20260102T030405Z", "20260102/us-east-1/s3/aws4_request"), nil)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c := newChunkedReader(bytes.NewReader(enc), newChunkSigner(key, "20260102T030405Z", "20260102/us-east-1/s3/aws4_request", seed),
			[]string{"x-amz-checksum-crc32"}, int64(len(body)))
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, buf); err != nil {
			b.Fatal(err)
		}
		c.release()
	}
}

// BenchmarkHTTP measures PUT and GET through HTTP on loopback (one
// client, UNSIGNED-PAYLOAD, engine without fsync, 3 drives).
func BenchmarkHTTP(b *testing.B) {
	ts := startServer(b)
	if err := ts.e.CreateBucket(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	client := ts.httpClient()
	for _, size := range []int{4 << 10, 16 << 20} {
		data := randBytes(uint64(size), size)
		b.Run(fmt.Sprintf("PUT/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				s := ts.build(b, rawReq{method: "PUT", path: fmt.Sprintf("/bench/o%d", size), body: data, kind: authHeaderUnsigned, when: time.Now()})
				s.req.Body = io.NopCloser(bytes.NewReader(data))
				resp, err := client.Do(s.req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(err, resp)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.Run(fmt.Sprintf("GET/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				s := ts.build(b, rawReq{method: "GET", path: fmt.Sprintf("/bench/o%d", size), kind: authHeaderUnsigned})
				resp, err := client.Do(s.req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(err, resp)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	_ = http.MethodGet
}
