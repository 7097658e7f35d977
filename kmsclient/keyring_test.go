package kmsclient

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeyringRoundTripAllKeyIDForms(t *testing.T) {
	k := openTestKeyring(t)
	info, err := k.CreateKey(bg, CreateKeyInput{Description: "app key", Alias: "alias/app"})
	if err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:kms:us-east-1:000000000000:key/" + info.KeyID
	if info.ARN != wantARN || info.State != KeyStateEnabled || info.Spec != KeySpecSymmetricDefault || len(info.Aliases) != 1 {
		t.Fatalf("unexpected key info %+v", info)
	}
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object", "team": "ünïcode"}
	forms := []string{info.KeyID, info.ARN, "alias/app", "arn:aws:kms:us-east-1:000000000000:alias/app"}
	for _, form := range forms {
		dk, err := k.GenerateDataKey(bg, form, ec)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if dk.KeyID != wantARN || len(dk.Plaintext) != 32 {
			t.Fatalf("%s: KeyID %q, %d-byte plaintext", form, dk.KeyID, len(dk.Plaintext))
		}
		for _, dform := range append([]string{""}, forms...) {
			pt, err := k.Decrypt(bg, dform, dk.Ciphertext, EncryptionContext{"team": "ünïcode", "aws:s3:arn": "arn:aws:s3:::bucket/object"})
			if err != nil {
				t.Fatalf("decrypt with %q: %v", dform, err)
			}
			if !bytes.Equal(pt, dk.Plaintext) {
				t.Fatalf("decrypt with %q returned other bytes", dform)
			}
		}
		got, err := k.DescribeKey(bg, form)
		if err != nil || got.ARN != wantARN {
			t.Fatalf("DescribeKey(%s) = %+v, %v", form, got, err)
		}
	}
	// Two data keys differ, and so do their blobs.
	a, _ := k.GenerateDataKey(bg, "alias/app", ec)
	b, _ := k.GenerateDataKey(bg, "alias/app", ec)
	if bytes.Equal(a.Plaintext, b.Plaintext) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("two data keys are equal")
	}
}

func TestKeyringDataKeyOptions(t *testing.T) {
	k := openTestKeyring(t)
	dk, err := k.GenerateDataKey(bg, "", nil, WithNumberOfBytes(16))
	if err != nil || len(dk.Plaintext) != 16 {
		t.Fatalf("16-byte key: %v, %d", err, len(dk.Plaintext))
	}
	np, err := k.GenerateDataKey(bg, "", nil, WithoutPlaintext())
	if err != nil || np.Plaintext != nil || len(np.Ciphertext) == 0 {
		t.Fatalf("without plaintext: %v %+v", err, np)
	}
	if pt, err := k.Decrypt(bg, np.KeyID, np.Ciphertext, nil); err != nil || len(pt) != 32 {
		t.Fatalf("decrypting a key made without plaintext: %v", err)
	}
	for _, n := range []int{0, -1, 1025} {
		_, err := k.GenerateDataKey(bg, "", nil, WithNumberOfBytes(n))
		wantCode(t, err, ErrInvalidArgument, CodeValidation)
	}
}

func TestKeyringWrongContextAndTampering(t *testing.T) {
	k := openTestKeyring(t)
	ec := EncryptionContext{"a": "1", "b": "2"}
	dk, err := k.GenerateDataKey(bg, "", ec)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]EncryptionContext{
		"missing":     nil,
		"other value": {"a": "1", "b": "3"},
		"extra pair":  {"a": "1", "b": "2", "c": "3"},
		"fewer pairs": {"a": "1"},
		"case":        {"A": "1", "b": "2"},
	} {
		pt, err := k.Decrypt(bg, dk.KeyID, dk.Ciphertext, bad)
		if pt != nil {
			t.Fatalf("%s: plaintext released", name)
		}
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	}
	// Flipping any single bit of the blob fails before plaintext leaves.
	for i := 0; i < len(dk.Ciphertext); i++ {
		for _, bit := range []byte{1, 0x80} {
			c := bytes.Clone(dk.Ciphertext)
			c[i] ^= bit
			pt, err := k.Decrypt(bg, "", c, ec)
			if err == nil || pt != nil {
				t.Fatalf("flip of byte %d bit %#x accepted", i, bit)
			}
			if !errors.Is(err, ErrInvalidCiphertext) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("flip of byte %d: unexpected error %v", i, err)
			}
		}
	}
	// Truncation and extension.
	for _, c := range [][]byte{dk.Ciphertext[:len(dk.Ciphertext)-1], append(bytes.Clone(dk.Ciphertext), 0), nil, {1}} {
		_, err := k.Decrypt(bg, "", c, ec)
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	}
}

func TestKeyringIncorrectKey(t *testing.T) {
	k := openTestKeyring(t)
	a, _ := k.CreateKey(bg, CreateKeyInput{})
	b, _ := k.CreateKey(bg, CreateKeyInput{})
	dk, err := k.GenerateDataKey(bg, a.ARN, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Decrypt(bg, b.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrInvalidCiphertext, CodeIncorrectKey)
	// A blob claiming another key's id fails authentication.
	c := bytes.Clone(dk.Ciphertext)
	copy(c[1:17], mustUUID(t, b.KeyID))
	_, err = k.Decrypt(bg, "", c, nil)
	wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
}

func mustUUID(t *testing.T, s string) []byte {
	u, ok := parseUUID(s)
	if !ok {
		t.Fatalf("bad uuid %q", s)
	}
	return u[:]
}

func TestKeyringUnknownKey(t *testing.T) {
	k := openTestKeyring(t)
	for _, id := range []string{
		"11111111-2222-4333-8444-555555555555",
		"arn:aws:kms:us-east-1:000000000000:key/11111111-2222-4333-8444-555555555555",
		"alias/nope",
		"arn:aws:kms:us-east-1:000000000000:alias/nope",
		"arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-4333-8444-555555555555", // other region
		"aws/s3",     // alias without prefix, as in aws-cli#4507
		"not a key!", // malformed
	} {
		_, err := k.GenerateDataKey(bg, id, nil)
		wantCode(t, err, ErrNotFound, CodeNotFound)
		_, err = k.DescribeKey(bg, id)
		wantCode(t, err, ErrNotFound, CodeNotFound)
	}
	_, err := k.GenerateDataKey(bg, "aws/s3", nil)
	mustContain(t, err.Error(), "Invalid keyId 'aws/s3'")
}

func TestKeyringDisabledKey(t *testing.T) {
	k := openTestKeyring(t)
	info, _ := k.CreateKey(bg, CreateKeyInput{Alias: "alias/d"})
	dk, err := k.GenerateDataKey(bg, "alias/d", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.DisableKey(bg, info.KeyID); err != nil {
		t.Fatal(err)
	}
	_, err = k.GenerateDataKey(bg, "alias/d", nil)
	wantCode(t, err, ErrDisabled, CodeDisabled)
	mustContain(t, err.Error(), info.ARN+" is disabled.")
	_, err = k.Decrypt(bg, info.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrDisabled, CodeDisabled)
	if d, _ := k.DescribeKey(bg, "alias/d"); d.State != KeyStateDisabled {
		t.Fatalf("state %s", d.State)
	}
	if err := k.EnableKey(bg, info.ARN); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Decrypt(bg, info.ARN, dk.Ciphertext, nil); err != nil {
		t.Fatalf("after enable: %v", err)
	}
}

func TestKeyringScheduledDeletion(t *testing.T) {
	k := openTestKeyring(t)
	info, _ := k.CreateKey(bg, CreateKeyInput{Alias: "alias/gone"})
	dk, _ := k.GenerateDataKey(bg, info.KeyID, nil)
	for _, w := range []time.Duration{6 * 24 * time.Hour, 31 * 24 * time.Hour, 7*24*time.Hour + time.Hour} {
		_, err := k.ScheduleKeyDeletion(bg, info.KeyID, w)
		wantCode(t, err, ErrInvalidArgument, CodeValidation)
	}
	when, err := k.ScheduleKeyDeletion(bg, info.KeyID, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !when.Equal(k.clock.Now().Add(7 * 24 * time.Hour)) {
		t.Fatalf("deletion date %v", when)
	}
	_, err = k.GenerateDataKey(bg, "alias/gone", nil)
	wantCode(t, err, ErrInvalidState, CodeInvalidState)
	mustContain(t, err.Error(), "is pending deletion.")
	_, err = k.Decrypt(bg, info.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrInvalidState, CodeInvalidState)
	wantCode(t, k.EnableKey(bg, info.KeyID), ErrInvalidState, CodeInvalidState)
	_, err = k.ScheduleKeyDeletion(bg, info.KeyID, 7*24*time.Hour)
	wantCode(t, err, ErrInvalidState, CodeInvalidState)

	// Cancel: the key comes back disabled, then can be enabled.
	if err := k.CancelKeyDeletion(bg, info.KeyID); err != nil {
		t.Fatal(err)
	}
	_, err = k.Decrypt(bg, info.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrDisabled, CodeDisabled)
	if err := k.EnableKey(bg, info.KeyID); err != nil {
		t.Fatal(err)
	}

	// Schedule again and let the window pass: the key and its alias are gone.
	if _, err := k.ScheduleKeyDeletion(bg, info.KeyID, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	k.clock.Advance(7*24*time.Hour - time.Second)
	_, err = k.Decrypt(bg, info.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrInvalidState, CodeInvalidState)
	k.clock.Advance(time.Second)
	_, err = k.Decrypt(bg, info.ARN, dk.Ciphertext, nil)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	_, err = k.DescribeKey(bg, "alias/gone")
	wantCode(t, err, ErrNotFound, CodeNotFound)
	keys, _ := k.ListKeys(bg)
	for _, ki := range keys {
		if ki.KeyID == info.KeyID {
			t.Fatal("deleted key still listed")
		}
	}
	// The purge is persisted by the next change, and survives a reopen.
	if _, err := k.CreateKey(bg, CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	k2 := reopen(t, k, testRootKeyString("test", 7))
	if _, err := k2.DescribeKey(bg, info.KeyID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key back after reopen: %v", err)
	}
}

func TestKeyringRotation(t *testing.T) {
	k := openTestKeyring(t)
	info, _ := k.CreateKey(bg, CreateKeyInput{})
	ec := EncryptionContext{"x": "y"}
	old, _ := k.GenerateDataKey(bg, info.KeyID, ec)
	if err := k.RotateKey(bg, info.KeyID); err != nil {
		t.Fatal(err)
	}
	if err := k.RotateKey(bg, info.ARN); err != nil {
		t.Fatal(err)
	}
	d, _ := k.DescribeKey(bg, info.KeyID)
	if d.Versions != 3 {
		t.Fatalf("versions %d, want 3", d.Versions)
	}
	fresh, _ := k.GenerateDataKey(bg, info.KeyID, ec)
	if v := binary.BigEndian.Uint32(fresh.Ciphertext[17:21]); v != 3 {
		t.Fatalf("new blob uses version %d, want 3", v)
	}
	for _, dk := range []DataKey{old, fresh} {
		pt, err := k.Decrypt(bg, info.ARN, dk.Ciphertext, ec)
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("decrypt after rotation: %v", err)
		}
	}
	// Rotation survives a reopen.
	k2 := reopen(t, k, testRootKeyString("test", 7))
	if pt, err := k2.Decrypt(bg, info.ARN, old.Ciphertext, ec); err != nil || !bytes.Equal(pt, old.Plaintext) {
		t.Fatalf("old blob after reopen: %v", err)
	}
}

func TestKeyringAsymmetricKeyRefused(t *testing.T) {
	k := openTestKeyring(t)
	for _, spec := range []KeySpec{KeySpecRSA2048, KeySpecECCNISTP256, KeySpecHMAC256} {
		info, err := k.CreateKey(bg, CreateKeyInput{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		if info.Spec != spec {
			t.Fatalf("spec %s", info.Spec)
		}
		_, err = k.GenerateDataKey(bg, info.KeyID, nil)
		wantCode(t, err, ErrInvalidKeyUsage, CodeInvalidKeyUsage)
		_, _, err = k.Encrypt(bg, info.KeyID, []byte("x"), nil)
		wantCode(t, err, ErrInvalidKeyUsage, CodeInvalidKeyUsage)
		_, err = NewEngineAdapter(k).DescribeKey(bg, info.ARN)
		wantCode(t, err, ErrInvalidKeyUsage, CodeInvalidKeyUsage)
		wantCode(t, k.RotateKey(bg, info.KeyID), ErrNotSupported, CodeUnsupported)
	}
	_, err := k.CreateKey(bg, CreateKeyInput{Spec: KeySpecSymmetricDefault, Usage: KeyUsageSignVerify})
	wantCode(t, err, ErrInvalidArgument, CodeValidation)
	_, err = k.CreateKey(bg, CreateKeyInput{Spec: "AES_999"})
	wantCode(t, err, ErrInvalidArgument, CodeValidation)
}

func TestKeyringDefaultKey(t *testing.T) {
	k := openTestKeyring(t)
	// Concurrent first uses create exactly one default key.
	var wg sync.WaitGroup
	arns := make([]string, 8)
	for i := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := ""
			if i%2 == 0 {
				id = DefaultKeyAlias
			}
			dk, err := k.GenerateDataKey(bg, id, nil)
			if err != nil {
				t.Error(err)
				return
			}
			arns[i] = dk.KeyID
		}()
	}
	wg.Wait()
	for _, a := range arns {
		if a != arns[0] {
			t.Fatalf("default key differs: %v", arns)
		}
	}
	keys, _ := k.ListKeys(bg)
	if len(keys) != 1 || !keys[0].AWSManaged || keys[0].Aliases[0] != DefaultKeyAlias {
		t.Fatalf("keys %+v", keys)
	}
	wantCode(t, k.DisableKey(bg, keys[0].KeyID), ErrNotSupported, CodeUnsupported)
	_, err := k.ScheduleKeyDeletion(bg, keys[0].KeyID, 7*24*time.Hour)
	wantCode(t, err, ErrNotSupported, CodeUnsupported)
	wantCode(t, k.CreateAlias(bg, "alias/aws/other", keys[0].KeyID), ErrAccessDenied, CodeNotAuthorized)
	other, _ := k.CreateKey(bg, CreateKeyInput{})
	wantCode(t, k.CreateAlias(bg, "alias/aws/mine", other.KeyID), ErrAccessDenied, CodeNotAuthorized)
	if err := k.RotateKey(bg, DefaultKeyAlias); err != nil {
		t.Fatalf("rotating the default key: %v", err)
	}
}

func TestKeyringAliases(t *testing.T) {
	k := openTestKeyring(t)
	a, _ := k.CreateKey(bg, CreateKeyInput{})
	b, _ := k.CreateKey(bg, CreateKeyInput{Alias: "alias/b"})
	if err := k.CreateAlias(bg, "alias/a1", a.KeyID); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateAlias(bg, "alias/a2", a.ARN); err != nil {
		t.Fatal(err)
	}
	wantCode(t, k.CreateAlias(bg, "alias/a1", b.KeyID), ErrAlreadyExists, CodeAlreadyExists)
	_, err := k.CreateKey(bg, CreateKeyInput{Alias: "alias/b"})
	wantCode(t, err, ErrAlreadyExists, CodeAlreadyExists)
	wantCode(t, k.CreateAlias(bg, "alias/x", "alias/b"), ErrInvalidArgument, CodeValidation)
	wantCode(t, k.CreateAlias(bg, "bad", a.KeyID), ErrInvalidArgument, CodeInvalidAliasName)
	wantCode(t, k.CreateAlias(bg, "alias/sp ace", a.KeyID), ErrInvalidArgument, CodeInvalidAliasName)
	wantCode(t, k.CreateAlias(bg, "alias/y", "11111111-2222-4333-8444-555555555555"), ErrNotFound, CodeNotFound)
	al, _ := k.ListAliases(bg, a.KeyID)
	if len(al) != 2 || al[0].Name != "alias/a1" || al[1].Name != "alias/a2" || al[0].TargetKeyID != a.KeyID {
		t.Fatalf("aliases %+v", al)
	}
	all, _ := k.ListAliases(bg, "")
	if len(all) != 3 {
		t.Fatalf("all aliases %+v", all)
	}
	if err := k.DeleteAlias(bg, "alias/a1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, k.DeleteAlias(bg, "alias/a1"), ErrNotFound, CodeNotFound)
	_, err = k.GenerateDataKey(bg, "alias/a1", nil)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	d, _ := k.DescribeKey(bg, "alias/a2")
	if len(d.Aliases) != 1 || d.Aliases[0] != "alias/a2" {
		t.Fatalf("describe aliases %v", d.Aliases)
	}
}

func TestKeyringEncrypt(t *testing.T) {
	k := openTestKeyring(t)
	ct, arn, err := k.Encrypt(bg, "", []byte("small secret"), EncryptionContext{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Decrypt(bg, arn, ct, EncryptionContext{"k": "v"})
	if err != nil || string(pt) != "small secret" {
		t.Fatalf("%q %v", pt, err)
	}
	_, _, err = k.Encrypt(bg, "", make([]byte, MaxPlaintextSize+1), nil)
	wantCode(t, err, ErrInvalidArgument, CodeValidation)
	_, _, err = k.Encrypt(bg, "", nil, nil)
	wantCode(t, err, ErrInvalidArgument, CodeValidation)
}

func reopen(t *testing.T, k *testKeyring, root string) *Keyring {
	t.Helper()
	k.Close()
	k2, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: envFrom(map[string]string{EnvRootKey: root}), Now: k.clock.Now,
		Logger: slog.New(slog.NewTextHandler(k.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k2.Close() })
	return k2
}

func TestKeyringPersistence(t *testing.T) {
	k := openTestKeyring(t)
	a, _ := k.CreateKey(bg, CreateKeyInput{Description: "persist me", Alias: "alias/p", Tags: map[string]string{"t": "1"}})
	b, _ := k.CreateKey(bg, CreateKeyInput{Spec: KeySpecRSA4096})
	_ = k.DisableKey(bg, b.KeyID)
	dk, _ := k.GenerateDataKey(bg, "alias/p", EncryptionContext{"c": "d"})
	def, _ := k.GenerateDataKey(bg, "", nil)

	raw, err := os.ReadFile(filepath.Join(k.dir, "kms", "keyring.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{dk.Plaintext, def.Plaintext, bytes.Repeat([]byte{7}, 32)} {
		if bytes.Contains(raw, secret) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(secret))) {
			t.Fatal("keyring.json contains secret bytes")
		}
	}
	if bytes.Contains(raw, []byte(a.KeyID)) || bytes.Contains(raw, []byte("persist me")) {
		t.Fatal("keyring.json is not sealed")
	}
	st, _ := os.Stat(filepath.Join(k.dir, "kms", "keyring.json"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("keyring.json mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Join(k.dir, "kms"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}

	k2 := reopen(t, k, testRootKeyString("test", 7))
	keys, _ := k2.ListKeys(bg)
	if len(keys) != 3 {
		t.Fatalf("%d keys after reopen", len(keys))
	}
	got, _ := k2.DescribeKey(bg, "alias/p")
	if got.KeyID != a.KeyID || got.Description != "persist me" || got.State != KeyStateEnabled {
		t.Fatalf("after reopen: %+v", got)
	}
	if gb, _ := k2.DescribeKey(bg, b.ARN); gb.State != KeyStateDisabled || gb.Spec != KeySpecRSA4096 {
		t.Fatalf("after reopen: %+v", gb)
	}
	if pt, err := k2.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"c": "d"}); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("decrypt after reopen: %v", err)
	}
	if dd, _ := k2.GenerateDataKey(bg, "", nil); dd.KeyID != def.KeyID {
		t.Fatal("default key changed after reopen")
	}
}

func TestKeyringWrongRootKey(t *testing.T) {
	k := openTestKeyring(t)
	k.CreateKey(bg, CreateKeyInput{})
	k.Close()
	for name, root := range map[string]string{
		"same name, other key": testRootKeyString("test", 8),
		"other name":           testRootKeyString("other", 7),
	} {
		_, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: envFrom(map[string]string{EnvRootKey: root})})
		if !errors.Is(err, ErrRootKey) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// With no root key at all, an existing keyring is not silently replaced.
	_, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: envFrom(nil)})
	if !errors.Is(err, ErrRootKey) {
		t.Fatalf("no root key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(k.dir, "kms", "root.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a root key was generated for an existing keyring")
	}
	// Tampering with the file is detected.
	path := filepath.Join(k.dir, "kms", "keyring.json")
	raw, _ := os.ReadFile(path)
	var env map[string]any
	if err := jsonUnmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	sealed, _ := base64.StdEncoding.DecodeString(env["sealed"].(string))
	sealed[len(sealed)/2] ^= 1
	env["sealed"] = base64.StdEncoding.EncodeToString(sealed)
	os.WriteFile(path, jsonMarshal(t, env), 0o600)
	_, err = OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: envFrom(map[string]string{EnvRootKey: testRootKeyString("test", 7)})})
	if !errors.Is(err, ErrRootKey) {
		t.Fatalf("tampered file: %v", err)
	}
}

func TestKeyringRootKeySources(t *testing.T) {
	t.Run("generated", func(t *testing.T) {
		dir := t.TempDir()
		logs := &syncBuffer{}
		k, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: envFrom(nil), Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		dk, _ := k.GenerateDataKey(bg, "", nil)
		k.Close()
		mustContain(t, logs.String(), "GENERATED A NEW KEYRING ROOT KEY")
		st, err := os.Stat(filepath.Join(dir, "kms", "root.key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("root.key: %v %v", err, st)
		}
		logs2 := &syncBuffer{}
		k2, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: envFrom(nil), Logger: slog.New(slog.NewTextHandler(logs2, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer k2.Close()
		mustContain(t, logs2.String(), "inside the data directory")
		if pt, err := k2.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil); err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("reopen with generated root key: %v", err)
		}
		rootBytes, _ := os.ReadFile(filepath.Join(dir, "kms", "root.key"))
		if strings.Contains(logs.String()+logs2.String(), strings.TrimSpace(string(rootBytes))[len("generated:"):]) {
			t.Fatal("root key logged")
		}
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		keyFile := filepath.Join(t.TempDir(), "root")
		os.WriteFile(keyFile, []byte(testRootKeyString("fromfile", 3)+"\n"), 0o600)
		k, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: envFrom(map[string]string{EnvRootKeyFile: keyFile})})
		if err != nil {
			t.Fatal(err)
		}
		k.CreateKey(bg, CreateKeyInput{})
		k.Close()
		if _, err := os.Stat(filepath.Join(dir, "kms", "root.key")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("root.key written although a key file was given")
		}
		// The same key via the variable opens it too.
		k2, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: envFrom(map[string]string{EnvRootKey: testRootKeyString("fromfile", 3)})})
		if err != nil {
			t.Fatal(err)
		}
		k2.Close()
	})
	t.Run("explicit", func(t *testing.T) {
		rk, err := NewRootKey("explicit", bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		k, err := OpenKeyring(KeyringOptions{Dir: t.TempDir(), RootKey: rk, Getenv: envFrom(map[string]string{EnvRootKey: "garbage"})})
		if err != nil {
			t.Fatal(err)
		}
		k.Close()
		if strings.Contains(fmt.Sprintf("%v %+v %#v", rk, rk, rk), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))) {
			t.Fatal("root key printed")
		}
	})
	t.Run("errors", func(t *testing.T) {
		for name, env := range map[string]map[string]string{
			"both":       {EnvRootKey: testRootKeyString("a", 1), EnvRootKeyFile: "/nonexistent"},
			"short":      {EnvRootKey: "a:" + base64.StdEncoding.EncodeToString(make([]byte, 16))},
			"no name":    {EnvRootKey: ":" + base64.StdEncoding.EncodeToString(make([]byte, 32))},
			"no colon":   {EnvRootKey: base64.StdEncoding.EncodeToString(make([]byte, 32))},
			"not base64": {EnvRootKey: "a:!!!!"},
			"no file":    {EnvRootKeyFile: "/nonexistent/root.key"},
		} {
			_, err := OpenKeyring(KeyringOptions{Dir: t.TempDir(), Getenv: envFrom(env)})
			if !errors.Is(err, ErrRootKey) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestKeyringOptionsValidate(t *testing.T) {
	err := (&KeyringOptions{Region: "US EAST", AccountID: "12"}).Validate()
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, want := range []string{"Dir", "Region", "AccountID"} {
		mustContain(t, err.Error(), want)
	}
	// Region and account are fixed at creation.
	dir := t.TempDir()
	env := envFrom(map[string]string{EnvRootKey: testRootKeyString("r", 1)})
	k, err := OpenKeyring(KeyringOptions{Dir: dir, Region: "eu-central-1", AccountID: "123456789012", Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := k.GenerateDataKey(bg, "", nil)
	if !strings.HasPrefix(dk.KeyID, "arn:aws:kms:eu-central-1:123456789012:key/") {
		t.Fatalf("ARN %s", dk.KeyID)
	}
	k.Close()
	if _, err := OpenKeyring(KeyringOptions{Dir: dir, Region: "us-west-2", Getenv: env}); err == nil {
		t.Fatal("opened with another region")
	}
	k2, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if k2.Region() != "eu-central-1" || k2.AccountID() != "123456789012" {
		t.Fatal("stored region/account not used")
	}
}

func TestKeyringFailedWriteLeavesStateUnchanged(t *testing.T) {
	fr := &failingReader{r: rand.Reader}
	dir := t.TempDir()
	env := envFrom(map[string]string{EnvRootKey: testRootKeyString("r", 1)})
	k, err := OpenKeyring(KeyringOptions{Dir: dir, Getenv: env, Rand: fr})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	a, _ := k.CreateKey(bg, CreateKeyInput{})
	fr.set(true)
	_, err = k.CreateKey(bg, CreateKeyInput{Alias: "alias/never"})
	wantCode(t, err, ErrUnavailable, CodeInternal)
	wantCode(t, k.DisableKey(bg, a.KeyID), ErrUnavailable, CodeInternal)
	fr.set(false)
	keys, _ := k.ListKeys(bg)
	if len(keys) != 1 || keys[0].State != KeyStateEnabled {
		t.Fatalf("state changed by failed writes: %+v", keys)
	}
	if _, err := k.DescribeKey(bg, "alias/never"); !errors.Is(err, ErrNotFound) {
		t.Fatal("alias of failed CreateKey exists")
	}
}

func TestKeyringIndependentInstancesAndClose(t *testing.T) {
	a := openTestKeyring(t)
	b := openTestKeyring(t)
	dk, _ := a.GenerateDataKey(bg, "", nil)
	if _, err := b.Decrypt(bg, "", dk.Ciphertext, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other keyring decrypted: %v", err)
	}
	a.Close()
	_, err := a.Decrypt(bg, "", dk.Ciphertext, nil)
	wantCode(t, err, ErrClosed, CodeInternal)
	if _, err := b.GenerateDataKey(bg, "", nil); err != nil {
		t.Fatal(err)
	}
}

func TestKeyringConcurrent(t *testing.T) {
	k := openTestKeyring(t)
	info, _ := k.CreateKey(bg, CreateKeyInput{Alias: "alias/c"})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := EncryptionContext{"g": fmt.Sprint(g)}
			for i := 0; i < 50; i++ {
				dk, err := k.GenerateDataKey(bg, "alias/c", ec)
				if err != nil {
					t.Error(err)
					return
				}
				pt, err := k.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
				if err != nil || !bytes.Equal(pt, dk.Plaintext) {
					t.Error("round trip failed", err)
					return
				}
				if g == 0 && i%10 == 0 {
					if err := k.RotateKey(bg, info.KeyID); err != nil {
						t.Error(err)
					}
					if _, err := k.CreateKey(bg, CreateKeyInput{}); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestKeyringContextCanceled(t *testing.T) {
	k := openTestKeyring(t)
	ctx, cancel := contextWithCancel()
	cancel()
	_, err := k.GenerateDataKey(ctx, "", nil)
	wantCode(t, err, ErrUnavailable, CodeInternal)
}

func TestKeyringDirectoryLock(t *testing.T) {
	k := openTestKeyring(t)
	env := envFrom(map[string]string{EnvRootKey: testRootKeyString("test", 7)})
	if _, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: env}); !errors.Is(err, ErrKeyringLocked) {
		t.Fatalf("second open of a directory: %v", err)
	}
	k.Close()
	k2, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: env})
	if err != nil {
		t.Fatalf("open after Close: %v", err)
	}
	k2.Close()
	// A failed open releases the lock.
	if _, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: envFrom(map[string]string{EnvRootKey: testRootKeyString("test", 8)})}); !errors.Is(err, ErrRootKey) {
		t.Fatal(err)
	}
	k3, err := OpenKeyring(KeyringOptions{Dir: k.dir, Getenv: env})
	if err != nil {
		t.Fatalf("open after a failed open: %v", err)
	}
	k3.Close()
}
