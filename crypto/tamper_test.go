package crypto_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

const SC = crypto.SealedChunkSize

// tamperCase is a stored stream (possibly tampered) and what a reader,
// told the stream's plaintext size is size, must report.
type tamperCase struct {
	name   string
	stored []byte
	size   int64 // plaintext size the reader is told (the index's view)
	key    *crypto.Key
	id     crypto.Identity
	bad    int64 // first chunk that must fail
	want   error // crypto.ErrAuth or crypto.ErrTruncated
}

func chunkOf(s []byte, i int) []byte {
	end := min((i+1)*SC, len(s))
	return s[i*SC : end]
}

func flip(s []byte, at int) []byte {
	out := slices.Clone(s)
	out[at] ^= 0x10
	return out
}

func joinChunks(chunks ...[]byte) []byte { return bytes.Join(chunks, nil) }

// TestTampering runs every tampering case of reliability-security test 20
// through every read mode and several ranges. Each must fail at the right
// chunk with the right sentinel, release exactly the authentic bytes before
// that chunk, and leave no byte of the failing chunk in caller memory.
func TestTampering(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 0)
	const size = 4*C + 100 // chunks 0..3 full, chunk 4 final
	plain := randBytes(r, size)
	s := sealStream(t, key, id, plain)
	c := func(i int) []byte { return chunkOf(s, i) }

	// Another object, and another part of a multipart upload.
	otherKey := randKey(t, r)
	other := sealStream(t, otherKey, randID(r, 0), randBytes(r, size))
	uploadKey := randKey(t, r)
	upID := randID(r, 0).ID
	partKey := func(n uint32) *crypto.Key {
		salt, _ := crypto.GenerateSalt(nil)
		k, err := crypto.DerivePartKey(uploadKey, upID[:], n, salt)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p1Key, p2Key := partKey(1), partKey(2)
	p1ID, p2ID := crypto.Identity{ID: upID, Part: 1}, crypto.Identity{ID: upID, Part: 2}
	part1 := sealStream(t, p1Key, p1ID, plain)
	part2 := sealStream(t, p2Key, p2ID, randBytes(r, size))
	// The same key under another identity (a bug the derivation must contain).
	sameKeyOtherID := sealStream(t, key, randID(r, 0), randBytes(r, size))

	cases := []tamperCase{
		{name: "wrong key", stored: s, size: size, key: otherKey, id: id, bad: 0, want: crypto.ErrAuth},
		{name: "wrong identity id", stored: s, size: size, key: key, id: randID(r, 0), bad: 0, want: crypto.ErrAuth},
		{name: "wrong identity part", stored: s, size: size, key: key, id: crypto.Identity{ID: id.ID, Part: 1}, bad: 0, want: crypto.ErrAuth},
		{name: "swapped chunks 1,2", stored: joinChunks(c(0), c(2), c(1), c(3), c(4)), size: size, key: key, id: id, bad: 1, want: crypto.ErrAuth},
		{name: "reordered 0..3 rotated", stored: joinChunks(c(1), c(2), c(3), c(0), c(4)), size: size, key: key, id: id, bad: 0, want: crypto.ErrAuth},
		{name: "replayed chunk 0 at 1", stored: joinChunks(c(0), c(0), c(2), c(3), c(4)), size: size, key: key, id: id, bad: 1, want: crypto.ErrAuth},
		{name: "dropped final chunk", stored: joinChunks(c(0), c(1), c(2), c(3)), size: size, key: key, id: id, bad: 4, want: crypto.ErrTruncated},
		{name: "dropped final chunk, size rewritten", stored: joinChunks(c(0), c(1), c(2), c(3)), size: 4 * C, key: key, id: id, bad: 3, want: crypto.ErrAuth},
		{name: "dropped middle chunk", stored: joinChunks(c(0), c(1), c(3), c(4)), size: size, key: key, id: id, bad: 2, want: crypto.ErrAuth},
		{name: "final chunk moved earlier, size rewritten", stored: joinChunks(c(0), c(4)), size: C + 100, key: key, id: id, bad: 1, want: crypto.ErrAuth},
		{name: "spliced from another object", stored: joinChunks(c(0), c(1), chunkOf(other, 2), c(3), c(4)), size: size, key: key, id: id, bad: 2, want: crypto.ErrAuth},
		{name: "spliced from another part", stored: joinChunks(chunkOf(part1, 0), chunkOf(part2, 1), chunkOf(part1, 2), chunkOf(part1, 3), chunkOf(part1, 4)), size: size, key: p1Key, id: p1ID, bad: 1, want: crypto.ErrAuth},
		{name: "spliced final chunk from another part", stored: joinChunks(chunkOf(part1, 0), chunkOf(part1, 1), chunkOf(part1, 2), chunkOf(part1, 3), chunkOf(part2, 4)), size: size, key: p1Key, id: p1ID, bad: 4, want: crypto.ErrAuth},
		{name: "spliced from same key, other identity", stored: joinChunks(c(0), c(1), chunkOf(sameKeyOtherID, 2), c(3), c(4)), size: size, key: key, id: id, bad: 2, want: crypto.ErrAuth},
		{name: "whole other object's stream", stored: other, size: size, key: key, id: id, bad: 0, want: crypto.ErrAuth},
		{name: "appended chunk, size rewritten", stored: joinChunks(s, chunkOf(other, 4)), size: size + 100, key: key, id: id, bad: 4, want: crypto.ErrAuth},
		{name: "appended garbage, size rewritten", stored: append(slices.Clone(s), randBytes(r, 40)...), size: size + 40, key: key, id: id, bad: 4, want: crypto.ErrAuth},
	}
	for i := range 5 {
		body := i*SC + r.IntN(len(c(i))-crypto.TagSize)
		tag := i*SC + len(c(i)) - 1 - r.IntN(crypto.TagSize)
		cases = append(cases,
			tamperCase{name: fmt.Sprintf("bit flip in body of chunk %d", i), stored: flip(s, body), size: size, key: key, id: id, bad: int64(i), want: crypto.ErrAuth},
			tamperCase{name: fmt.Sprintf("bit flip in tag of chunk %d", i), stored: flip(s, tag), size: size, key: key, id: id, bad: int64(i), want: crypto.ErrAuth})
	}
	// Truncation at every chunk boundary and inside every chunk, with the
	// size the index holds and with a size rewritten to match the cut.
	for b := 0; b < 5; b++ {
		cases = append(cases, tamperCase{name: fmt.Sprintf("truncated at boundary %d", b), stored: s[:b*SC], size: size, key: key, id: id, bad: int64(b), want: crypto.ErrTruncated})
		if b > 0 {
			cases = append(cases, tamperCase{name: fmt.Sprintf("truncated at boundary %d, size rewritten", b), stored: s[:b*SC], size: int64(b) * C, key: key, id: id, bad: int64(b - 1), want: crypto.ErrAuth})
		}
		for _, in := range []int{1, crypto.TagSize, crypto.TagSize + 1, len(c(b)) / 2, len(c(b)) - 1} {
			cut := b*SC + in
			if in >= len(c(b)) {
				continue
			}
			cases = append(cases, tamperCase{name: fmt.Sprintf("truncated inside chunk %d at +%d", b, in), stored: s[:cut], size: size, key: key, id: id, bad: int64(b), want: crypto.ErrTruncated})
			if p, err := crypto.PlainSize(int64(cut)); err == nil {
				cases = append(cases, tamperCase{name: fmt.Sprintf("truncated inside chunk %d at +%d, size rewritten", b, in), stored: s[:cut], size: p, key: key, id: id, bad: int64(b), want: crypto.ErrAuth})
			}
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bad*C > int64(len(plain)) {
				t.Fatalf("bad test: chunk %d beyond the plaintext", tc.bad)
			}
			// Ranges that include the bad chunk, and one that ends before it.
			badStart := tc.bad * C
			badEnd := min(badStart+C, tc.size)
			ranges := [][2]int64{
				{0, tc.size},
				{badStart, tc.size - badStart},
				{max(0, badStart-10), min(tc.size, badEnd) - max(0, badStart-10)},
				{min(badStart+1, tc.size), 0},
			}
			for _, rg := range ranges {
				off, n := rg[0], rg[1]
				if n < 0 {
					continue
				}
				for _, mode := range readModes {
					rec, _, err := openRange(t, tc.stored, tc.key, tc.id, tc.size, off, n, mode)
					checkRejected(t, tc, plain, off, n, mode, rec, err)
				}
			}
			if badStart > 0 {
				// Authentic chunks before the damage stay readable.
				rec, _, err := openRange(t, tc.stored, tc.key, tc.id, tc.size, 0, badStart, readSmall)
				if err != nil || !bytes.Equal(rec.got, plain[:badStart]) {
					t.Errorf("range before the damage: %v", err)
				}
			}
		})
	}
}

func checkRejected(t *testing.T, tc tamperCase, plain []byte, off, n int64, mode readMode, rec *recorder, err error) {
	t.Helper()
	where := fmt.Sprintf("range [%d,+%d) %v", off, n, mode)
	if !errors.Is(err, tc.want) {
		t.Fatalf("%s: err = %v, want %v", where, err, tc.want)
	}
	if ce := chunkErr(err); ce == nil || ce.Chunk != tc.bad {
		t.Fatalf("%s: err = %v, want a ChunkError for chunk %d", where, err, tc.bad)
	}
	// Exactly the authentic bytes before the bad chunk were released.
	goodEnd := max(off, min(off+n, tc.bad*C))
	if !bytes.Equal(rec.got, plain[off:goodEnd]) {
		t.Fatalf("%s: released %d bytes, want exactly the %d authentic bytes before chunk %d", where, len(rec.got), goodEnd-off, tc.bad)
	}
	// Nothing of the failing chunk reached caller memory: the buffer of the
	// failing Read holds nothing beyond what it returned.
	if !mode.writesTo() && len(rec.touched) > 0 {
		last := rec.touched[len(rec.touched)-1]
		if slices.ContainsFunc(last, func(b byte) bool { return b != 0 }) {
			t.Fatalf("%s: the failing Read wrote into the caller's buffer", where)
		}
	}
	// The true plaintext of the bad chunk appears nowhere in what was handed out.
	if tc.bad*C < int64(len(plain)) {
		window := plain[tc.bad*C : min(tc.bad*C+32, int64(len(plain)))]
		for _, b := range rec.touched {
			if len(window) >= 8 && bytes.Contains(b, window) {
				t.Fatalf("%s: plaintext of the failing chunk leaked", where)
			}
		}
	}
}

// TestTamperEmptyStream covers the one-chunk empty stream: truncation, a
// swapped final chunk and a stream claimed empty that is not.
func TestTamperEmptyStream(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 0)
	empty := sealStream(t, key, id, nil)
	otherEmpty := sealStream(t, randKey(t, r), id, nil)
	nonEmpty := sealStream(t, key, id, []byte("x"))

	for _, tc := range []struct {
		name   string
		stored []byte
		size   int64
		want   error
	}{
		{"truncated to nothing", nil, 0, crypto.ErrTruncated},
		{"truncated tag", empty[:15], 0, crypto.ErrTruncated},
		{"another object's empty stream", otherEmpty, 0, crypto.ErrAuth},
		{"flipped tag", flip(empty, 3), 0, crypto.ErrAuth},
		{"non-empty stream claimed empty", nonEmpty, 0, crypto.ErrAuth},
		{"empty stream claimed non-empty", empty, 1, crypto.ErrTruncated},
	} {
		for _, mode := range readModes {
			rec, _, err := openRange(t, tc.stored, key, id, tc.size, 0, tc.size, mode)
			if !errors.Is(err, tc.want) || len(rec.got) != 0 {
				t.Errorf("%s %v: released %d bytes, err %v, want %v", tc.name, mode, len(rec.got), err, tc.want)
			}
		}
	}
	rec, _, err := openRange(t, empty, key, id, 0, 0, 0, readSmall)
	if err != nil || len(rec.got) != 0 {
		t.Fatalf("authentic empty stream: %v", err)
	}
}
