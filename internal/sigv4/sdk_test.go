package sigv4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// kmsRequest builds the request our KMS client sends for GenerateDataKey.
func kmsRequest(t testing.TB, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.GenerateDataKey")
	return req
}

// TestMatchesSDKSignerFixed is the fixed-vector cross-check of kms.md §2.2:
// our Authorization header must equal aws-sdk-go-v2's for the same inputs.
func TestMatchesSDKSignerFixed(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := `{"EncryptionContext":{"aws:s3:arn":"arn:aws:s3:::bucket/key"},"KeyId":"alias/aws/s3","KeySpec":"AES_256"}`
	for _, token := range []string{"", "FwoGZXIvYXdzEXAMPLETOKEN+/="} {
		c := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: token}
		ours := kmsRequest(t, body)
		if _, err := Sign(ours, PayloadHash([]byte(body)), c, "us-east-1", "kms", when, Options{NormalizePath: true}); err != nil {
			t.Fatal(err)
		}
		theirs := kmsRequest(t, body)
		err := sdkv4.NewSigner().SignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken},
			theirs, PayloadHash([]byte(body)), "kms", "us-east-1", when)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
			if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
				t.Errorf("token=%v %s:\n ours %q\nsdk  %q", token != "", h, got, want)
			}
		}
		if !strings.Contains(ours.Header.Get("Authorization"), "SignedHeaders=content-length;content-type;host;x-amz-date;") {
			t.Errorf("unexpected signed headers: %s", ours.Header.Get("Authorization"))
		}
	}
}

// TestMatchesSDKSignerRandom compares header and query signing with the SDK
// on random requests.
func TestMatchesSDKSignerRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	defer func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	}()
	const unres = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	word := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	printable := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(32 + rng.IntN(95))
		}
		return string(b)
	}
	anyBytes := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	methods := []string{"GET", "PUT", "POST", "DELETE", "HEAD"}
	for i := 0; i < 300 && !t.Failed(); i++ {
		path := ""
		for n := rng.IntN(4); n >= 0; n-- {
			path += "/" + word(unres, rng.IntN(8))
		}
		q := url.Values{}
		for n := rng.IntN(4); n > 0; n-- {
			q.Add(anyBytes(1+rng.IntN(6)), anyBytes(rng.IntN(6)))
		}
		headers := http.Header{}
		for n := rng.IntN(5); n > 0; n-- {
			headers.Add("X-Test-"+word("abcdefghij0123456789-", 1+rng.IntN(6)), printable(rng.IntN(20)))
		}
		body := anyBytes(rng.IntN(40))
		c := Credentials{AccessKeyID: word(unres, 20), SecretAccessKey: word(unres+"/+", 40)}
		if rng.IntN(2) == 0 {
			c.SessionToken = word(unres+"/+=", 30)
		}
		when := time.Unix(int64(rng.Uint32())+1e9, 0).UTC()
		service := []string{"kms", "s3", "sts"}[rng.IntN(3)]
		region := []string{"us-east-1", "eu-west-3"}[rng.IntN(2)]
		method := methods[rng.IntN(len(methods))]
		mk := func() *http.Request {
			u := &url.URL{Scheme: "https", Host: "example.com:8443", Path: path, RawQuery: q.Encode()}
			req := &http.Request{Method: method, URL: u, Host: u.Host, Header: headers.Clone(),
				ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader([]byte(body)))}
			return req
		}
		hash := PayloadHash([]byte(body))
		sdkCreds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		desc := fmt.Sprintf("case %d: %s %s?%s headers=%v", i, method, path, q.Encode(), headers)

		ours, theirs := mk(), mk()
		if _, err := Sign(ours, hash, c, region, service, when, Options{}); err != nil {
			t.Fatal(err)
		}
		if err := sdkv4.NewSigner().SignHTTP(context.Background(), sdkCreds, theirs, hash, service, region, when); err != nil {
			t.Fatal(err)
		}
		if g, w := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); g != w {
			t.Errorf("%s\n ours %s\n sdk  %s", desc, g, w)
		}

		ours, theirs = mk(), mk()
		if _, err := Presign(ours, hash, c, region, service, when, 900*time.Second, Options{}); err != nil {
			t.Fatal(err)
		}
		theirs.URL.RawQuery = q.Encode() + "&X-Amz-Expires=900"
		if theirs.URL.RawQuery[0] == '&' {
			theirs.URL.RawQuery = theirs.URL.RawQuery[1:]
		}
		signedURL, _, err := sdkv4.NewSigner(func(o *sdkv4.SignerOptions) { o.DisableHeaderHoisting = true }).
			PresignHTTP(context.Background(), sdkCreds, theirs, hash, service, region, when)
		if err != nil {
			t.Fatal(err)
		}
		su, _ := url.Parse(signedURL)
		if g, w := ours.URL.Query().Get(QuerySignature), su.Query().Get(QuerySignature); g == "" || g != w {
			t.Errorf("presign %s\n ours %s\n sdk  %s", desc, ours.URL.RawQuery, su.RawQuery)
		}
	}
}
