package kmsclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPKCS11BlobFormat(t *testing.T) {
	iv := bytes.Repeat([]byte{0xAA}, pkcs11IVLen)
	sealed := bytes.Repeat([]byte{0xBB}, 32+pkcs11TagLen)
	b := pkcs11Blob("master.v1", iv, sealed)
	want := append(append(append([]byte{1, 9}, "master.v1"...), iv...), sealed...)
	if !bytes.Equal(b, want) {
		t.Fatalf("blob % x", b)
	}
	label, gotIV, gotSealed, err := parsePKCS11Blob(b)
	if err != nil || label != "master.v1" || !bytes.Equal(gotIV, iv) || !bytes.Equal(gotSealed, sealed) {
		t.Fatalf("parse: %q % x % x %v", label, gotIV, gotSealed, err)
	}
	if aad := pkcs11AAD("k", []byte(`{"a":"1"}`)); string(aad) != "\x01\x01k{\"a\":\"1\"}" {
		t.Fatalf("aad %q", aad)
	}
	bad := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{2}, b[1:]...),
		"short":         b[:2+9+pkcs11IVLen+pkcs11TagLen],
		"label length":  append([]byte{1, 200}, b[2:]...),
		"empty label":   append([]byte{1, 0}, b[2+9:]...),
		"label chars":   append(append([]byte{1, 3}, "a/b"...), b[2+9:]...),
		"too long blob": append(b, make([]byte, MaxCiphertextSize)...),
	}
	for name, blob := range bad {
		if _, _, _, err := parsePKCS11Blob(blob); !errors.Is(err, errBadPKCS11Blob) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPKCS11OptionsValidate(t *testing.T) {
	o := PKCS11Options{}
	err := o.Validate()
	for _, want := range []string{"Module is required", "TokenLabel"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("zero options: %v, want %q", err, want)
		}
	}
	o = PKCS11Options{Module: "/m.so", TokenLabel: strings.Repeat("t", 33), DefaultKey: "alias/aws/s3", MaxSessions: 1000, PIN: "9876"}
	err = o.Validate()
	for _, want := range []string{"TokenLabel", "DefaultKey", "MaxSessions"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad options: %v, want %q", err, want)
		}
	}
	if s := o.String() + o.GoString(); strings.Contains(s, "9876") {
		t.Errorf("String shows the PIN: %s", s)
	}
	for _, l := range []string{"a", "coffer-default", "master.v2", "A_B-c.9", strings.Repeat("x", 64)} {
		if !validPKCS11Label(l) {
			t.Errorf("%q refused", l)
		}
	}
	for _, l := range []string{"", "alias/x", "a b", "pkcs11:x", strings.Repeat("x", 65), "é"} {
		if validPKCS11Label(l) {
			t.Errorf("%q accepted", l)
		}
	}
}

// FuzzParsePKCS11Blob: parsing never panics, and whatever parses
// reassembles to the same bytes.
func FuzzParsePKCS11Blob(f *testing.F) {
	f.Add(pkcs11Blob("k", make([]byte, pkcs11IVLen), make([]byte, 48)))
	f.Add([]byte{1, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		label, iv, sealed, err := parsePKCS11Blob(b)
		if err != nil {
			return
		}
		if !bytes.Equal(pkcs11Blob(label, iv, sealed), b) {
			t.Fatalf("round trip of % x", b)
		}
	})
}
