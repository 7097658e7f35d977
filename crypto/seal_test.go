package crypto_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

func TestSealUnseal(t *testing.T) {
	r := newRand(t)
	kek := randKey(t, r)
	key := randKey(t, r)
	binding := []byte("object 1 / sse-kms / key-a")
	sealed, err := crypto.SealKey(kek, key, binding, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != crypto.SealedKeySize || sealed[0] != crypto.SealedKeyVersion {
		t.Fatalf("sealed key is %d bytes, version %d", len(sealed), sealed[0])
	}
	if bytes.Contains(sealed, key[:8]) {
		t.Fatal("sealed key contains the key")
	}
	got, err := crypto.UnsealKey(kek, sealed, binding)
	if err != nil || *got != *key {
		t.Fatalf("round trip: %v", err)
	}
	again, _ := crypto.SealKey(kek, key, binding, nil)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one key are identical")
	}
	if _, err := crypto.SealKey(kek, key, make([]byte, crypto.MaxInfoSize+1), nil); !errors.Is(err, crypto.ErrInputTooLong) {
		t.Fatalf("long binding: %v", err)
	}
	if _, err := crypto.SealKey(nil, key, nil, nil); !errors.Is(err, crypto.ErrNilKey) {
		t.Fatalf("nil kek: %v", err)
	}
	if _, err := crypto.SealKey(kek, key, nil, bytes.NewReader(nil)); err == nil {
		t.Fatal("empty random source accepted")
	}
	if _, err := crypto.UnsealKey(nil, sealed, binding); !errors.Is(err, crypto.ErrNilKey) {
		t.Fatalf("unseal with nil kek: %v", err)
	}
}

// TestUnsealRejects covers every tampering of a sealed key: each bit flip,
// each truncation and extension, a wrong KEK, a wrong binding, and sealed
// keys swapped between two objects.
func TestUnsealRejects(t *testing.T) {
	r := newRand(t)
	kek := randKey(t, r)
	key := randKey(t, r)
	binding := []byte("object A")
	sealed, _ := crypto.SealKey(kek, key, binding, nil)

	fail := func(what string, kek *crypto.Key, blob, binding []byte) {
		t.Helper()
		k, err := crypto.UnsealKey(kek, blob, binding)
		if !errors.Is(err, crypto.ErrUnseal) || k != nil {
			t.Fatalf("%s: got key %v, err %v; want ErrUnseal", what, k != nil, err)
		}
	}
	for bit := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[bit/8] ^= 1 << (bit % 8)
		fail("bit flip", kek, b, binding)
	}
	for n := range len(sealed) {
		fail("truncated", kek, sealed[:n], binding)
	}
	fail("extended", kek, append(bytes.Clone(sealed), 0), binding)
	fail("wrong kek", randKey(t, r), sealed, binding)
	fail("wrong binding", kek, sealed, []byte("object B"))
	fail("binding prefix", kek, sealed, binding[:len(binding)-1])
	fail("empty binding", kek, sealed, nil)
	fail("long binding", kek, sealed, make([]byte, crypto.MaxInfoSize+1))
	v2 := bytes.Clone(sealed)
	v2[0] = 2
	fail("unknown version", kek, v2, binding)

	// Two objects sealed under one KEK: their sealed keys swapped in the
	// metadata must not unseal under the other's binding.
	keyB := randKey(t, r)
	sealedB, _ := crypto.SealKey(kek, keyB, []byte("object B"), nil)
	fail("A's sealed key for B", kek, sealed, []byte("object B"))
	fail("B's sealed key for A", kek, sealedB, binding)

	// A data key sealed for one KMS key id must not unseal under another
	// mode's binding even with the same KEK bytes.
	fail("other mode", kek, sealed, []byte("object A\x00sse-c"))
}
