package kmsclient

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBackendURI(t *testing.T) {
	good := []struct {
		uri  string
		want backendSpec
	}{
		{"local:", backendSpec{scheme: SchemeLocal}},
		{"builtin:", backendSpec{scheme: SchemeLocal}},
		{"local:?region=eu-west-1&account=123456789012", backendSpec{scheme: SchemeLocal, region: "eu-west-1", account: "123456789012"}},
		{"local:?root_key_file=/etc/coffer/root.key", backendSpec{scheme: SchemeLocal, rootKeyFile: "/etc/coffer/root.key"}},
		{"aws-kms://us-east-2", backendSpec{scheme: SchemeAWSKMS, region: "us-east-2"}},
		{"aws-kms://us-east-2/", backendSpec{scheme: SchemeAWSKMS, region: "us-east-2"}},
		{"aws-kms://", backendSpec{scheme: SchemeAWSKMS}},
		{"aws-kms://eu-central-1?endpoint=http://127.0.0.1:4599", backendSpec{scheme: SchemeAWSKMS, region: "eu-central-1", endpoint: "http://127.0.0.1:4599"}},
		{"aws-kms://eu-central-1?endpoint=https%3A%2F%2Fkms.example.com%2F", backendSpec{scheme: SchemeAWSKMS, region: "eu-central-1", endpoint: "https://kms.example.com/"}},
		{"kes://127.0.0.1:7373", backendSpec{scheme: SchemeKES, kesEndpoint: "https://127.0.0.1:7373"}},
		{"kes://kes.example.com", backendSpec{scheme: SchemeKES, kesEndpoint: "https://kes.example.com"}},
		{"kes://[::1]:7373?ca=/etc/kes/ca.pem&key=my-key&api_key_file=/run/secrets/kes", backendSpec{scheme: SchemeKES,
			kesEndpoint: "https://[::1]:7373", caFile: "/etc/kes/ca.pem", key: "my-key", apiKeyFile: "/run/secrets/kes"}},
		{"pkcs11:?module=/usr/lib/softhsm/libsofthsm2.so&token=s3kms", backendSpec{scheme: SchemePKCS11,
			module: "/usr/lib/softhsm/libsofthsm2.so", token: "s3kms"}},
		{"pkcs11:?module=/m.so&token=my%20token&key=master.v2&pin_file=/run/pin&sessions=16", backendSpec{scheme: SchemePKCS11,
			module: "/m.so", token: "my token", key: "master.v2", pinFile: "/run/pin", sessions: 16}},
	}
	for _, tc := range good {
		got, err := parseBackendURI(tc.uri)
		if err != nil {
			t.Errorf("%s: %v", tc.uri, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.uri, got, tc.want)
		}
	}

	bad := []struct {
		uri, want string
	}{
		{"", "empty"},
		{"local", "not a URI"},
		{"/var/lib/coffer", "not a URI"},
		{"vault://127.0.0.1:8200", `unknown scheme "vault"`},
		{"LOCAL:", ""}, // url.Parse lowercases the scheme: accepted, see below
		{"local:/var/lib/kms", "parameters only"},
		{"local://host", "parameters only"},
		{"local:?region=nowhere_", "not a region name"},
		{"local:?account=12", "not 12 digits"},
		{"local:?regoin=us-east-1", `unknown parameter "regoin" (allowed: region, account, root_key_file)`},
		{"local:?region=us-east-1&region=us-east-2", "given 2 times"},
		{"local:?region=", "is empty"},
		{"local:?a=1;b=2", "malformed query"},
		{"local:#frag", "fragment"},
		{"aws-kms://us-east-1:443", "host part is the region"},
		{"aws-kms://not_a_region", "not a region name"},
		{"aws-kms://us-east-1/path", "path is not allowed"},
		{"aws-kms://us-east-1?endpoint=ftp://x", "endpoint must be http(s)"},
		{"aws-kms://us-east-1?endpoint=http://127.0.0.1:1/x", "endpoint must be http(s)"},
		{"aws-kms://us-east-1?endpoint=http://127.0.0.1:1?a=b", "endpoint must be http(s)"},
		{"aws-kms:us-east-1", "want aws-kms://HOST"},
		{"kes://", "want kes://HOST"},
		{"kes://127.0.0.1:99999", "out of range"},
		{"kes://127.0.0.1:7373?key=bad/name", "not a KES key name"},
		{"kes://127.0.0.1:7373?endpoint=x", `unknown parameter "endpoint"`},
		{"pkcs11:?token=t", "module= (the library path) and token="},
		{"pkcs11:?module=/m.so", "module= (the library path) and token="},
		{"pkcs11:token=t;object=k", "parameters only"},
		{"pkcs11:?module=/m.so&token=t&key=alias/x", "not a valid key label"},
		{"pkcs11:?module=/m.so&token=t&sessions=0", "outside 1..256"},
		{"pkcs11:?module=/m.so&token=t&sessions=many", "outside 1..256"},
	}
	for _, tc := range bad {
		_, err := parseBackendURI(tc.uri)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.uri, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.uri)
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want ErrInvalidArgument containing %q", tc.uri, err, tc.want)
		}
	}
}

// TestParseBackendURIRefusesSecrets: a secret in the URI is refused with a
// pointer to where it belongs, and the error never repeats it.
func TestParseBackendURIRefusesSecrets(t *testing.T) {
	const secret = "Sup3rS3cretValue"
	cases := []struct {
		uri, hint string
	}{
		{"pkcs11:?module=/m.so&token=t&pin=" + secret, EnvPKCS11PIN},
		{"pkcs11:?module=/m.so&token=t&pin-value=" + secret, "pin_file="},
		{"pkcs11:?module=/m.so&token=t&so_pin=" + secret, EnvPKCS11PIN},
		{"pkcs11:?module=/m.so&token=t&user_password=" + secret, EnvPKCS11PIN},
		{"kes://127.0.0.1:7373?api_key=" + secret, EnvKESAPIKey},
		{"kes://127.0.0.1:7373?apiKey=" + secret, "api_key_file="},
		{"kes://127.0.0.1:7373?client_private_key=" + secret, EnvKESAPIKey},
		{"kes://admin:" + secret + "@127.0.0.1:7373", "user:password@"},
		{"aws-kms://us-east-1?secret_access_key=" + secret, "AWS_SECRET_ACCESS_KEY"},
		{"aws-kms://us-east-1?AWS_SESSION_TOKEN=" + secret, "AWS_SECRET_ACCESS_KEY"},
		{"aws-kms://AKID:" + secret + "@us-east-1", "user:password@"},
		{"local:?root_key=k:" + secret, EnvRootKey},
		{"local:?password=" + secret, "root_key_file="},
		{"local:?x=1&secret=" + secret, EnvRootKeyFile},
	}
	for _, tc := range cases {
		_, err := parseBackendURI(tc.uri)
		if err == nil {
			t.Errorf("%s: accepted", tc.uri)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats the secret: %v", err)
		}
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%s: error %q does not point to %q", tc.uri, err, tc.hint)
		}
	}
	// File references are not secrets.
	for _, name := range []string{"pin_file", "api_key_file", "root_key_file", "token", "key", "module"} {
		if secretParam(name) {
			t.Errorf("%s taken for a secret", name)
		}
	}
	// A URI that url.Parse rejects is not echoed either.
	_, err := parseBackendURI("kes://admin:" + secret + "@[::1")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("unparsable URI: %v", err)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestOpenLocal opens the built-in keyring through a URI, makes and opens
// a data key, and finds the keyring in Dir/kms; root_key_file= names the
// root key.
func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	env := envFrom(map[string]string{EnvRootKey: testRootKeyString("env", 3)})
	km, err := Open(bg, Config{URI: "local:?region=eu-west-1", Dir: dir, Getenv: env, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := km.(*Keyring); !ok {
		t.Fatalf("local: gave %T, want *Keyring (no cache in front of the local keyring)", km)
	}
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bkt/obj"}
	dk, err := km.GenerateDataKey(bg, "", ec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dk.KeyID, "arn:aws:kms:eu-west-1:") {
		t.Errorf("key id %s", dk.KeyID)
	}
	pt, err := km.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
	if err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("decrypt: %v", err)
	}
	_, err = km.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bkt/other"})
	wantCode(t, err, ErrInvalidCiphertext, CodeInvalidCiphertext)
	if _, err := os.Stat(filepath.Join(dir, "kms", "keyring.json")); err != nil {
		t.Fatal(err)
	}
	// The directory is locked while open.
	if _, err := Open(bg, Config{URI: "builtin:", Dir: dir, Getenv: env, Logger: quietLogger()}); !errors.Is(err, ErrKeyringLocked) {
		t.Fatalf("second open: %v", err)
	}
	if err := km.Close(); err != nil {
		t.Fatal(err)
	}
	if err := km.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// root_key_file= overrides the environment: the wrong env key would
	// not open this keyring.
	keyFile := filepath.Join(t.TempDir(), "root.key")
	if err := os.WriteFile(keyFile, []byte(testRootKeyString("env", 3)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongEnv := envFrom(map[string]string{EnvRootKey: testRootKeyString("env", 4)})
	km2, err := Open(bg, Config{URI: "local:?root_key_file=" + keyFile, Dir: dir, Getenv: wrongEnv, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := km2.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec); err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("decrypt after reopen with root_key_file: %v", err)
	}
	km2.Close()
	if _, err := Open(bg, Config{URI: "local:", Dir: dir, Getenv: wrongEnv, Logger: quietLogger()}); !errors.Is(err, ErrRootKey) {
		t.Fatalf("open with the wrong root key: %v", err)
	}
	if _, err := Open(bg, Config{URI: "local:"}); err == nil || !strings.Contains(err.Error(), "Config.Dir") {
		t.Fatalf("local: without Dir: %v", err)
	}
}

// TestOpenRemoteConfigErrors covers what Open checks before any network
// call: region, credentials and API key sources.
func TestOpenRemoteConfigErrors(t *testing.T) {
	dir := t.TempDir()
	apiKey, err := GenerateKESAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "kes.key")
	if err := os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	os.WriteFile(emptyFile, []byte("\n"), 0o600)
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
	cases := []struct {
		uri  string
		env  map[string]string
		want string
	}{
		{"aws-kms://", creds, "no region"},
		{"aws-kms://us-east-1", nil, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set"},
		{"kes://127.0.0.1:7373", nil, "no API key"},
		{"kes://127.0.0.1:7373?api_key_file=" + keyFile, map[string]string{EnvKESAPIKey: apiKey}, "not both"},
		{"kes://127.0.0.1:7373?api_key_file=" + emptyFile, nil, "is empty"},
		{"kes://127.0.0.1:7373?api_key_file=" + filepath.Join(dir, "missing"), nil, "no such file"},
		{"kes://127.0.0.1:7373?api_key_file=" + keyFile + "&ca=" + keyFile, nil, "no PEM certificate"},
		{"kes://127.0.0.1:7373", map[string]string{EnvKESAPIKey: "kes:v1:bogus"}, "malformed"},
		{"pkcs11:?module=/m.so&token=t&pin_file=" + keyFile, map[string]string{EnvPKCS11PIN: "1234"}, "not both"},
	}
	for _, tc := range cases {
		km, err := Open(bg, Config{URI: tc.uri, Getenv: envFrom(tc.env), Logger: quietLogger()})
		if err == nil {
			km.Close()
			t.Errorf("%s: opened", tc.uri)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.uri, err, tc.want)
		}
		if strings.Contains(err.Error(), apiKey) {
			t.Errorf("%s: error shows the API key", tc.uri)
		}
	}
	// Region from AWS_REGION; a cache in front; Close is idempotent.
	env := map[string]string{"AWS_REGION": "ap-south-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
	km, err := Open(bg, Config{URI: "aws-kms://", Getenv: envFrom(env)})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := km.(interface{ Unwrap() KeyManager })
	if !ok {
		t.Fatalf("%T has no Unwrap", km)
	}
	c, ok := u.Unwrap().(*Cache)
	if !ok {
		t.Fatalf("aws-kms: not cached: %T", u.Unwrap())
	}
	if aws, ok := c.Unwrap().(*AWSClient); !ok || aws.region != "ap-south-1" || aws.endpoint != "https://kms.ap-south-1.amazonaws.com" {
		t.Fatalf("backend %#v", c.Unwrap())
	}
	if km.Name() != "aws-kms" {
		t.Errorf("name %s", km.Name())
	}
	if err := km.Close(); err != nil {
		t.Fatal(err)
	}
	if err := km.Close(); err != nil {
		t.Fatal(err)
	}
	// NoCache leaves the client bare; bad cache options are refused.
	km, err = Open(bg, Config{URI: "aws-kms://us-east-1", Getenv: envFrom(env), NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := km.(interface{ Unwrap() KeyManager }).Unwrap().(*AWSClient); !ok {
		t.Fatal("NoCache: backend is wrapped")
	}
	km.Close()
	if _, err := Open(bg, Config{URI: "aws-kms://us-east-1", Getenv: envFrom(env), Cache: CacheOptions{TTL: -1}}); err == nil {
		t.Fatal("negative cache TTL accepted")
	}
}

// TestOpenKES opens KES through a kes:// URI with the CA and API key in
// files and makes and opens a data key. It needs the KES binary (see
// kes_test.go) and is skipped with -short.
func TestOpenKES(t *testing.T) {
	s := startKES(t)
	dir := t.TempDir()
	// The server's certificate, as an operator would save it.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.endpoint, "https://"), &tls.Config{RootCAs: s.roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	keyFile := filepath.Join(dir, "api.key")
	os.WriteFile(keyFile, []byte(s.appKey+"\n"), 0o600)
	uri := fmt.Sprintf("kes://%s?ca=%s&key=app-default&api_key_file=%s", strings.TrimPrefix(s.endpoint, "https://"), caFile, keyFile)
	km, err := Open(bg, Config{URI: uri, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer km.Close()
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b/k"}
	dk, err := km.GenerateDataKey(bg, "", ec)
	if err != nil {
		t.Fatal(err)
	}
	if dk.KeyID != "app-default" {
		t.Errorf("key id %q", dk.KeyID)
	}
	pt, err := km.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
	if err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("decrypt: %v", err)
	}
	_, err = km.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b/other"})
	if !errors.Is(err, ErrInvalidCiphertext) {
		t.Fatalf("wrong context: %v", err)
	}
	if err := km.(HealthChecker).Check(bg); err != nil {
		t.Fatalf("check: %v", err)
	}
}
