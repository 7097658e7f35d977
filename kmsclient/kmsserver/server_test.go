package kmsserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cofferdb/coffer/kmsclient"
	"github.com/cofferdb/coffer/kmsclient/kmsserver"
)

const (
	testAKID   = "AKIDCOFFERTEST"
	testSecret = "c0ffer/s3cr3t+KEY/for/tests/only/xxxxxxx"
)

var bg = context.Background()

type env struct {
	srv    *httptest.Server
	kr     *kmsclient.Keyring
	client *kmsclient.AWSClient
	sdk    *kms.Client
}

// start runs the handler on 127.0.0.1 over a fresh keyring.
func start(t *testing.T) *env {
	t.Helper()
	return startTB(t)
}

func startB(b *testing.B) *env { return startTB(b) }

func startTB(t testing.TB) *env {
	t.Helper()
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{
		Dir: t.TempDir(),
		Getenv: func(k string) string {
			return map[string]string{kmsclient.EnvRootKey: "t:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}[k]
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	h, err := kmsserver.New(kmsserver.Options{Keyring: kr, Credentials: kmsserver.StaticCredentials(map[string]string{testAKID: testSecret})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server not on loopback: %s", srv.URL)
	}
	return &env{srv: srv, kr: kr, client: newClient(t, srv.URL, testSecret), sdk: newSDK(srv.URL, testSecret)}
}

func newClient(t testing.TB, url, secret string) *kmsclient.AWSClient {
	t.Helper()
	c, err := kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: url, MaxAttempts: 1,
		Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: secret}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSDK(url, secret string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

func wantCode(t *testing.T, err error, sentinel error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("nil error, want %s", code)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("%v does not wrap %v", err, sentinel)
	}
	if got := kmsclient.CodeOf(err); got != code {
		t.Fatalf("code %s, want %s (%v)", got, code, err)
	}
}

func sdkErr[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("SDK error %v (%T) is not %T", err, err, target)
	}
	return target
}

func TestClientRoundTripAndKeyForms(t *testing.T) {
	e := start(t)
	info, err := e.client.CreateKey(bg, kmsclient.CreateKeyInput{Description: "d", Alias: "alias/app"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.ARN, "arn:aws:kms:us-east-1:000000000000:key/") || info.State != kmsclient.KeyStateEnabled {
		t.Fatalf("CreateKey: %+v", info)
	}
	ec := kmsclient.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b/k", "x": "y"}
	forms := []string{info.KeyID, info.ARN, "alias/app", "arn:aws:kms:us-east-1:000000000000:alias/app"}
	for _, f := range forms {
		dk, err := e.client.GenerateDataKey(bg, f, ec)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if dk.KeyID != info.ARN || len(dk.Plaintext) != 32 {
			t.Fatalf("%s: %s %d", f, dk.KeyID, len(dk.Plaintext))
		}
		pt, err := e.client.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("decrypt: %v", err)
		}
		d, err := e.client.DescribeKey(bg, f)
		if err != nil || d.ARN != info.ARN || d.Spec != kmsclient.KeySpecSymmetricDefault || d.Usage != kmsclient.KeyUsageEncryptDecrypt {
			t.Fatalf("describe %s: %+v %v", f, d, err)
		}
	}
	// Default key: "" and alias/aws/s3, AWS managed.
	dk, err := e.client.GenerateDataKey(bg, "", nil, kmsclient.WithNumberOfBytes(16))
	if err != nil || len(dk.Plaintext) != 16 {
		t.Fatalf("default key: %v", err)
	}
	d, _ := e.client.DescribeKey(bg, kmsclient.DefaultKeyAlias)
	if !d.AWSManaged || d.ARN != dk.KeyID {
		t.Fatalf("default key description %+v", d)
	}
	np, err := e.client.GenerateDataKey(bg, "alias/app", nil, kmsclient.WithoutPlaintext())
	if err != nil || np.Plaintext != nil {
		t.Fatalf("without plaintext: %v", err)
	}
	if pt, err := e.client.Decrypt(bg, "", np.Ciphertext, nil); err != nil || len(pt) != 32 {
		t.Fatalf("decrypt without key id: %v", err)
	}
	ct, arn, err := e.client.Encrypt(bg, "alias/app", []byte("secret"), ec)
	if err != nil || arn != info.ARN {
		t.Fatal(err)
	}
	if pt, err := e.client.Decrypt(bg, arn, ct, ec); err != nil || string(pt) != "secret" {
		t.Fatalf("encrypt round trip: %v", err)
	}
	// The engine adapter over the AWS client.
	ad := kmsclient.NewEngineAdapter(e.client)
	pt, blob, keyARN, err := ad.GenerateDataKey(bg, "alias/app", ec)
	if err != nil || keyARN != info.ARN {
		t.Fatal(err)
	}
	if got, err := ad.Decrypt(bg, keyARN, blob, ec); err != nil || !bytes.Equal(got, pt) {
		t.Fatal(err)
	}
	if got, err := ad.DescribeKey(bg, "arn:aws:kms:us-east-1:000000000000:alias/app"); err != nil || got != info.ARN {
		t.Fatal(got, err)
	}
}

func TestClientErrors(t *testing.T) {
	e := start(t)
	ad := kmsclient.NewEngineAdapter(e.client)
	ec := kmsclient.EncryptionContext{"a": "1"}

	// Unknown key.
	_, err := e.client.GenerateDataKey(bg, "alias/missing", ec)
	wantCode(t, err, kmsclient.ErrNotFound, kmsclient.CodeNotFound)
	_, err = ad.DescribeKey(bg, "11111111-2222-4333-8444-555555555555")
	wantCode(t, err, kmsclient.ErrNotFound, kmsclient.CodeNotFound)

	// Wrong context and wrong key.
	a, _ := e.client.CreateKey(bg, kmsclient.CreateKeyInput{})
	b, _ := e.client.CreateKey(bg, kmsclient.CreateKeyInput{})
	dk, _ := e.client.GenerateDataKey(bg, a.ARN, ec)
	_, err = e.client.Decrypt(bg, a.ARN, dk.Ciphertext, kmsclient.EncryptionContext{"a": "2"})
	wantCode(t, err, kmsclient.ErrInvalidCiphertext, kmsclient.CodeInvalidCiphertext)
	_, err = ad.Decrypt(bg, a.ARN, dk.Ciphertext, nil)
	wantCode(t, err, kmsclient.ErrInvalidCiphertext, kmsclient.CodeInvalidCiphertext)
	_, err = e.client.Decrypt(bg, b.ARN, dk.Ciphertext, ec)
	wantCode(t, err, kmsclient.ErrInvalidCiphertext, kmsclient.CodeIncorrectKey)

	// Disabled.
	if err := e.client.DisableKey(bg, a.KeyID); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GenerateDataKey(bg, a.ARN, ec)
	wantCode(t, err, kmsclient.ErrDisabled, kmsclient.CodeDisabled)
	_, err = ad.Decrypt(bg, a.ARN, dk.Ciphertext, ec)
	wantCode(t, err, kmsclient.ErrDisabled, kmsclient.CodeDisabled)
	_, err = ad.DescribeKey(bg, a.ARN)
	wantCode(t, err, kmsclient.ErrDisabled, kmsclient.CodeDisabled)
	if err := e.client.EnableKey(bg, a.KeyID); err != nil {
		t.Fatal(err)
	}

	// Pending deletion, then cancelled.
	when, err := e.client.ScheduleKeyDeletion(bg, a.KeyID, 7*24*time.Hour)
	if err != nil || time.Until(when) < 6*24*time.Hour {
		t.Fatalf("schedule: %v %v", when, err)
	}
	_, err = ad.Decrypt(bg, a.ARN, dk.Ciphertext, ec)
	wantCode(t, err, kmsclient.ErrInvalidState, kmsclient.CodeInvalidState)
	_, err = ad.DescribeKey(bg, a.ARN)
	wantCode(t, err, kmsclient.ErrInvalidState, kmsclient.CodeInvalidState)
	if d, _ := e.client.DescribeKey(bg, a.ARN); d.State != kmsclient.KeyStatePendingDeletion || d.DeletionDate.IsZero() {
		t.Fatalf("describe pending: %+v", d)
	}
	if err := e.client.CancelKeyDeletion(bg, a.KeyID); err != nil {
		t.Fatal(err)
	}

	// Asymmetric key refused for data keys.
	rsa, err := e.client.CreateKey(bg, kmsclient.CreateKeyInput{Spec: kmsclient.KeySpecRSA2048, Usage: kmsclient.KeyUsageEncryptDecrypt})
	if err != nil || rsa.Spec != kmsclient.KeySpecRSA2048 {
		t.Fatalf("rsa key: %+v %v", rsa, err)
	}
	_, err = e.client.GenerateDataKey(bg, rsa.ARN, nil)
	wantCode(t, err, kmsclient.ErrInvalidKeyUsage, kmsclient.CodeInvalidKeyUsage)
	_, err = ad.DescribeKey(bg, rsa.ARN)
	wantCode(t, err, kmsclient.ErrInvalidKeyUsage, kmsclient.CodeInvalidKeyUsage)

	// Admin errors.
	wantCode(t, e.client.CreateAlias(bg, "alias/aws/x", b.KeyID), kmsclient.ErrAccessDenied, kmsclient.CodeNotAuthorized)
	if err := e.client.CreateAlias(bg, "alias/b", b.KeyID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.client.CreateAlias(bg, "alias/b", a.KeyID), kmsclient.ErrAlreadyExists, kmsclient.CodeAlreadyExists)
	_, err = e.client.ScheduleKeyDeletion(bg, b.KeyID, 3*24*time.Hour)
	wantCode(t, err, kmsclient.ErrInvalidArgument, kmsclient.CodeValidation)
}

func TestClientAdminListing(t *testing.T) {
	e := start(t)
	var ids []string
	for i := 0; i < 120; i++ { // more than one ListKeys page of 100
		info, err := e.client.CreateKey(bg, kmsclient.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.KeyID)
	}
	keys, err := e.client.ListKeys(bg)
	if err != nil || len(keys) != len(ids) {
		t.Fatalf("ListKeys: %d, %v", len(keys), err)
	}
	for i := 0; i < 3; i++ {
		if err := e.client.CreateAlias(bg, "alias/k"+string(rune('a'+i)), ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	al, err := e.client.ListAliases(bg, ids[0])
	if err != nil || len(al) != 3 || al[0].TargetKeyID != ids[0] || !strings.HasSuffix(al[0].ARN, ":alias/ka") {
		t.Fatalf("ListAliases: %+v %v", al, err)
	}
	if err := e.client.DeleteAlias(bg, "alias/ka"); err != nil {
		t.Fatal(err)
	}
	dk, _ := e.client.GenerateDataKey(bg, ids[1], nil)
	if err := e.client.RotateKey(bg, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Decrypt(bg, ids[1], dk.Ciphertext, nil); err != nil {
		t.Fatalf("decrypt after rotation: %v", err)
	}
	if err := e.client.Check(bg); err != nil {
		t.Fatal(err)
	}
}

// TestSDKAgainstHandler checks the wire format with aws-sdk-go-v2's own
// client: it must parse every response and error, and blobs must cross
// between the SDK and our client in both directions.
func TestSDKAgainstHandler(t *testing.T) {
	e := start(t)
	ctx := bg
	created, err := e.sdk.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sdk key")})
	if err != nil {
		t.Fatal(err)
	}
	md := created.KeyMetadata
	if md.KeySpec != types.KeySpecSymmetricDefault || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || !md.Enabled ||
		md.KeyState != types.KeyStateEnabled || md.CreationDate == nil || time.Since(*md.CreationDate) > time.Minute ||
		len(md.EncryptionAlgorithms) != 1 || md.KeyManager != types.KeyManagerTypeCustomer || aws.ToString(md.AWSAccountId) != "000000000000" {
		t.Fatalf("KeyMetadata %+v", md)
	}
	if _, err := e.sdk.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/sdk"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/obj", "k": "v"}
	forms := []string{aws.ToString(md.KeyId), aws.ToString(md.Arn), "alias/sdk", "arn:aws:kms:us-east-1:000000000000:alias/sdk"}
	for _, f := range forms {
		out, err := e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(f), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || len(out.Plaintext) != 32 {
			t.Fatalf("%s: %s", f, aws.ToString(out.KeyId))
		}
		// SDK blob, our client.
		pt, err := e.client.Decrypt(ctx, aws.ToString(out.KeyId), out.CiphertextBlob, ec)
		if err != nil || !bytes.Equal(pt, out.Plaintext) {
			t.Fatalf("our client on SDK blob: %v", err)
		}
	}
	// Our blob, SDK client.
	dk, err := e.client.GenerateDataKey(ctx, "alias/sdk", ec)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := e.sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.Ciphertext, EncryptionContext: ec, KeyId: aws.String(dk.KeyID)})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) || aws.ToString(dec.KeyId) != dk.KeyID || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("SDK on our blob: %v", err)
	}
	n, err := e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/sdk"), NumberOfBytes: aws.Int32(64)})
	if err != nil || len(n.Plaintext) != 64 {
		t.Fatalf("NumberOfBytes 64: %v", err)
	}
	wp, err := e.sdk.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String("alias/sdk"), KeySpec: types.DataKeySpecAes128})
	if err != nil || len(wp.CiphertextBlob) == 0 {
		t.Fatal(err)
	}
	enc, err := e.sdk.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/sdk"), Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.sdk.CreateKey(ctx, &kms.CreateKeyInput{})
	re, err := e.sdk.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: other.KeyMetadata.KeyId, DestinationEncryptionContext: map[string]string{"new": "ctx"}})
	if err != nil || aws.ToString(re.SourceKeyId) != aws.ToString(md.Arn) {
		t.Fatal(err)
	}
	back, err := e.sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"new": "ctx"}})
	if err != nil || string(back.Plaintext) != "hello" || aws.ToString(back.KeyId) != aws.ToString(other.KeyMetadata.Arn) {
		t.Fatalf("re-encrypt round trip: %v", err)
	}

	// Errors arrive as the SDK's typed exceptions.
	_, err = e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/none"), KeySpec: types.DataKeySpecAes256})
	sdkErr[*types.NotFoundException](t, err)
	_, err = e.sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.Ciphertext, EncryptionContext: map[string]string{"k": "other"}})
	sdkErr[*types.InvalidCiphertextException](t, err)
	_, err = e.sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.Ciphertext, EncryptionContext: ec, KeyId: other.KeyMetadata.Arn})
	sdkErr[*types.IncorrectKeyException](t, err)
	_, err = e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/sdk")})
	if sdkErr[apiErr](t, err).ErrorCode() != "ValidationException" {
		t.Fatalf("no key spec: %v", err)
	}
	if _, err := e.sdk.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.Arn, KeySpec: types.DataKeySpecAes256})
	sdkErr[*types.DisabledException](t, err)
	if _, err := e.sdk.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	sched, err := e.sdk.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil || sched.KeyState != types.KeyStatePendingDeletion || sched.DeletionDate == nil || aws.ToInt32(sched.PendingWindowInDays) != 7 {
		t.Fatalf("ScheduleKeyDeletion: %+v %v", sched, err)
	}
	_, err = e.sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.Ciphertext, EncryptionContext: ec})
	sdkErr[*types.KMSInvalidStateException](t, err)
	desc, err := e.sdk.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.Arn})
	if err != nil || desc.KeyMetadata.KeyState != types.KeyStatePendingDeletion || desc.KeyMetadata.DeletionDate == nil {
		t.Fatalf("describe pending: %v", err)
	}
	if _, err := e.sdk.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.sdk.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}); d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after cancel: %s, want Disabled", d.KeyMetadata.KeyState)
	}
	if _, err := e.sdk.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}

	// An asymmetric key record refuses data keys with InvalidKeyUsageException.
	rsa, err := e.sdk.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil || rsa.KeyMetadata.KeySpec != types.KeySpecRsa2048 || len(rsa.KeyMetadata.EncryptionAlgorithms) != 2 {
		t.Fatalf("RSA CreateKey: %v", err)
	}
	_, err = e.sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: rsa.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
	sdkErr[*types.InvalidKeyUsageException](t, err)
	ecc, err := e.sdk.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.sdk.Encrypt(ctx, &kms.EncryptInput{KeyId: ecc.KeyMetadata.KeyId, Plaintext: []byte("x")})
	sdkErr[*types.InvalidKeyUsageException](t, err)
	_, err = e.sdk.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/sdk"), TargetKeyId: rsa.KeyMetadata.KeyId})
	sdkErr[*types.AlreadyExistsException](t, err)

	// Listing with pagination through the SDK paginator.
	var total int
	p := kms.NewListKeysPaginator(e.sdk, &kms.ListKeysInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += len(page.Keys)
	}
	if total != 4 {
		t.Fatalf("ListKeys paginated %d keys, want 4", total)
	}
	aliases, err := e.sdk.ListAliases(ctx, &kms.ListAliasesInput{KeyId: md.KeyId})
	if err != nil || len(aliases.Aliases) != 1 || aws.ToString(aliases.Aliases[0].AliasName) != "alias/sdk" {
		t.Fatalf("ListAliases: %v", err)
	}
	if _, err := e.sdk.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sdk.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/sdk")}); err != nil {
		t.Fatal(err)
	}
}

// recordingTransport keeps a copy of every request it sends.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.body = append(r.body, b)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestClientSignatureMatchesSDKSigner re-signs each request our client sent
// with the SDK's signer and expects the same Authorization header.
func TestClientSignatureMatchesSDKSigner(t *testing.T) {
	e := start(t)
	rt := &recordingTransport{}
	fixed := time.Now().UTC().Truncate(time.Second)
	c, err := kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: e.srv.URL, MaxAttempts: 1,
		HTTPClient: &http.Client{Transport: rt}, Now: func() time.Time { return fixed },
		Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := c.GenerateDataKey(bg, "", kmsclient.EncryptionContext{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, kmsclient.EncryptionContext{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if len(rt.reqs) != 2 {
		t.Fatalf("%d requests recorded", len(rt.reqs))
	}
	for i, req := range rt.reqs {
		ours := req.Header.Get("Authorization")
		re := req.Clone(bg)
		re.Header.Del("Authorization")
		re.Header.Del("X-Amz-Date")
		re.Body = io.NopCloser(bytes.NewReader(rt.body[i]))
		re.ContentLength = int64(len(rt.body[i]))
		sum := kmsPayloadHash(rt.body[i])
		if err := sdkv4.NewSigner().SignHTTP(bg, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, re, sum, "kms", "us-east-1", fixed); err != nil {
			t.Fatal(err)
		}
		if got := re.Header.Get("Authorization"); got != ours {
			t.Fatalf("request %d:\n ours %s\n sdk  %s", i, ours, got)
		}
	}
}

func TestHandlerRejectsBadSignatures(t *testing.T) {
	e := start(t)
	// Wrong secret.
	_, err := newClient(t, e.srv.URL, "wrong-secret").GenerateDataKey(bg, "", nil)
	wantCode(t, err, kmsclient.ErrAccessDenied, kmsclient.CodeInvalidSignature)
	_, err = newSDK(e.srv.URL, "wrong-secret").ListKeys(bg, &kms.ListKeysInput{})
	if sdkErr[apiErr](t, err).ErrorCode() != kmsclient.CodeInvalidSignature {
		t.Fatalf("SDK with wrong secret: %v", err)
	}
	// Unknown access key.
	c, _ := kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: e.srv.URL, MaxAttempts: 1,
		Credentials: kmsclient.StaticCredentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}})
	_, err = c.GenerateDataKey(bg, "", nil)
	wantCode(t, err, kmsclient.ErrAccessDenied, kmsclient.CodeUnrecognizedClient)
	// Wrong region in the scope.
	c, _ = kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "eu-west-1", Endpoint: e.srv.URL, MaxAttempts: 1,
		Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}})
	_, err = c.GenerateDataKey(bg, "", nil)
	wantCode(t, err, kmsclient.ErrAccessDenied, kmsclient.CodeInvalidSignature)
	// Clock skew.
	c, _ = kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: e.srv.URL, MaxAttempts: 1,
		Now:         func() time.Time { return time.Now().Add(-10 * time.Minute) },
		Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}})
	_, err = c.GenerateDataKey(bg, "", nil)
	wantCode(t, err, kmsclient.ErrAccessDenied, kmsclient.CodeInvalidSignature)
	// Unsigned.
	resp, err := http.Post(e.srv.URL, "application/x-amz-json-1.1", strings.NewReader(`{"KeyId":"alias/aws/s3","KeySpec":"AES_256"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"__type":"MissingAuthenticationTokenException"`) {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, b)
	}
	// A body changed after signing.
	tamper := &tamperTransport{}
	c, _ = kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: e.srv.URL, MaxAttempts: 1,
		HTTPClient:  &http.Client{Transport: tamper},
		Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}})
	_, err = c.GenerateDataKey(bg, "alias/aws/s3", kmsclient.EncryptionContext{"bucket": "aaaa"})
	wantCode(t, err, kmsclient.ErrAccessDenied, kmsclient.CodeInvalidSignature)
	if tamper.n.Load() != 1 {
		t.Fatal("tampering transport not used")
	}
}

// tamperTransport changes one byte of the signed body.
type tamperTransport struct{ n atomic.Int32 }

func (tt *tamperTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	b = bytes.Replace(b, []byte("aaaa"), []byte("aaab"), 1)
	req.Body = io.NopCloser(bytes.NewReader(b))
	tt.n.Add(1)
	return http.DefaultTransport.RoundTrip(req)
}

func TestServerDown(t *testing.T) {
	e := start(t)
	c, _ := kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: e.srv.URL, MaxAttempts: 2,
		RetryBaseDelay: time.Millisecond, Credentials: kmsclient.StaticCredentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}})
	dk, err := c.GenerateDataKey(bg, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	_, err = c.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil)
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeInternal)
	mustContain(t, err.Error(), "unreachable")
	_, _, _, err = kmsclient.NewEngineAdapter(c).GenerateDataKey(bg, "", nil)
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeInternal)
	var ke *kmsclient.Error
	if !errors.As(err, &ke) || !ke.Retryable {
		t.Fatalf("not retryable: %v", err)
	}
	// A deadline gives DependencyTimeoutException.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	defer hang.CloseClientConnections()
	hc := newClient(t, hang.URL, testSecret)
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, err = hc.GenerateDataKey(ctx, "", nil)
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeDependencyTimeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline not visible: %v", err)
	}
}

func TestClientRetries(t *testing.T) {
	var calls atomic.Int32
	fail := 2
	code := "ThrottlingException"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if int(n) <= fail {
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"com.amazonaws.kms#`+code+`:http://internal","message":"slow down"}`)
			return
		}
		io.WriteString(w, `{"KeyMetadata":{"KeyId":"k","Arn":"arn:aws:kms:us-east-1:111122223333:key/k","KeyState":"Enabled","KeySpec":"SYMMETRIC_DEFAULT","KeyUsage":"ENCRYPT_DECRYPT","Enabled":true,"CreationDate":1.7e9}}`)
	}))
	defer srv.Close()
	c, _ := kmsclient.NewAWSClient(kmsclient.AWSOptions{Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 3, RetryBaseDelay: time.Millisecond,
		Credentials: kmsclient.StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"}})
	info, err := c.DescribeKey(bg, "k")
	if err != nil || calls.Load() != 3 || info.CreatedAt.Unix() != 1.7e9 {
		t.Fatalf("after throttling: %v, %d calls, %+v", err, calls.Load(), info)
	}
	// Non-retryable errors are not retried; the SDK's code sanitising applies.
	calls.Store(0)
	code, fail = "NotFoundException", 5
	_, err = c.DescribeKey(bg, "k")
	wantCode(t, err, kmsclient.ErrNotFound, kmsclient.CodeNotFound)
	if calls.Load() != 1 {
		t.Fatalf("%d calls for a non-retryable error", calls.Load())
	}
	// Retryable errors stop after MaxAttempts.
	calls.Store(0)
	code = "KMSInternalException"
	_, err = c.DescribeKey(bg, "k")
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeInternal)
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
}

type apiErr interface {
	error
	ErrorCode() string
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

// TestCacheKeepsReadsWorkingWhenServerStops stops the KMS endpoint: keys
// already cached keep decrypting, everything else fails as unavailable.
func TestCacheKeepsReadsWorkingWhenServerStops(t *testing.T) {
	e := start(t)
	cache, err := kmsclient.NewCache(e.client, kmsclient.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ad := kmsclient.NewEngineAdapter(cache)
	bucketCtx := map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket"}
	pt, blob, arn, err := ad.GenerateDataKey(bg, "", bucketCtx) // a bucket key
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.client.GenerateDataKey(bg, "", kmsclient.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ad.DescribeKey(bg, arn); err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	for i := 0; i < 3; i++ {
		got, err := ad.Decrypt(bg, arn, blob, bucketCtx)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("cached key with server down: %v", err)
		}
	}
	if got, err := ad.DescribeKey(bg, arn); err != nil || got != arn {
		t.Fatalf("cached describe with server down: %v", err)
	}
	_, err = ad.Decrypt(bg, other.KeyID, other.Ciphertext, map[string]string{"aws:s3:arn": "arn:aws:s3:::other"})
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeInternal)
	_, _, _, err = ad.GenerateDataKey(bg, "", bucketCtx)
	wantCode(t, err, kmsclient.ErrUnavailable, kmsclient.CodeInternal)
}
