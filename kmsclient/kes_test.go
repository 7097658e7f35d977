package kmsclient

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The KES tests build KES v0.23.0 from tools/kes/kes.mod (a separate
// module file, so KES and its AGPL code never enter Coffer's go.mod) and
// run it on 127.0.0.1. Set COFFER_KES_BIN to use a prebuilt binary, and
// COFFER_REQUIRE_KES=1 to fail instead of skip when it cannot be built.
// They are skipped with -short.

var kesBuild struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func kesBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping KES tests in -short mode (they build and start a KES server)")
	}
	if p := os.Getenv("COFFER_KES_BIN"); p != "" {
		return p
	}
	root := repoRoot(t)
	kesBuild.once.Do(func() {
		// The cached binary is keyed by the module file, so a version bump
		// rebuilds.
		modfile, err := os.ReadFile(filepath.Join(root, "tools", "kes", "kes.mod"))
		if err != nil {
			kesBuild.err = err
			return
		}
		sum := sha256.Sum256(modfile)
		dir := filepath.Join(os.TempDir(), "coffer-kes-"+hex.EncodeToString(sum[:6]))
		kesBuild.path = filepath.Join(dir, "kes")
		if _, err := os.Stat(kesBuild.path); err == nil {
			return
		}
		if kesBuild.err = os.MkdirAll(dir, 0o755); kesBuild.err != nil {
			return
		}
		tmp := fmt.Sprintf("%s.%d", kesBuild.path, os.Getpid())
		cmd := exec.Command("go", "build", "-modfile="+filepath.Join(root, "tools", "kes", "kes.mod"), "-trimpath", "-o", tmp, "github.com/minio/kes/cmd/kes")
		cmd.Dir = root
		kesBuild.out, kesBuild.err = cmd.CombinedOutput()
		if kesBuild.err == nil {
			kesBuild.err = os.Rename(tmp, kesBuild.path)
		}
	})
	if kesBuild.err != nil {
		msg := fmt.Sprintf("cannot build KES v0.23.0 with -modfile=tools/kes/kes.mod: %v\n%s", kesBuild.err, kesBuild.out)
		if os.Getenv("COFFER_REQUIRE_KES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return kesBuild.path
}

type kesServer struct {
	endpoint string
	roots    *x509.CertPool
	adminKey string
	appKey   string
	cmd      *exec.Cmd
	logs     *syncBuffer
	stopOnce sync.Once
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeServerCert writes a self-signed P-256 certificate for 127.0.0.1.
func writeServerCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "server.cert"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// startKES starts KES with a file keystore, an admin identity and an "app"
// identity that may only use keys named app-*.
func startKES(t *testing.T) *kesServer {
	t.Helper()
	bin := kesBinary(t)
	dir := t.TempDir()
	s := &kesServer{roots: writeServerCert(t, dir), logs: &syncBuffer{}}
	var err error
	if s.adminKey, err = GenerateKESAPIKey(); err != nil {
		t.Fatal(err)
	}
	if s.appKey, err = GenerateKESAPIKey(); err != nil {
		t.Fatal(err)
	}
	adminID, _ := KESIdentity(s.adminKey)
	appID, _ := KESIdentity(s.appKey)
	port := freePort(t)
	s.endpoint = fmt.Sprintf("https://127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`version: v1
address: 127.0.0.1:%d
admin:
  identity: %s
tls:
  key: %s
  cert: %s
cache:
  expiry:
    any: 5m0s
    unused: 20s
policy:
  app:
    allow:
    - /v1/key/create/app-*
    - /v1/key/generate/app-*
    - /v1/key/decrypt/app-*
    - /v1/key/encrypt/app-*
    - /v1/key/describe/app-*
    identities:
    - %s
keystore:
  fs:
    path: %s
`, port, adminID, filepath.Join(dir, "server.key"), filepath.Join(dir, "server.cert"), appID, filepath.Join(dir, "keys"))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "server", "--config", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	admin := s.client(t, s.adminKey)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(bg, time.Second)
		err := admin.Check(ctx)
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("KES did not become ready: %v\nlogs:\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server process this test started.
func (s *kesServer) stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
}

func (s *kesServer) client(t *testing.T, apiKey string) *KESClient {
	t.Helper()
	c, err := NewKESClient(KESOptions{Endpoint: s.endpoint, APIKey: apiKey, RootCAs: s.roots, MaxAttempts: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestKES(t *testing.T) {
	s := startKES(t)
	admin := s.client(t, s.adminKey)
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object", "k": "v"}

	t.Run("round trip", func(t *testing.T) {
		if err := admin.CreateKey(bg, "k1"); err != nil {
			t.Fatal(err)
		}
		dk, err := admin.GenerateDataKey(bg, "k1", ec)
		if err != nil {
			t.Fatal(err)
		}
		if dk.KeyID != "k1" || len(dk.Plaintext) != 32 {
			t.Fatalf("%s %d", dk.KeyID, len(dk.Plaintext))
		}
		pt, err := admin.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"k": "v", "aws:s3:arn": "arn:aws:s3:::bucket/object"})
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("decrypt: %v", err)
		}
		ct, name, err := admin.Encrypt(bg, "k1", []byte("small"), ec)
		if err != nil || name != "k1" {
			t.Fatal(err)
		}
		if pt, err := admin.Decrypt(bg, "k1", ct, ec); err != nil || string(pt) != "small" {
			t.Fatalf("encrypt round trip: %v", err)
		}
		info, err := admin.DescribeKey(bg, "k1")
		if err != nil || info.KeyID != "k1" || info.CheckUsable() != nil || info.CreatedAt.IsZero() {
			t.Fatalf("describe: %+v %v", info, err)
		}
		_, err = admin.GenerateDataKey(bg, "k1", nil, WithNumberOfBytes(16))
		wantCode(t, err, ErrNotSupported, CodeUnsupported)
		wantCode(t, admin.CreateKey(bg, "k1"), ErrAlreadyExists, CodeAlreadyExists)
	})

	t.Run("default key", func(t *testing.T) {
		ad := NewEngineAdapter(admin)
		pt, blob, id, err := ad.GenerateDataKey(bg, "", ec)
		if err != nil || id != DefaultKESKey {
			t.Fatalf("%q %v", id, err)
		}
		got, err := ad.Decrypt(bg, id, blob, ec)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatal(err)
		}
		if id2, err := ad.DescribeKey(bg, DefaultKeyAlias); err != nil || id2 != DefaultKESKey {
			t.Fatalf("%q %v", id2, err)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		_, err := admin.GenerateDataKey(bg, "nope", ec)
		wantCode(t, err, ErrNotFound, CodeNotFound)
		_, err = admin.DescribeKey(bg, "nope")
		wantCode(t, err, ErrNotFound, CodeNotFound)
		dk, _ := admin.GenerateDataKey(bg, "k1", ec)
		_, err = admin.Decrypt(bg, "nope", dk.Ciphertext, ec)
		wantCode(t, err, ErrNotFound, CodeNotFound)
		_, err = NewEngineAdapter(admin).DescribeKey(bg, "alias/some-alias")
		wantCode(t, err, ErrNotFound, CodeNotFound)
	})

	t.Run("wrong context", func(t *testing.T) {
		dk, err := admin.GenerateDataKey(bg, "k1", ec)
		if err != nil {
			t.Fatal(err)
		}
		for name, bad := range map[string]EncryptionContext{"missing": nil, "other": {"k": "w"}, "extra": {"k": "v", "aws:s3:arn": "arn:aws:s3:::bucket/object", "x": "y"}} {
			pt, err := admin.Decrypt(bg, "k1", dk.Ciphertext, bad)
			if pt != nil {
				t.Fatalf("%s: plaintext released", name)
			}
			wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
		}
		// A blob from another key.
		admin.CreateKey(bg, "k2")
		_, err = admin.Decrypt(bg, "k2", dk.Ciphertext, ec)
		wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	})

	t.Run("access denied", func(t *testing.T) {
		app := s.client(t, s.appKey)
		if err := app.CreateKey(bg, "app-one"); err != nil {
			t.Fatal(err)
		}
		if _, err := app.GenerateDataKey(bg, "app-one", ec); err != nil {
			t.Fatal(err)
		}
		_, err := app.GenerateDataKey(bg, "k1", ec)
		wantCode(t, err, ErrAccessDenied, CodeAccessDenied)
	})

	t.Run("server down", func(t *testing.T) {
		dk, err := admin.GenerateDataKey(bg, "k1", ec)
		if err != nil {
			t.Fatal(err)
		}
		cache, err := NewCache(admin, CacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close()
		if _, err := cache.Decrypt(bg, "k1", dk.Ciphertext, ec); err != nil {
			t.Fatal(err)
		}
		s.stop()
		_, err = admin.GenerateDataKey(bg, "k1", ec)
		wantCode(t, err, ErrUnavailable, CodeInternal)
		_, _, _, err = NewEngineAdapter(admin).GenerateDataKey(bg, "k1", ec)
		wantCode(t, err, ErrUnavailable, CodeInternal)
		// The cached key still opens while KES is down; an uncached one does not.
		pt, err := cache.Decrypt(bg, "k1", dk.Ciphertext, ec)
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("cached read with KES down: %v", err)
		}
		other, _ := hexBlob(dk.Ciphertext)
		_, err = cache.Decrypt(bg, "k1", other, ec)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("uncached read with KES down: %v", err)
		}
	})
}

// hexBlob returns a different (uncached) blob of the same size.
func hexBlob(b []byte) ([]byte, error) {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c, nil
}
