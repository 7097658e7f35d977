package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
)

func signUnsigned(t *testing.T, req *http.Request, user, pass string) {
	t.Helper()
	_, err := sigv4.Sign(req, "UNSIGNED-PAYLOAD", sigv4.Credentials{AccessKeyID: user, SecretAccessKey: pass},
		"us-east-1", "s3", time.Now(), sigv4.Options{ContentSHA256Header: true})
	if err != nil {
		t.Fatal(err)
	}
}
