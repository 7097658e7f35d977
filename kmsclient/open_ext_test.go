package kmsclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cofferdb/coffer/kmsclient"
	"github.com/cofferdb/coffer/kmsclient/kmsserver"
)

// TestOpenAWSProtocolEndToEnd serves a keyring over the AWS KMS protocol
// on 127.0.0.1 (kmsserver, which verifies SigV4) and opens it with an
// aws-kms:// URI, credentials from the (test) environment: data keys made
// through it open again, through the cache and through a second client
// without one, and a wrong context or wrong secret fails as AWS would.
func TestOpenAWSProtocolEndToEnd(t *testing.T) {
	const akid, secret = "AKIDOPENTEST", "open/test/secret/key/0123456789abcdefghij"
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{
		Dir:    t.TempDir(),
		Region: "eu-north-1",
		Getenv: func(k string) string {
			return map[string]string{kmsclient.EnvRootKey: "t:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}[k]
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	h, err := kmsserver.New(kmsserver.Options{Keyring: kr, Credentials: kmsserver.StaticCredentials(map[string]string{akid: secret})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server not on loopback: %s", srv.URL)
	}
	ctx := context.Background()
	key, err := kr.CreateKey(ctx, kmsclient.CreateKeyInput{Alias: "alias/photos"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret}
	getenv := func(k string) string { return env[k] }
	uri := "aws-kms://eu-north-1?endpoint=" + srv.URL
	km, err := kmsclient.Open(ctx, kmsclient.Config{URI: uri, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer km.Close()

	ec := kmsclient.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::photos/cat.jpg", "purpose": "test"}
	dk, err := km.GenerateDataKey(ctx, "alias/photos", ec)
	if err != nil {
		t.Fatal(err)
	}
	if dk.KeyID != key.ARN || len(dk.Plaintext) != 32 {
		t.Fatalf("data key %v, want key %s", dk, key.ARN)
	}
	pt, err := km.Decrypt(ctx, dk.KeyID, dk.Ciphertext, ec)
	if err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("decrypt: %v", err)
	}
	// The keyring itself opens what the client made: the blob went over
	// the wire, not through a client-side shortcut.
	if pt, err := kr.Decrypt(ctx, key.ARN, dk.Ciphertext, ec); err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("keyring decrypt: %v", err)
	}
	_, err = km.Decrypt(ctx, dk.KeyID, dk.Ciphertext, kmsclient.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::photos/dog.jpg"})
	if !errors.Is(err, kmsclient.ErrInvalidCiphertext) || kmsclient.CodeOf(err) != kmsclient.CodeInvalidCiphertext {
		t.Fatalf("wrong context: %v", err)
	}
	info, err := km.DescribeKey(ctx, "alias/photos")
	if err != nil || info.ARN != key.ARN {
		t.Fatalf("describe: %+v %v", info, err)
	}
	// Through the engine adapter, as coffer serve uses it.
	ad := kmsclient.NewEngineAdapter(km)
	p2, c2, arn, err := ad.GenerateDataKey(ctx, "", map[string]string{"aws:s3:arn": "arn:aws:s3:::b"})
	if err != nil || !strings.Contains(arn, ":eu-north-1:") {
		t.Fatalf("adapter generate: %v %s", err, arn)
	}
	if p, err := ad.Decrypt(ctx, arn, c2, map[string]string{"aws:s3:arn": "arn:aws:s3:::b"}); err != nil || string(p) != string(p2) {
		t.Fatalf("adapter decrypt: %v", err)
	}

	// A client without the cache, and one with the wrong secret.
	bare, err := kmsclient.Open(ctx, kmsclient.Config{URI: uri, Getenv: getenv, NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if pt, err := bare.Decrypt(ctx, dk.KeyID, dk.Ciphertext, ec); err != nil || string(pt) != string(dk.Plaintext) {
		t.Fatalf("uncached decrypt: %v", err)
	}
	wrongEnv := map[string]string{"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": "wrong/secret/key/0123456789abcdefghijklmnop"}
	wrong, err := kmsclient.Open(ctx, kmsclient.Config{URI: uri, Getenv: func(k string) string { return wrongEnv[k] }, NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := wrong.GenerateDataKey(ctx, "alias/photos", ec); !errors.Is(err, kmsclient.ErrAccessDenied) {
		t.Fatalf("wrong secret: %v", err)
	}
}
