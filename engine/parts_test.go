package engine

import (
	"bytes"
	"errors"
	"testing"
)

// TestObjectParts: a multipart object lists its parts by the numbers they
// were uploaded with, with sizes and checksums; a single-part object has
// none; an SSE-C object needs its key; a missing key is ErrObjectNotFound.
func TestObjectParts(t *testing.T) {
	e, _ := openMP(t)
	p1, p3 := payload(1, 64<<10), payload(3, 1001)
	id, err := createUpload(e, "mp", &MultipartOptions{ChecksumAlgorithm: "CRC32"})
	if err != nil {
		t.Fatal(err)
	}
	var done []CompletePart
	for _, p := range []struct {
		n    int
		data []byte
		sum  string
	}{{1, p1, "AAAAAQ=="}, {3, p3, "AAAAAw=="}} {
		pi, err := e.UploadPart(ctx, "bkt", "mp", id, p.n, bytes.NewReader(p.data), &PartOptions{Size: int64(len(p.data)), Checksum: p.sum})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, CompletePart{PartNumber: p.n, ETag: pi.ETag})
	}
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", id, done,
		&CompleteOptions{Checksum: Checksum{Algorithm: "CRC32", Value: "AAAAAA==-2"}}); err != nil {
		t.Fatal(err)
	}
	info, parts, err := e.ObjectParts(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ObjectPart{{1, int64(len(p1)), "AAAAAQ=="}, {3, int64(len(p3)), "AAAAAw=="}}
	if len(parts) != len(want) || parts[0] != want[0] || parts[1] != want[1] {
		t.Fatalf("parts %+v, want %+v", parts, want)
	}
	if info.PartsCount != 2 || info.Size != int64(len(p1)+len(p3)) || info.Checksum.Algorithm != "CRC32" {
		t.Fatalf("info %+v", info)
	}

	put(t, e, "bkt", "single", payload(4, 10))
	if info, parts, err := e.ObjectParts(ctx, "bkt", "single", nil); err != nil || parts != nil || info.Size != 10 {
		t.Fatalf("single: %+v %v %v", info, parts, err)
	}
	if _, _, err := e.ObjectParts(ctx, "bkt", "missing", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, _, err := e.ObjectParts(ctx, "nobucket", "k", nil); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
}

// TestObjectPartsSSEC: the SSE-C key is required and checked, as on HEAD.
func TestObjectPartsSSEC(t *testing.T) {
	e, _ := openSSE(t, newTestKMS())
	if _, err := e.PutObject(ctx, "bkt", "c", bytes.NewReader(payload(1, 100)), &PutOptions{SSE: &SSE{Type: SSEC, CustomerKey: customerKey(1)}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ck   []byte
		want error
	}{{nil, ErrSSECustomerKeyRequired}, {customerKey(2), ErrSSECustomerKeyMismatch}, {customerKey(1), nil}} {
		info, _, err := e.ObjectParts(ctx, "bkt", "c", &GetOptions{CustomerKey: c.ck})
		if !errors.Is(err, c.want) {
			t.Fatalf("key %x: %v, want %v", c.ck, err, c.want)
		}
		if err == nil && (info.SSE.Type != SSEC || info.Size != 100) {
			t.Fatalf("info %+v", info)
		}
	}
}
