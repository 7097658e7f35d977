package crypto_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cofferdb/coffer/crypto"
)

func TestGenerateKey(t *testing.T) {
	seen := make(map[crypto.Key]bool)
	for range 1000 {
		k, err := crypto.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[*k] || *k == (crypto.Key{}) {
			t.Fatal("GenerateKey repeated a key or returned zeros")
		}
		seen[*k] = true
	}
	// A seeded source replays; a failing source fails.
	a, _ := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	b, _ := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if *a != *b {
		t.Fatal("same source, different keys")
	}
	if _, err := crypto.GenerateKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("short random source accepted")
	}
	if _, err := crypto.GenerateSalt(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("failing salt source accepted")
	}
}

func TestNewKeyAndZero(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := crypto.NewKey(make([]byte, n)); !errors.Is(err, crypto.ErrKeySize) {
			t.Errorf("NewKey(%d bytes): %v", n, err)
		}
	}
	src := bytes.Repeat([]byte{0xAB}, 32)
	k, err := crypto.NewKey(src)
	if err != nil {
		t.Fatal(err)
	}
	src[0] = 0
	if k[0] != 0xAB {
		t.Fatal("NewKey aliases its input")
	}
	k.Zero()
	if *k != (crypto.Key{}) {
		t.Fatal("Zero left key material")
	}
	var nilKey *crypto.Key
	nilKey.Zero() // must not panic
}

func TestKeyNeverFormats(t *testing.T) {
	k, _ := crypto.NewKey(bytes.Repeat([]byte{0xAB}, 32))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, arg := range []any{k, *k, struct{ K *crypto.Key }{k}, []crypto.Key{*k}} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171 171") {
				t.Errorf("Sprintf(%q) leaked key material: %s", verb, out)
			}
		}
	}
}

func TestDerivations(t *testing.T) {
	r := newRand(t)
	parent := randKey(t, r)
	other := randKey(t, r)
	salt, _ := crypto.GenerateSalt(nil)
	salt2, _ := crypto.GenerateSalt(nil)
	uid := []byte("upload-1")
	oid := []byte("0123456789abcdef")

	must := func(k *crypto.Key, err error) crypto.Key {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return *k
	}
	outputs := map[string]crypto.Key{
		"part 1":              must(crypto.DerivePartKey(parent, uid, 1, salt)),
		"part 2":              must(crypto.DerivePartKey(parent, uid, 2, salt)),
		"part 1 other salt":   must(crypto.DerivePartKey(parent, uid, 1, salt2)),
		"part 1 other upload": must(crypto.DerivePartKey(parent, []byte("upload-2"), 1, salt)),
		"part 1 other key":    must(crypto.DerivePartKey(other, uid, 1, salt)),
		"s3":                  must(crypto.DeriveS3KEK(parent, oid)),
		"s3 other object":     must(crypto.DeriveS3KEK(parent, []byte("0123456789abcdeg"))),
		"s3 other master":     must(crypto.DeriveS3KEK(other, oid)),
		"bucket":              must(crypto.DeriveKEK(parent, salt, oid)),
		"bucket other salt":   must(crypto.DeriveKEK(parent, salt2, oid)),
		"bucket other info":   must(crypto.DeriveKEK(parent, salt, []byte("x"))),
		"bucket, s3's inputs": must(crypto.DeriveKEK(parent, crypto.Salt{}, oid)),
	}
	seen := make(map[crypto.Key]string)
	for name, k := range outputs {
		if k == *parent || k == (crypto.Key{}) {
			t.Errorf("%s: derived key equals its parent or zeros", name)
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s derive the same key", name, prev)
		}
		seen[k] = name
	}
	// Deterministic: the engine re-derives on every read.
	if outputs["part 1"] != must(crypto.DerivePartKey(parent, uid, 1, salt)) || outputs["s3"] != must(crypto.DeriveS3KEK(parent, oid)) {
		t.Fatal("derivation is not deterministic")
	}
	// Bounds and nil keys.
	long := make([]byte, crypto.MaxInfoSize+1)
	if _, err := crypto.DerivePartKey(parent, long, 1, salt); !errors.Is(err, crypto.ErrInputTooLong) {
		t.Errorf("long upload id: %v", err)
	}
	if _, err := crypto.DeriveS3KEK(parent, long); !errors.Is(err, crypto.ErrInputTooLong) {
		t.Errorf("long object id: %v", err)
	}
	if _, err := crypto.DeriveKEK(parent, salt, long); !errors.Is(err, crypto.ErrInputTooLong) {
		t.Errorf("long info: %v", err)
	}
	if _, err := crypto.DeriveS3KEK(nil, oid); !errors.Is(err, crypto.ErrNilKey) {
		t.Errorf("nil master: %v", err)
	}
	if _, err := crypto.DerivePartKey(nil, uid, 1, salt); !errors.Is(err, crypto.ErrNilKey) {
		t.Errorf("nil upload key: %v", err)
	}
	if _, err := crypto.DeriveKEK(nil, salt, oid); !errors.Is(err, crypto.ErrNilKey) {
		t.Errorf("nil bucket key: %v", err)
	}
}

func TestCustomerKeyMAC(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	salt, _ := crypto.GenerateSalt(nil)
	mac := crypto.CustomerKeyMAC(salt, key)
	if !crypto.CheckCustomerKey(salt, mac[:], key) {
		t.Fatal("right key rejected")
	}
	if bytes.Contains(mac[:], key[:8]) {
		t.Fatal("MAC contains key bytes")
	}
	wrong := *key
	wrong[31] ^= 1
	if crypto.CheckCustomerKey(salt, mac[:], &wrong) {
		t.Fatal("wrong key accepted")
	}
	other, _ := crypto.GenerateSalt(nil)
	if crypto.CheckCustomerKey(other, mac[:], key) {
		t.Fatal("wrong salt accepted")
	}
	if m2 := crypto.CustomerKeyMAC(other, key); m2 == mac {
		t.Fatal("salt does not change the MAC")
	}
	for _, bad := range [][]byte{nil, mac[:31], append(mac[:], 0)} {
		if crypto.CheckCustomerKey(salt, bad, key) {
			t.Fatalf("MAC of length %d accepted", len(bad))
		}
	}
	if crypto.CheckCustomerKey(salt, mac[:], nil) {
		t.Fatal("nil key accepted")
	}
	zero := crypto.CustomerKeyMAC(salt, nil)
	if crypto.CheckCustomerKey(salt, zero[:], nil) {
		t.Fatal("nil key accepted against its own MAC")
	}
}

func TestNewSalt(t *testing.T) {
	s, _ := crypto.GenerateSalt(nil)
	back, err := crypto.NewSalt(s[:])
	if err != nil || back != s {
		t.Fatalf("NewSalt round trip: %v", err)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := crypto.NewSalt(make([]byte, n)); !errors.Is(err, crypto.ErrSaltSize) {
			t.Errorf("NewSalt(%d bytes): %v", n, err)
		}
	}
}

func TestChunkErrorMessage(t *testing.T) {
	err := error(&crypto.ChunkError{Chunk: 12, Err: crypto.ErrAuth})
	if got, want := err.Error(), "crypto: chunk 12: message authentication failed"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("get: %w", err), crypto.ErrAuth) || errors.Is(err, crypto.ErrTruncated) {
		t.Fatal("ChunkError does not unwrap to its sentinel alone")
	}
}
