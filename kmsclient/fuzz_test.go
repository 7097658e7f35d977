package kmsclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// FuzzKeyringDecrypt feeds arbitrary blobs and contexts to the keyring's
// blob decoder: no panic, and any blob that opens must be one the keyring
// made for exactly that context.
func FuzzKeyringDecrypt(f *testing.F) {
	k := openTestKeyring(f)
	made := map[string]string{} // blob -> canonical context
	for _, ec := range []EncryptionContext{nil, {"a": "b"}, {"aws:s3:arn": "arn:aws:s3:::b/k"}} {
		dk, err := k.GenerateDataKey(bg, "", ec)
		if err != nil {
			f.Fatal(err)
		}
		made[string(dk.Ciphertext)] = string(ec.Canonical())
		f.Add(dk.Ciphertext, "a", "b")
	}
	f.Add([]byte{1}, "", "")
	f.Add(bytes.Repeat([]byte{1}, blobOverhead+1), "a", "b")
	f.Fuzz(func(t *testing.T, blob []byte, key, value string) {
		ec := EncryptionContext{key: value}
		if key == "" {
			ec = nil
		}
		pt, err := k.Decrypt(bg, "", blob, ec)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext with error")
			}
			if CodeOf(err) == CodeInternal {
				t.Fatalf("internal error on bad input: %v", err)
			}
			return
		}
		if want, ok := made[string(blob)]; !ok || want != string(ec.Canonical()) {
			t.Fatalf("opened a blob it did not make (or with another context)")
		}
	})
}

// FuzzDecodeKeyring feeds arbitrary files to the keyring file decoder.
func FuzzDecodeKeyring(f *testing.F) {
	root, _ := ParseRootKey(testRootKeyString("fz", 5))
	st := newRingState("aws", "us-east-1", "000000000000")
	// Deterministic (fixed clock and randomness): fuzz workers are separate
	// processes that must build the same file.
	k := &Keyring{rand: fixedReader{}, now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	k.newKey(st, CreateKeyInput{Spec: KeySpecSymmetricDefault, Usage: KeyUsageEncryptDecrypt})
	good, err := encodeKeyring(fixedReader{}, root, st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"coffer-kms-keyring","version":1,"root_key":"fz","salt":"","nonce":"","sealed":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeKeyring(data, root)
		if err == nil && !bytes.Equal(data, good) {
			// Only the exact file we sealed may open (GCM authenticates it).
			var env, want envelope
			json.Unmarshal(data, &env)
			json.Unmarshal(good, &want)
			if !bytes.Equal(env.Sealed, want.Sealed) || !bytes.Equal(env.Nonce, want.Nonce) || !bytes.Equal(env.Salt, want.Salt) {
				t.Fatalf("forged keyring accepted: %d keys", len(st.keys))
			}
		}
	})
}

// FuzzDecodeState feeds arbitrary JSON to the sealed-state validator: no
// panic, and an accepted state re-encodes to one that decodes the same.
func FuzzDecodeState(f *testing.F) {
	mat := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	f.Add([]byte(`{"partition":"aws","region":"us-east-1","account":"000000000000","keys":[{"id":"11111111-2222-4333-8444-555555555555","state":"Enabled","spec":"SYMMETRIC_DEFAULT","usage":"ENCRYPT_DECRYPT","created":"2026-01-01T00:00:00Z","versions":[{"n":1,"created":"2026-01-01T00:00:00Z","material":"` + mat + `"}]}],"aliases":[{"name":"alias/x","target":"11111111-2222-4333-8444-555555555555","created":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"partition":"aws","region":"us-east-1","account":"000000000000","keys":[{"id":"11111111-2222-4333-8444-555555555555","state":"PendingDeletion","deletion_date":"2026-01-01T00:00:00Z","spec":"RSA_2048","usage":"SIGN_VERIFY","created":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(st.toFile())
		if err != nil {
			t.Fatal(err)
		}
		st2, err := decodeState(again)
		if err != nil {
			t.Fatalf("re-encoded state rejected: %v", err)
		}
		if len(st2.keys) != len(st.keys) || len(st2.aliases) != len(st.aliases) {
			t.Fatal("round trip changed the state")
		}
	})
}

func FuzzParseS3Header(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{}`, `{"a":1}`, `[]`, `{"a":"b","a":"c"}`} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	f.Fuzz(func(t *testing.T, v string) {
		ec, err := ParseS3Header(v)
		if err != nil {
			return
		}
		if ec.Validate() != nil {
			t.Fatal("accepted an invalid context")
		}
		// The canonical form parses back to the same context.
		back, err := ParseS3Header(base64.StdEncoding.EncodeToString(ec.Canonical()))
		if err != nil || !back.Equal(ec) {
			t.Fatalf("canonical round trip failed: %v", err)
		}
	})
}

func FuzzParseKeyRef(f *testing.F) {
	for _, s := range []string{"alias/x", "arn:aws:kms:us-east-1:111122223333:key/abc", "arn:aws:kms:us-east-1:111122223333:alias/x", "1234abcd-12ab-34cd-56ef-1234567890ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseKeyRef(s)
		if err != nil {
			return
		}
		var back string
		switch r.Kind {
		case KeyRefID:
			back = r.ID
		case KeyRefARN:
			back = KeyARN(r.Partition, r.Region, r.Account, r.ID)
		case KeyRefAlias:
			back = r.Alias
		case KeyRefAliasARN:
			back = AliasARN(r.Partition, r.Region, r.Account, r.Alias)
		default:
			t.Fatalf("unknown kind %d", r.Kind)
		}
		if back != s {
			t.Fatalf("%q parsed to %+v which formats as %q", s, r, back)
		}
	})
}

func FuzzParseKESAPIKey(f *testing.F) {
	k, _ := GenerateKESAPIKey()
	f.Add(k)
	f.Add("kes:v1:")
	f.Fuzz(func(t *testing.T, s string) {
		if priv, err := ParseKESAPIKey(s); err == nil && len(priv) != 64 {
			t.Fatal("bad key length")
		}
	})
}

// fixedReader is a deterministic randomness source for encoders in fuzz
// setup.
type fixedReader struct{}

func (fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}
