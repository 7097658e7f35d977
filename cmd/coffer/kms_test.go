package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cofferdb/coffer/kmsclient"
	"github.com/cofferdb/coffer/kmsclient/kmsserver"
)

func kmsRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"kms"}, args...), &out, &errOut)
	return out.String(), err
}

// TestKMSCommandsAndServe manages keys in a data folder's keyring with
// "coffer kms", then serves the same folder and writes SSE-KMS objects
// under the created key, which the responses name by ARN; a disabled key
// is refused with KMS.DisabledException.
func TestKMSCommandsAndServe(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	t.Setenv("COFFER_KMS_ROOT_KEY", "")
	t.Setenv("COFFER_KMS_ROOT_KEY_FILE", "")
	dir := t.TempDir()
	arn, err := kmsRun(t, "create-key", "--data", dir, "--alias", "photos")
	if err != nil {
		t.Fatal(err)
	}
	arn = strings.TrimSpace(arn)
	if !strings.HasPrefix(arn, "arn:aws:kms:us-east-1:") || !strings.Contains(arn, ":key/") {
		t.Fatalf("create-key printed %q", arn)
	}
	if _, err := os.Stat(filepath.Join(dir, "kms", "root.key")); err != nil {
		t.Errorf("no generated root key: %v", err)
	}
	list, err := kmsRun(t, "list-keys", "--data", dir)
	if err != nil || !strings.Contains(list, arn) || !strings.Contains(list, "alias/photos") {
		t.Fatalf("list-keys: %v\n%s", err, list)
	}
	desc, err := kmsRun(t, "describe-key", "alias/photos", "--data", dir)
	if err != nil || !strings.Contains(desc, arn) || !strings.Contains(desc, "Enabled") {
		t.Fatalf("describe-key: %v\n%s", err, desc)
	}
	if out, err := kmsRun(t, "rotate-key", "--data", dir, arn); err != nil || strings.TrimSpace(out) != arn {
		t.Fatalf("rotate-key: %v %q", err, out)
	}
	other, err := kmsRun(t, "create-key", "--data", dir, "--alias", "alias/off")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kmsRun(t, "disable-key", "--data", dir, "alias/off"); err != nil || out != other {
		t.Fatalf("disable-key: %v %q", err, out)
	}
	if _, err := kmsRun(t, "describe-key", "--data", dir, "alias/nope"); err == nil {
		t.Error("describe-key of an unknown alias succeeded")
	}
	if _, err := kmsRun(t, "frobnicate"); err == nil {
		t.Error("unknown kms command accepted")
	}

	r := start(t, "--drive", dir)
	c := client(r.addr, "rootuser", "rootpassword123")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("alias/photos")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SSEKMSKeyId) != arn {
		t.Errorf("PUT key %q, want %q", aws.ToString(out.SSEKMSKeyId), arn)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k2"), Body: strings.NewReader("hello"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("alias/off")})
	if !strings.Contains(errString(err), "KMS.DisabledException") {
		t.Errorf("PUT under a disabled key: %v", err)
	}
	// The keyring belongs to the server while it runs.
	if _, err := kmsRun(t, "list-keys", "--data", dir); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("kms command while serving: %v", err)
	}
	r.stop(t)
	// The root key stays in the folder: a restart reads the object back.
	r2 := start(t, "--drive", dir)
	c2 := client(r2.addr, "rootuser", "rootpassword123")
	g, err := c2.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	g.Body.Close()
	if aws.ToString(g.SSEKMSKeyId) != arn {
		t.Errorf("GET after restart: key %q", aws.ToString(g.SSEKMSKeyId))
	}
}

// TestKMSRootKeyFromEnvironment seals the keyring under
// COFFER_KMS_ROOT_KEY: no root key file is written.
func TestKMSRootKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COFFER_KMS_ROOT_KEY", "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if _, err := kmsRun(t, "create-key", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kms", "root.key")); !os.IsNotExist(err) {
		t.Errorf("root.key written although COFFER_KMS_ROOT_KEY is set: %v", err)
	}
	if _, err := kmsRun(t, "list-keys", "--data", dir); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestKMSFlagsToURI: the --kms words and their flags map to kmsclient
// URIs; a URI must carry its settings itself.
func TestKMSFlagsToURI(t *testing.T) {
	cases := []struct {
		k       kmsConfig
		want    string
		wantErr string
	}{
		{kmsConfig{backend: "builtin"}, "local:", ""},
		{kmsConfig{backend: ""}, "local:", ""},
		{kmsConfig{backend: "builtin", region: "eu-west-1"}, "local:?region=eu-west-1", ""},
		{kmsConfig{backend: "none"}, "", ""},
		{kmsConfig{backend: "aws", region: "us-east-2"}, "aws-kms://us-east-2", ""},
		{kmsConfig{backend: "aws"}, "aws-kms://", ""},
		{kmsConfig{backend: "aws", region: "us-east-2", endpoint: "http://127.0.0.1:4599"}, "aws-kms://us-east-2?endpoint=http%3A%2F%2F127.0.0.1%3A4599", ""},
		{kmsConfig{backend: "kes", endpoint: "https://127.0.0.1:7373", kesCA: "/etc/ca.pem", kesKey: "k1"}, "kes://127.0.0.1:7373?ca=%2Fetc%2Fca.pem&key=k1", ""},
		{kmsConfig{backend: "kes", endpoint: "https://kes.example.com/"}, "kes://kes.example.com", ""},
		{kmsConfig{backend: "kes"}, "", "needs --kms-endpoint"},
		{kmsConfig{backend: "kes", endpoint: "http://127.0.0.1:7373"}, "", "needs --kms-endpoint https://"},
		{kmsConfig{backend: "vault"}, "", `--kms "vault": want builtin, aws, kes, none or a URI`},
		{kmsConfig{backend: "pkcs11:?module=/m.so&token=t"}, "pkcs11:?module=/m.so&token=t", ""},
		{kmsConfig{backend: "local:?region=eu-west-1"}, "local:?region=eu-west-1", ""},
		{kmsConfig{backend: "aws-kms://us-east-1", endpoint: "http://x", region: "us-east-1"}, "", "--kms-endpoint, --kms-region apply only to --kms builtin|aws|kes"},
	}
	for _, tc := range cases {
		got, err := tc.k.uri()
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: error %v, want %q", tc.k, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%+v: %q %v, want %q", tc.k, got, err, tc.want)
		}
	}
}

// TestServeWithKMSURI serves with --kms given as URIs: an AWS-KMS-protocol
// server on 127.0.0.1 (kmsserver over its own keyring, credentials from
// the environment) and local: with a region. SSE-KMS objects name keys
// of the selected key manager and read back.
func TestServeWithKMSURI(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	t.Setenv("COFFER_KMS_ROOT_KEY", "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("COFFER_KMS_ROOT_KEY_FILE", "")
	ctx := context.Background()

	// The remote key manager: its own keyring behind the AWS protocol.
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{Dir: t.TempDir(), Region: "eu-north-1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	remoteKey, err := kr.CreateKey(ctx, kmsclient.CreateKeyInput{Alias: "alias/remote"})
	if err != nil {
		t.Fatal(err)
	}
	const akid, secret = "AKIDSERVETEST", "serve/test/secret/0123456789abcdefghijklm"
	h, err := kmsserver.New(kmsserver.Options{Keyring: kr, Credentials: kmsserver.StaticCredentials(map[string]string{akid: secret})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", akid)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)

	putGet := func(t *testing.T, addr, keyID string) string {
		t.Helper()
		c := client(addr, "rootuser", "rootpassword123")
		c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")})
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello kms"),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(keyID)})
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if string(body) != "hello kms" {
			t.Fatalf("GET %q", body)
		}
		return aws.ToString(out.SSEKMSKeyId)
	}

	dir := t.TempDir()
	r := start(t, "--drive", dir, "--kms", "aws-kms://eu-north-1?endpoint="+srv.URL)
	if got := putGet(t, r.addr, "alias/remote"); got != remoteKey.ARN {
		t.Errorf("aws-kms: object key %q, want %q", got, remoteKey.ARN)
	}
	r.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "kms", "keyring.json")); !os.IsNotExist(err) {
		t.Errorf("a local keyring was made although the key manager is remote: %v", err)
	}

	r = start(t, "--drive", t.TempDir(), "--kms", "local:?region=ap-south-1")
	if got := putGet(t, r.addr, ""); !strings.HasPrefix(got, "arn:aws:kms:ap-south-1:") {
		t.Errorf("local: object key %q", got)
	}
	r.stop(t)
}

// TestServeRefusesBadKMSURI: serve stops before listening on a URI with a
// secret (without repeating it), flags a URI cannot take, and pkcs11: in a
// build without PKCS#11 support.
func TestServeRefusesBadKMSURI(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	t.Setenv("COFFER_KMS_PKCS11_PIN", "1234")
	const pin = "98765432"
	pkcs11Want := "built without pkcs11 support"
	if kmsclient.PKCS11Supported {
		pkcs11Want = "cannot load module"
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--kms", "pkcs11:?module=/nonexistent/lib.so&token=t&pin=" + pin}, "COFFER_KMS_PKCS11_PIN"},
		{[]string{"--kms", "kes://127.0.0.1:7373?api_key=kes:v1:" + pin}, "COFFER_KMS_KES_API_KEY"},
		{[]string{"--kms", "aws-kms://us-east-1", "--kms-endpoint", "http://127.0.0.1:1"}, "--kms-endpoint apply only"},
		{[]string{"--kms", "pkcs11:?module=/nonexistent/lib.so&token=t"}, pkcs11Want},
		{[]string{"--kms", "vault://x"}, `unknown scheme "vault"`},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		args := append([]string{"--address", "127.0.0.1:0", "--unsafe-no-sync", "--drive", t.TempDir()}, tc.args...)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // should a case start serving, it stops at once instead of hanging the test
		err := serve(ctx, args, &out, &errOut, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error()+errOut.String()+out.String(), pin) {
			t.Errorf("%v: the secret was printed", tc.args)
		}
	}
}
