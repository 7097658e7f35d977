package crypto_test

import (
	"errors"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

const C = crypto.ChunkSize

func TestSealedSizeBoundaries(t *testing.T) {
	for _, tc := range []struct{ plain, sealed int64 }{
		{0, 16},
		{1, 17},
		{C - 1, C - 1 + 16},
		{C, C + 16},
		{C + 1, C + 1 + 32},
		{2 * C, 2*C + 32},
		{3*C + 5, 3*C + 5 + 64},
		{crypto.MaxPlainSize, crypto.MaxPlainSize + crypto.MaxChunks*16},
	} {
		if got := crypto.SealedSize(tc.plain); got != tc.sealed {
			t.Errorf("SealedSize(%d) = %d, want %d", tc.plain, got, tc.sealed)
		}
		if got, err := crypto.PlainSize(tc.sealed); err != nil || got != tc.plain {
			t.Errorf("PlainSize(%d) = %d, %v, want %d", tc.sealed, got, err, tc.plain)
		}
	}
	for _, bad := range []int64{-1, crypto.MaxPlainSize + 1} {
		if got := crypto.SealedSize(bad); got != -1 {
			t.Errorf("SealedSize(%d) = %d, want -1", bad, got)
		}
	}
}

// TestPlainSizeIsExactInverse walks every sealed size over the first few
// chunks and checks PlainSize accepts exactly the sizes SealedSize yields.
func TestPlainSizeIsExactInverse(t *testing.T) {
	valid := make(map[int64]int64)
	for p := int64(0); p <= 3*C+1; p++ {
		valid[crypto.SealedSize(p)] = p
	}
	for s := int64(-1); s <= crypto.SealedSize(3*C+1)+20; s++ {
		p, err := crypto.PlainSize(s)
		want, ok := valid[s]
		switch {
		case ok && (err != nil || p != want):
			t.Fatalf("PlainSize(%d) = %d, %v, want %d", s, p, err, want)
		case !ok && s <= crypto.SealedSize(3*C+1) && !errors.Is(err, crypto.ErrSealedSize):
			t.Fatalf("PlainSize(%d) = %d, %v, want ErrSealedSize", s, p, err)
		}
	}
	if _, err := crypto.PlainSize(crypto.SealedSize(crypto.MaxPlainSize) + 17); !errors.Is(err, crypto.ErrSealedSize) {
		t.Fatalf("PlainSize beyond the maximum: %v", err)
	}
}

// TestMapRangeCoversExactly checks, for every range over small streams,
// that the mapped sealed range is whole chunks, covers the wanted bytes and
// nothing more than needed.
func TestMapRangeCoversExactly(t *testing.T) {
	sizes := []int64{0, 1, C - 1, C, C + 1, 2*C - 1, 2 * C, 2*C + 1, 3*C + 7}
	offs := func(p int64) []int64 {
		s := []int64{0, 1, C - 1, C, C + 1, 2*C - 1, 2 * C, 2*C + 1, p - 1, p}
		var out []int64
		for _, o := range s {
			if o >= 0 && o <= p {
				out = append(out, o)
			}
		}
		return out
	}
	for _, p := range sizes {
		for _, off := range offs(p) {
			for _, end := range offs(p) {
				if end < off {
					continue
				}
				n := end - off
				r, err := crypto.MapRange(p, off, n)
				if err != nil {
					t.Fatalf("MapRange(%d,%d,%d): %v", p, off, n, err)
				}
				first := r.SealedOffset / crypto.SealedChunkSize
				if r.SealedOffset%crypto.SealedChunkSize != 0 || first != r.FirstChunk {
					t.Fatalf("MapRange(%d,%d,%d): sealed offset %d is not chunk %d", p, off, n, r.SealedOffset, r.FirstChunk)
				}
				if r.FirstChunk*C+r.Skip != off || r.Skip < 0 || r.Skip > C {
					t.Fatalf("MapRange(%d,%d,%d): first %d skip %d", p, off, n, r.FirstChunk, r.Skip)
				}
				endSealed := r.SealedOffset + r.SealedLength
				if endSealed > crypto.SealedSize(p) {
					t.Fatalf("MapRange(%d,%d,%d) reads past the stream", p, off, n)
				}
				// Whole chunks: the end is a chunk boundary or the stream end.
				if endSealed != crypto.SealedSize(p) && endSealed%crypto.SealedChunkSize != 0 {
					t.Fatalf("MapRange(%d,%d,%d) ends mid-chunk at %d", p, off, n, endSealed)
				}
				chunks := (r.SealedLength + crypto.SealedChunkSize - 1) / crypto.SealedChunkSize
				wantChunks := int64(1)
				if n > 0 {
					wantChunks = (off+n-1)/C - off/C + 1
				}
				if chunks != wantChunks {
					t.Fatalf("MapRange(%d,%d,%d) reads %d chunks, want %d", p, off, n, chunks, wantChunks)
				}
			}
		}
	}
}

func TestMapRangeRejects(t *testing.T) {
	for _, tc := range [][3]int64{
		{-1, 0, 0}, {10, -1, 1}, {10, 0, -1}, {10, 11, 0}, {10, 5, 6},
		{crypto.MaxPlainSize + 1, 0, 0}, {10, 1, 1<<63 - 1},
	} {
		if _, err := crypto.MapRange(tc[0], tc[1], tc[2]); !errors.Is(err, crypto.ErrRange) {
			t.Errorf("MapRange%v = %v, want ErrRange", tc, err)
		}
	}
}

func TestNewDecryptReaderRejectsForgedRange(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	rg, err := crypto.MapRange(3*C, C+5, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*crypto.Range){
		func(x *crypto.Range) { x.FirstChunk = 0 },
		func(x *crypto.Range) { x.Skip = 0 },
		func(x *crypto.Range) { x.SealedLength += 1 },
		func(x *crypto.Range) { x.SealedOffset = 0 },
		func(x *crypto.Range) { x.Length = -1 },
	} {
		bad := rg
		mut(&bad)
		if _, err := crypto.NewDecryptReader(nil, key, crypto.Identity{}, bad); !errors.Is(err, crypto.ErrRange) {
			t.Errorf("forged range %+v accepted: %v", bad, err)
		}
	}
}
