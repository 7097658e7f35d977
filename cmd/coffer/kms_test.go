package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
