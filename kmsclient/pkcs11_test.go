//go:build pkcs11 && cgo

package kmsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
)

// The PKCS#11 tests run against a real SoftHSM2 token made in a temporary
// directory (kms.md §3.4). They need `apt-get install softhsm2` and are
// skipped when its module is missing, unless COFFER_REQUIRE_SOFTHSM=1.
// COFFER_SOFTHSM_MODULE names the module where it is not at the Debian
// path.
// They never run in parallel: a PKCS#11 module is initialised once per
// process, and SoftHSM2 reads SOFTHSM2_CONF when it is initialised.

const (
	testToken = "coffer-test"
	testPIN   = "1234"
	testSOPIN = "12345678"
)

type softHSM struct {
	dir, conf string
}

// softHSMModule returns the path of the SoftHSM2 PKCS#11 library.
func softHSMModule() string {
	if m := os.Getenv("COFFER_SOFTHSM_MODULE"); m != "" {
		return m
	}
	return "/usr/lib/softhsm/libsofthsm2.so"
}

// newSoftHSM makes a fresh SoftHSM2 token store with one initialised
// token and points SOFTHSM2_CONF at it for the rest of the test.
func newSoftHSM(t *testing.T) *softHSM {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("COFFER_REQUIRE_SOFTHSM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (install softhsm2; COFFER_REQUIRE_SOFTHSM=1 turns this skip into a failure)")
	}
	if _, err := os.Stat(softHSMModule()); err != nil {
		skip("SoftHSM2 module: %v", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		skip("softhsm2-util: %v", err)
	}
	h := &softHSM{dir: t.TempDir()}
	tokens := filepath.Join(h.dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	h.conf = filepath.Join(h.dir, "softhsm2.conf")
	conf := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(h.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", h.conf)
	cmd := exec.Command(util, "--init-token", "--free", "--label", testToken, "--so-pin", testSOPIN, "--pin", testPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+h.conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return h
}

func (h *softHSM) open(t *testing.T, opts PKCS11Options) *PKCS11 {
	t.Helper()
	if opts.Module == "" {
		opts.Module = softHSMModule()
	}
	if opts.TokenLabel == "" {
		opts.TokenLabel = testToken
	}
	if opts.PIN == "" {
		opts.PIN = testPIN
	}
	p, err := OpenPKCS11(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawKey makes a secret key with the given template on the token through
// the backend's own session pool, for keys the backend would not make.
func rawKey(t *testing.T, p *PKCS11, mech uint, attrs ...*pkcs11.Attribute) {
	t.Helper()
	err := p.withSession(bg, "test", "", func(s pkcs11.SessionHandle) error {
		_, err := p.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, attrs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPKCS11RoundTrip(t *testing.T) {
	h := newSoftHSM(t)
	p := h.open(t, PKCS11Options{})
	info, err := p.CreateKey(bg, "master")
	if err != nil {
		t.Fatal(err)
	}
	if info.KeyID != "master" || info.State != KeyStateEnabled || info.Spec != KeySpecSymmetricDefault || info.Usage != KeyUsageEncryptDecrypt {
		t.Fatalf("created %+v", info)
	}
	if strings.Contains(info.Description, "extractable") {
		t.Errorf("created key is extractable: %s", info.Description)
	}
	if _, err := p.CreateKey(bg, "master"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second CreateKey: %v", err)
	}
	// The key value never leaves the token.
	err = p.withSession(bg, "test", "", func(s pkcs11.SessionHandle) error {
		obj, err := p.findKey(s, "test", "", "master")
		if err != nil {
			return err
		}
		_, err = p.mod.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
			return fmt.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bkt/obj", "b": "2", "a": "1"}
	dk, err := p.GenerateDataKey(bg, "master", ec)
	if err != nil {
		t.Fatal(err)
	}
	if dk.KeyID != "master" || len(dk.Plaintext) != 32 || len(dk.Ciphertext) != 2+len("master")+pkcs11IVLen+32+pkcs11TagLen {
		t.Fatalf("data key %v", dk)
	}
	if bytes.Contains(dk.Ciphertext, dk.Plaintext) {
		t.Fatal("plaintext inside the blob")
	}
	for _, keyID := range []string{"master", ""} {
		pt, err := p.Decrypt(bg, keyID, dk.Ciphertext, EncryptionContext{"a": "1", "b": "2", "aws:s3:arn": "arn:aws:s3:::bkt/obj"})
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("decrypt with key id %q: %v", keyID, err)
		}
	}
	// Two data keys differ, in plaintext and IV.
	dk2, err := p.GenerateDataKey(bg, "master", ec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(dk.Plaintext, dk2.Plaintext) || bytes.Equal(dk.Ciphertext[8:20], dk2.Ciphertext[8:20]) {
		t.Fatal("repeated data key or IV")
	}
	// Sizes and WithoutPlaintext.
	small, err := p.GenerateDataKey(bg, "master", nil, WithNumberOfBytes(16))
	if err != nil || len(small.Plaintext) != 16 {
		t.Fatalf("16-byte key: %v %v", small, err)
	}
	if pt, err := p.Decrypt(bg, "master", small.Ciphertext, EncryptionContext{}); err != nil || !bytes.Equal(pt, small.Plaintext) {
		t.Fatalf("16-byte key decrypt: %v", err)
	}
	np, err := p.GenerateDataKey(bg, "master", ec, WithoutPlaintext())
	if err != nil || np.Plaintext != nil {
		t.Fatalf("without plaintext: %v %v", np, err)
	}
	if pt, err := p.Decrypt(bg, "master", np.Ciphertext, ec); err != nil || len(pt) != 32 {
		t.Fatalf("decrypt of a key made without plaintext: %v", err)
	}
	if _, err := p.GenerateDataKey(bg, "master", ec, WithNumberOfBytes(0)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("0-byte key: %v", err)
	}

	// The key persists on the token: a new session pool (after Close)
	// opens the old blob.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = p.GenerateDataKey(bg, "master", ec)
	wantCode(t, err, ErrClosed, CodeInternal)
	p2 := h.open(t, PKCS11Options{})
	if pt, err := p2.Decrypt(bg, "master", dk.Ciphertext, ec); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("decrypt after reopening: %v", err)
	}
}

// TestPKCS11WrongInputs: a wrong, missing or extra context, a blob of
// another key, a damaged blob and unknown labels fail with the errors AWS
// uses, and the backend keeps working afterwards.
func TestPKCS11WrongInputs(t *testing.T) {
	h := newSoftHSM(t)
	p := h.open(t, PKCS11Options{MaxSessions: 2})
	for _, l := range []string{"k1", "k2"} {
		if _, err := p.CreateKey(bg, l); err != nil {
			t.Fatal(err)
		}
	}
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bkt/obj"}
	dk, err := p.GenerateDataKey(bg, "k1", ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []EncryptionContext{
		{"aws:s3:arn": "arn:aws:s3:::bkt/other"}, // wrong value
		{"AWS:S3:ARN": "arn:aws:s3:::bkt/obj"},   // wrong case
		nil,                                      // missing
		{"aws:s3:arn": "arn:aws:s3:::bkt/obj", "x": "y"}, // extra pair
	} {
		_, err := p.Decrypt(bg, "k1", dk.Ciphertext, other)
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	}
	// A blob of k1 presented as k2's: refused before the token is asked.
	_, err = p.Decrypt(bg, "k2", dk.Ciphertext, ec)
	wantCode(t, err, ErrInvalidCiphertext, CodeIncorrectKey)
	// The same sealed bytes relabelled as k2's: the token refuses them.
	relabelled := append([]byte{1, 2}, "k2"...)
	relabelled = append(relabelled, dk.Ciphertext[2+2:]...)
	_, err = p.Decrypt(bg, "k2", relabelled, ec)
	wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	// Every flipped byte after the header (IV, ciphertext, tag) fails.
	for i := 2 + 2; i < len(dk.Ciphertext); i++ {
		bad := bytes.Clone(dk.Ciphertext)
		bad[i] ^= 0x01
		_, err := p.Decrypt(bg, "k1", bad, ec)
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	}
	for _, bad := range [][]byte{nil, {1}, dk.Ciphertext[:len(dk.Ciphertext)-1-pkcs11TagLen], append([]byte{9}, dk.Ciphertext[1:]...)} {
		_, err := p.Decrypt(bg, "k1", bad, ec)
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	}
	// Unknown labels.
	_, err = p.GenerateDataKey(bg, "nope", ec)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	_, err = p.DescribeKey(bg, "nope")
	wantCode(t, err, ErrNotFound, CodeNotFound)
	_, err = p.DescribeKey(bg, "alias/photos")
	wantCode(t, err, ErrNotFound, CodeNotFound)
	gone := append([]byte{1, 4}, "nope"...)
	gone = append(gone, dk.Ciphertext[2+2:]...)
	_, err = p.Decrypt(bg, "", gone, ec)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	// Still healthy.
	if pt, err := p.Decrypt(bg, "k1", dk.Ciphertext, ec); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("decrypt after failures: %v", err)
	}
	if err := p.Check(bg); err != nil {
		t.Fatal(err)
	}
}

// TestPKCS11DescribeKey: the default key is created on first use; a key
// that may not encrypt is disabled; a non-AES key is not a symmetric
// encryption key, and the engine adapter refuses both.
func TestPKCS11DescribeKey(t *testing.T) {
	h := newSoftHSM(t)
	p := h.open(t, PKCS11Options{DefaultKey: "s3-default"})
	info, err := p.DescribeKey(bg, "alias/aws/s3")
	if err != nil {
		t.Fatal(err)
	}
	if info.KeyID != "s3-default" || !info.AWSManaged || info.CheckUsable() != nil {
		t.Fatalf("default key %+v", info)
	}
	dk, err := p.GenerateDataKey(bg, "", nil)
	if err != nil || dk.KeyID != "s3-default" {
		t.Fatalf("default data key: %v %v", dk, err)
	}
	if pt, err := p.Decrypt(bg, DefaultKeyAlias, dk.Ciphertext, nil); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("decrypt under alias/aws/s3: %v", err)
	}
	ad := NewEngineAdapter(p)
	if id, err := ad.DescribeKey(bg, ""); err != nil || id != "s3-default" {
		t.Fatalf("adapter describe: %q %v", id, err)
	}

	common := func(label string) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}
	}
	rawKey(t, p, pkcs11.CKM_AES_KEY_GEN, append(common("off"),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))...)
	rawKey(t, p, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, append(common("hmac"),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))...)
	rawKey(t, p, pkcs11.CKM_AES_KEY_GEN, append(common("aes128"),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 16),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))...)

	off, err := p.DescribeKey(bg, "off")
	if err != nil || off.State != KeyStateDisabled {
		t.Fatalf("key without CKA_ENCRYPT: %+v %v", off, err)
	}
	_, err = ad.DescribeKey(bg, "off")
	wantCode(t, err, ErrDisabled, CodeDisabled)
	_, err = p.GenerateDataKey(bg, "off", nil)
	wantCode(t, err, ErrDisabled, CodeDisabled)

	hm, err := p.DescribeKey(bg, "hmac")
	if err != nil || hm.Spec == KeySpecSymmetricDefault || hm.Usage == KeyUsageEncryptDecrypt {
		t.Fatalf("generic secret: %+v %v", hm, err)
	}
	_, err = ad.DescribeKey(bg, "hmac")
	wantCode(t, err, ErrInvalidKeyUsage, CodeInvalidKeyUsage)
	_, err = p.GenerateDataKey(bg, "hmac", nil)
	if !errors.Is(err, ErrInvalidKeyUsage) && !errors.Is(err, ErrDisabled) {
		t.Fatalf("data key under a generic secret: %v", err)
	}

	a128, err := p.DescribeKey(bg, "aes128")
	if err != nil || a128.Spec != "AES_128" || a128.State != KeyStateEnabled {
		t.Fatalf("AES-128 key: %+v %v", a128, err)
	}
	_, err = ad.DescribeKey(bg, "aes128")
	wantCode(t, err, ErrInvalidKeyUsage, CodeInvalidKeyUsage)
}

// TestPKCS11Concurrent runs more goroutines than sessions; every data key
// opens again, and no goroutine sees another's key.
func TestPKCS11Concurrent(t *testing.T) {
	h := newSoftHSM(t)
	p := h.open(t, PKCS11Options{MaxSessions: 3})
	if _, err := p.CreateKey(bg, "shared"); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 12, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ec := EncryptionContext{"aws:s3:arn": fmt.Sprintf("arn:aws:s3:::b/%d/%d", w, r)}
				keyID := "shared"
				if r%5 == 0 {
					keyID = "" // the default key, created by whichever worker comes first
				}
				dk, err := p.GenerateDataKey(bg, keyID, ec)
				if err != nil {
					errs <- err
					return
				}
				pt, err := p.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
				if err != nil || !bytes.Equal(pt, dk.Plaintext) {
					errs <- fmt.Errorf("worker %d round %d: decrypt: %v", w, r, err)
					return
				}
				if r%7 == 0 { // failures retire sessions; the pool refills
					if _, err := p.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil); !errors.Is(err, ErrInvalidCiphertext) {
						errs <- fmt.Errorf("worker %d: wrong context: %v", w, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One default key, however many workers raced to create it.
	err := p.withSession(bg, "test", "", func(s pkcs11.SessionHandle) error {
		_, err := p.findKey(s, "test", "", DefaultPKCS11Key)
		return err
	})
	if err != nil {
		t.Fatalf("default key after the race: %v", err)
	}
	if n := len(p.idle); n > 3 {
		t.Fatalf("%d idle sessions, pool size 3", n)
	}
}

// TestPKCS11PoolWaitsAndCloses: with every session busy, a call waits
// until its context ends; Close waits for the busy session.
func TestPKCS11PoolWaitsAndCloses(t *testing.T) {
	h := newSoftHSM(t)
	p := h.open(t, PKCS11Options{MaxSessions: 1})
	if _, err := p.CreateKey(bg, "k"); err != nil {
		t.Fatal(err)
	}
	s, err := p.acquire(bg, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err = p.GenerateDataKey(ctx, "k", nil)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("busy pool, cancelled context: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	// Close cannot finish while the session is out; new calls fail.
	<-p.done
	_, err = p.GenerateDataKey(bg, "k", nil)
	wantCode(t, err, ErrClosed, CodeInternal)
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a session in use", err)
	default:
	}
	p.release(s, true)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// TestPKCS11OpenErrors: a wrong PIN, a missing token, a missing module and
// a second instance on one module are refused at open.
func TestPKCS11OpenErrors(t *testing.T) {
	newSoftHSM(t)
	_, err := OpenPKCS11(bg, PKCS11Options{Module: softHSMModule(), TokenLabel: testToken, PIN: "9999"})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		t.Fatalf("wrong PIN: %v", err)
	}
	_, err = OpenPKCS11(bg, PKCS11Options{Module: softHSMModule(), TokenLabel: testToken})
	if err == nil || !strings.Contains(err.Error(), "needs a PIN") {
		t.Fatalf("no PIN: %v", err)
	}
	_, err = OpenPKCS11(bg, PKCS11Options{Module: softHSMModule(), TokenLabel: "other", PIN: testPIN})
	if err == nil || !strings.Contains(err.Error(), `no initialised token labelled "other"`) {
		t.Fatalf("unknown token: %v", err)
	}
	_, err = OpenPKCS11(bg, PKCS11Options{Module: filepath.Join(t.TempDir(), "missing.so"), TokenLabel: testToken, PIN: testPIN})
	if err == nil || !strings.Contains(err.Error(), "cannot load module") {
		t.Fatalf("missing module: %v", err)
	}
	p, err := OpenPKCS11(bg, PKCS11Options{Module: softHSMModule(), TokenLabel: testToken, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = OpenPKCS11(bg, PKCS11Options{Module: softHSMModule(), TokenLabel: testToken, PIN: testPIN})
	if err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Fatalf("second instance: %v", err)
	}
	// The first one is unharmed.
	if _, err := p.GenerateDataKey(bg, "", nil); err != nil {
		t.Fatal(err)
	}
}

// TestOpenPKCS11URI opens the token through a pkcs11: URI, the PIN from
// a pin_file= or from COFFER_KMS_PKCS11_PIN, with the cache in front.
func TestOpenPKCS11URI(t *testing.T) {
	h := newSoftHSM(t)
	pinFile := filepath.Join(h.dir, "pin")
	if err := os.WriteFile(pinFile, []byte(testPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "pkcs11:?module=" + softHSMModule() + "&token=" + testToken + "&key=master&sessions=2"
	km, err := Open(bg, Config{URI: base + "&pin_file=" + pinFile, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := km.(interface{ Unwrap() KeyManager }).Unwrap().(*Cache); !ok {
		t.Fatal("pkcs11: no cache in front")
	}
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b"}
	dk, err := km.GenerateDataKey(bg, "", ec)
	if err != nil || dk.KeyID != "master" {
		t.Fatalf("generate: %v %v", dk, err)
	}
	if err := km.(HealthChecker).Check(bg); err != nil {
		t.Fatal(err)
	}
	if err := km.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bg, Config{URI: base, Getenv: envFrom(map[string]string{EnvPKCS11PIN: "0000"})}); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("wrong PIN by env: %v", err)
	}
	km, err = Open(bg, Config{URI: base, Getenv: envFrom(map[string]string{EnvPKCS11PIN: testPIN}), NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer km.Close()
	if pt, err := km.Decrypt(bg, "master", dk.Ciphertext, ec); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("decrypt after reopening by URI: %v", err)
	}
	ad := NewEngineAdapter(km)
	p, c, id, err := ad.GenerateDataKey(bg, "master", map[string]string{"k": "v"})
	if err != nil || id != "master" {
		t.Fatal(err)
	}
	if pt, err := ad.Decrypt(bg, id, c, map[string]string{"k": "v"}); err != nil || !bytes.Equal(pt, p) {
		t.Fatalf("adapter: %v", err)
	}
}
