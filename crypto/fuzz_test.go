package crypto_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

var fuzzKEK = func() *crypto.Key {
	k, _ := crypto.NewKey(katBytes("fuzz kek", 32))
	return k
}()

// FuzzUnsealKey feeds arbitrary blobs and bindings to the sealed-key
// decoder: it must never panic, and must only ever accept the blob that
// SealKey made for that binding.
func FuzzUnsealKey(f *testing.F) {
	key, _ := crypto.NewKey(katBytes("fuzz key", 32))
	good, _ := crypto.SealKey(fuzzKEK, key, []byte("obj"), bytes.NewReader(katBytes("fuzz salt", 32)))
	f.Add(good, []byte("obj"))
	f.Add(good[:40], []byte("obj"))
	f.Add([]byte{}, []byte{})
	f.Add(append([]byte{2}, good[1:]...), []byte("obj"))
	f.Fuzz(func(t *testing.T, blob, binding []byte) {
		k, err := crypto.UnsealKey(fuzzKEK, blob, binding)
		if err != nil {
			if !errors.Is(err, crypto.ErrUnseal) || k != nil {
				t.Fatalf("err %v, key %v", err, k != nil)
			}
			return
		}
		if !bytes.Equal(blob, good) || string(binding) != "obj" || *k != *key {
			t.Fatal("UnsealKey accepted a blob SealKey did not make for this binding")
		}
	})
}

// FuzzDecryptReader opens ranges of a valid stream after the fuzzer has
// flipped bytes, cut it, or rewritten the size the reader is told. Whatever
// it does, the reader must not panic, must return only bytes of the true
// plaintext at the right offsets, and must fail whenever a chunk it read
// was changed.
func FuzzDecryptReader(f *testing.F) {
	key, _ := crypto.NewKey(katBytes("fuzz stream key", 32))
	id := crypto.Identity{Part: 3}
	f.Add(uint32(100), uint32(0), uint32(100), int32(-1), byte(0), int32(0), false)
	f.Add(uint32(2*C+5), uint32(C-3), uint32(10), int32(C+20), byte(1), int32(0), false)
	f.Add(uint32(C), uint32(0), uint32(C), int32(-1), byte(0), int32(-16), false)
	f.Add(uint32(C+1), uint32(C), uint32(1), int32(-1), byte(0), int32(0), true)
	f.Add(uint32(0), uint32(0), uint32(0), int32(3), byte(0x80), int32(0), false)
	f.Fuzz(func(t *testing.T, size, off, n uint32, flipAt int32, flipMask byte, cut int32, claimCut bool) {
		size %= 3*C + 1
		off %= size + 1
		n %= size - off + 1
		plain := katPlain(int(size))
		sealed := sealStream(t, key, id, plain)
		stored := bytes.Clone(sealed)
		changed := int64(-1) // first changed sealed offset
		if flipAt >= 0 && int(flipAt) < len(stored) && flipMask != 0 {
			stored[flipAt] ^= flipMask
			changed = int64(flipAt)
		}
		if cut < 0 && int(-cut) <= len(stored) {
			stored = stored[:len(stored)+int(cut)]
		}
		claimed := int64(size)
		if claimCut {
			p, err := crypto.PlainSize(int64(len(stored)))
			if err != nil {
				return
			}
			claimed = p
			off = uint32(min(int64(off), claimed))
			n = uint32(min(int64(n), claimed-int64(off)))
		}
		rg, err := crypto.MapRange(claimed, int64(off), int64(n))
		if err != nil {
			t.Fatalf("MapRange(%d,%d,%d): %v", claimed, off, n, err)
		}
		var src io.Reader = bytes.NewReader(nil)
		if rg.SealedOffset <= int64(len(stored)) {
			src = bytes.NewReader(stored[rg.SealedOffset:])
		}
		d, err := crypto.NewDecryptReader(src, key, id, rg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var got bytes.Buffer
		_, err = d.WriteTo(&got)
		if !bytes.HasPrefix(plain[off:], got.Bytes()) {
			t.Fatal("reader released bytes that are not the plaintext")
		}
		intact := int64(len(stored)) == int64(len(sealed)) && claimed == int64(size)
		readEnd := rg.SealedOffset + rg.SealedLength
		touched := changed >= rg.SealedOffset && changed < readEnd
		switch {
		case intact && !touched && err != nil:
			t.Fatalf("untouched range failed: %v", err)
		case intact && !touched && int64(got.Len()) != int64(n):
			t.Fatalf("released %d of %d bytes", got.Len(), n)
		case touched && err == nil:
			t.Fatal("a changed chunk was accepted")
		case err != nil && !errors.Is(err, crypto.ErrAuth) && !errors.Is(err, crypto.ErrTruncated):
			t.Fatalf("unexpected error %v", err)
		}
		if err == nil && (int64(got.Len()) != int64(n) || !bytes.Equal(got.Bytes(), plain[off:off+n])) {
			t.Fatal("success with the wrong bytes")
		}
	})
}

// FuzzSizes checks that PlainSize, SealedSize and MapRange agree on any
// input and never panic.
func FuzzSizes(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0))
	f.Add(int64(C+16), int64(5), int64(C))
	f.Add(int64(-1), int64(-1), int64(-1))
	f.Add(int64(1<<62), int64(1<<61), int64(1<<61))
	f.Fuzz(func(t *testing.T, sealed, off, n int64) {
		p, err := crypto.PlainSize(sealed)
		if err != nil {
			if !errors.Is(err, crypto.ErrSealedSize) {
				t.Fatal(err)
			}
			return
		}
		if crypto.SealedSize(p) != sealed {
			t.Fatalf("SealedSize(PlainSize(%d)) = %d", sealed, crypto.SealedSize(p))
		}
		rg, err := crypto.MapRange(p, off, n)
		if err != nil {
			if off >= 0 && n >= 0 && off <= p && n <= p-off {
				t.Fatalf("valid range rejected: %v", err)
			}
			return
		}
		if rg.SealedOffset < 0 || rg.SealedLength <= 0 || rg.SealedOffset+rg.SealedLength > sealed {
			t.Fatalf("MapRange(%d,%d,%d) = %+v outside the stream", p, off, n, rg)
		}
	})
}
