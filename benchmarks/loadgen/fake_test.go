package loadgen

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeS3 is a tiny in-memory S3 endpoint on 127.0.0.1 that checks no
// signatures. It can corrupt what it serves, to prove the load generator
// notices.
type fakeS3 struct {
	mu      sync.Mutex
	objs    map[string][]byte
	flipAt  int64 // GETs return the byte at this offset flipped; -1 off
	cut     bool  // GETs return one byte less than stored (and say so)
	refuse  string
	srv     *httptest.Server
	gets    int
	flipped int
}

func newFakeS3(t *testing.T) *fakeS3 {
	f := &fakeS3{objs: map[string][]byte{}, flipAt: -1}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeS3) options(s Scenario) Options {
	return Options{Endpoint: f.srv.URL, AccessKey: "AKID", SecretKey: "secret", Bucket: "bench", Scenario: s, Size: 4096, Concurrency: 2}
}

func s3err(w http.ResponseWriter, status int, code string) {
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "<Error><Code>"+code+"</Code><Message>fake</Message></Error>")
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" && r.Header.Get("X-Amz-Date") == "" {
		s3err(w, 403, "AccessDenied")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	if bucket != "bench" {
		s3err(w, 404, "NoSuchBucket")
		return
	}
	if f.refuse != "" && r.Header.Get("X-Amz-Server-Side-Encryption") == f.refuse {
		s3err(w, 501, "NotImplemented")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case key == "" && r.Method == http.MethodPut:
	case key == "" && r.Method == http.MethodGet:
		prefix := r.URL.Query().Get("prefix")
		var res struct {
			XMLName  xml.Name `xml:"ListBucketResult"`
			Contents []struct{ Key string }
		}
		keys := make([]string, 0, len(f.objs))
		for k := range f.objs {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			res.Contents = append(res.Contents, struct{ Key string }{k})
		}
		_ = xml.NewEncoder(w).Encode(res)
	case r.Method == http.MethodPut:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s3err(w, 400, "IncompleteBody")
			return
		}
		f.objs[key] = b
	case r.Method == http.MethodGet:
		b, ok := f.objs[key]
		if !ok {
			s3err(w, 404, "NoSuchKey")
			return
		}
		f.gets++
		b = slices.Clone(b)
		if f.flipAt >= 0 && f.flipAt < int64(len(b)) {
			b[f.flipAt] ^= 0x01
			f.flipped++
		}
		if f.cut && len(b) > 0 {
			b = b[:len(b)-1]
		}
		_, _ = w.Write(b)
	case r.Method == http.MethodDelete:
		delete(f.objs, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3err(w, 405, "MethodNotAllowed")
	}
}
