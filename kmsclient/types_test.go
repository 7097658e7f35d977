package kmsclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// engineKeyManager is the interface package engine declares; the adapter
// must satisfy it structurally (engine does not import kmsclient).
type engineKeyManager interface {
	GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (plaintext, ciphertext []byte, keyARN string, err error)
	Decrypt(ctx context.Context, keyARN string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
	DescribeKey(ctx context.Context, keyID string) (keyARN string, err error)
}

var _ engineKeyManager = (*EngineAdapter)(nil)

func TestCanonicalContext(t *testing.T) {
	cases := []struct {
		ec   EncryptionContext
		want string
	}{
		{nil, `{}`},
		{EncryptionContext{}, `{}`},
		{EncryptionContext{"b": "2", "a": "1", "B": "0"}, `{"B":"0","a":"1","b":"2"}`},
		{EncryptionContext{"q": "\"\\\n<&>", "ü": "ß"}, `{"q":"\"\\\u000a<&>","ü":"ß"}`},
	}
	for _, c := range cases {
		if got := string(c.ec.Canonical()); got != c.want {
			t.Errorf("Canonical(%v) = %s, want %s", c.ec, got, c.want)
		}
		// The canonical form is JSON that decodes back to the same map.
		var back map[string]string
		if err := json.Unmarshal(c.ec.Canonical(), &back); err != nil || !EncryptionContext(back).Equal(c.ec) {
			t.Errorf("Canonical(%v) does not decode back: %v", c.ec, err)
		}
	}
	if err := (EncryptionContext{"a": "\xff"}).Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("invalid UTF-8 accepted: %v", err)
	}
	if err := (EncryptionContext{"a": strings.Repeat("x", MaxEncryptionContextSize)}).Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("oversized context accepted: %v", err)
	}
}

func TestParseS3Header(t *testing.T) {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	ok, err := ParseS3Header(b(`{"project":"blue","aws:s3:arn":"arn:aws:s3:::b/k"}`))
	if err != nil || ok["project"] != "blue" || len(ok) != 2 {
		t.Fatalf("%v %v", ok, err)
	}
	if ec, err := ParseS3Header(b(`{}`)); err != nil || len(ec) != 0 {
		t.Fatalf("empty object: %v", err)
	}
	for name, v := range map[string]string{
		"not base64":   "%%%",
		"not json":     b(`project=blue`),
		"array":        b(`["a"]`),
		"number value": b(`{"a":1}`),
		"nested":       b(`{"a":{"b":"c"}}`),
		"null value":   b(`{"a":null}`),
		"duplicate":    b(`{"a":"1","a":"2"}`),
		"trailing":     b(`{"a":"1"}{}`),
		"bad utf8":     b("{\"a\":\"\xff\"}"),
		"truncated":    b(`{"a":"1"`),
		"too large":    b(`{"a":"` + strings.Repeat("x", 2*MaxEncryptionContextSize) + `"}`),
	} {
		if _, err := ParseS3Header(v); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseKeyRef(t *testing.T) {
	id := "1234abcd-12ab-34cd-56ef-1234567890ab"
	cases := map[string]KeyRef{
		id:                 {Kind: KeyRefID, ID: id},
		"mrk-1234abcd12ab": {Kind: KeyRefID, ID: "mrk-1234abcd12ab"},
		"arn:aws:kms:us-east-2:111122223333:key/" + id:     {Kind: KeyRefARN, ID: id, Partition: "aws", Region: "us-east-2", Account: "111122223333"},
		"arn:aws-cn:kms:cn-north-1:111122223333:key/" + id: {Kind: KeyRefARN, ID: id, Partition: "aws-cn", Region: "cn-north-1", Account: "111122223333"},
		"alias/my-key": {Kind: KeyRefAlias, Alias: "alias/my-key"},
		"alias/aws/s3": {Kind: KeyRefAlias, Alias: "alias/aws/s3"},
		"arn:aws:kms:us-east-2:111122223333:alias/my-key": {Kind: KeyRefAliasARN, Alias: "alias/my-key", Partition: "aws", Region: "us-east-2", Account: "111122223333"},
	}
	for in, want := range cases {
		got, err := ParseKeyRef(in)
		if err != nil || got != want {
			t.Errorf("ParseKeyRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "aws/s3", "alias/", "alias/a b", "arn:aws:s3:::bucket", "arn:aws:kms:us-east-2:1111:key/x",
		"arn:aws:kms:us-east-2:111122223333:grant/x", "arn:aws:kms::111122223333:key/" + id, "key/" + id, strings.Repeat("a", 3000)} {
		if _, err := ParseKeyRef(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseKeyRef(%q) accepted: %v", bad, err)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	for code, ci := range awsCodes {
		e := fromCode("aws-kms", "Op", "k", code, "m", ci.status)
		if !errors.Is(e, ci.sentinel) || e.KMSErrorCode() != code || e.Retryable != ci.retryable {
			t.Errorf("%s: %+v", code, e)
		}
	}
	for _, c := range []struct {
		status int
		want   error
	}{{403, ErrAccessDenied}, {404, ErrNotFound}, {429, ErrThrottled}, {503, ErrUnavailable}, {400, ErrInvalidArgument}} {
		e := fromCode("aws-kms", "Op", "", "SomethingNewException", "", c.status)
		if !errors.Is(e, c.want) {
			t.Errorf("unknown code with %d: %v", c.status, e)
		}
	}
	// Foreign errors get a code and keep their sentinel.
	e := asError("x", "Op", "k", fmt.Errorf("wrapped: %w", ErrDisabled))
	if CodeOf(e) != CodeDisabled || !errors.Is(e, ErrDisabled) {
		t.Errorf("foreign error: %v", e)
	}
	e = asError("x", "Op", "k", errors.New("boom"))
	if CodeOf(e) != CodeInternal || !errors.Is(e, ErrUnavailable) {
		t.Errorf("plain error: %v", e)
	}
	e = asError("x", "Op", "k", context.DeadlineExceeded)
	if CodeOf(e) != CodeDependencyTimeout || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", e)
	}
	var ke *Error
	if !errors.As(e, &ke) || ke.HTTPStatus() != 500 {
		t.Errorf("status %v", e)
	}
}

func TestEngineAdapterErrorsAlwaysCoded(t *testing.T) {
	f := newFakeKM()
	f.setFail(errors.New("foreign failure"))
	ad := NewEngineAdapter(f)
	_, _, _, err := ad.GenerateDataKey(bg, "", nil)
	var coded interface{ KMSErrorCode() string }
	if !errors.As(err, &coded) || coded.KMSErrorCode() != CodeInternal || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("foreign error not coded: %v", err)
	}
	f.setFail(nil)
	// A backend returning a short key is refused.
	_, _, _, err = NewEngineAdapter(shortKM{f}).GenerateDataKey(bg, "", nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("short data key accepted: %v", err)
	}
	if s := fmt.Sprint(DataKey{KeyID: "k", Plaintext: []byte("secret-bytes")}); strings.Contains(s, "secret-bytes") {
		t.Fatal("DataKey prints its plaintext")
	}
	if s := fmt.Sprintf("%+v %#v", StaticCredentials{AccessKeyID: "AK", SecretAccessKey: "SK-SECRET"}, AWSCredentials{SecretAccessKey: "SK-SECRET"}); strings.Contains(s, "SK-SECRET") {
		t.Fatal("credentials print their secret")
	}
}

type shortKM struct{ *fakeKM }

func (s shortKM) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	dk, err := s.fakeKM.GenerateDataKey(ctx, keyID, ec, opts...)
	dk.Plaintext = dk.Plaintext[:16]
	return dk, err
}

func TestKESAPIKey(t *testing.T) {
	k, err := GenerateKESAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := KESIdentity(k)
	if err != nil || len(id) != 64 {
		t.Fatalf("%q %v", id, err)
	}
	k2, _ := GenerateKESAPIKey()
	if id2, _ := KESIdentity(k2); id2 == id {
		t.Fatal("two keys, one identity")
	}
	for _, bad := range []string{"", "kes:v1:", "kes:v2:" + k[7:], "kes:v1:AAAA", k + "A"} {
		if _, err := ParseKESAPIKey(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if s := fmt.Sprintf("%v %#v", KESOptions{APIKey: k}, KESOptions{APIKey: k}); strings.Contains(s, k[7:]) {
		t.Fatal("KESOptions prints the API key")
	}
	err = (&KESOptions{Endpoint: "http://x", DefaultKey: "-bad"}).Validate()
	for _, want := range []string{"Endpoint", "APIKey", "DefaultKey"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate misses %s: %v", want, err)
		}
	}
	for name, ok := range map[string]bool{"a": true, "a-b_c": true, "-a": false, "a-": false, "_": false, "a/b": false, "a.b": false, strings.Repeat("a", 81): false} {
		if validKESName(name) != ok {
			t.Errorf("validKESName(%q) != %v", name, ok)
		}
	}
}

func TestAWSOptionsValidate(t *testing.T) {
	err := (&AWSOptions{Endpoint: "ftp://x/y", MaxAttempts: 99}).Validate()
	for _, want := range []string{"Region", "Credentials", "Endpoint", "MaxAttempts"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate misses %s: %v", want, err)
		}
	}
	c, err := NewAWSClient(AWSOptions{Region: "eu-west-1", Credentials: StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"}})
	if err != nil || c.endpoint != "https://kms.eu-west-1.amazonaws.com" {
		t.Fatalf("default endpoint: %v %v", c, err)
	}
	if _, err := (EnvCredentials{Getenv: envFrom(nil)}).Retrieve(bg); err == nil {
		t.Fatal("empty environment accepted")
	}
	got, err := (EnvCredentials{Getenv: envFrom(map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SESSION_TOKEN": "t"})}).Retrieve(bg)
	if err != nil || got != (AWSCredentials{"a", "b", "t"}) {
		t.Fatalf("%v %v", got, err)
	}
}
