package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func BenchmarkSignKMS(b *testing.B) {
	body := `{"EncryptionContext":{"aws:s3:arn":"arn:aws:s3:::bucket"},"KeyId":"alias/aws/s3","KeySpec":"AES_256"}`
	c := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hash := PayloadHash([]byte(body))
	var s Signer
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.GenerateDataKey")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(req, hash, c, "us-east-1", "kms", when, Options{NormalizePath: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHeader(b *testing.B) {
	body := `{"KeyId":"alias/aws/s3"}`
	c := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hash := PayloadHash([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	if _, err := Sign(req, hash, c, "us-east-1", "kms", when, Options{NormalizePath: true}); err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Length", "24")
	m := &Message{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Host: req.Host, Header: req.Header}
	v := &Verifier{Region: "us-east-1", Service: "kms", NormalizePath: true,
		Lookup: func(string) (string, bool) { return c.SecretAccessKey, true }}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyHeader(m, hash, when); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveKey(b *testing.B) {
	s := Scope{Date: "20260102", Region: "us-east-1", Service: "kms"}
	b.ReportAllocs()
	for b.Loop() {
		k := DeriveKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", s)
		k.Zero()
	}
}
