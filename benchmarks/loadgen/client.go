package loadgen

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// s3Client is the handful of S3 calls a run makes. Implementations are
// safe for concurrent use.
type s3Client interface {
	createBucket(ctx context.Context) error
	put(ctx context.Context, key string, b *body) error
	// get returns the body (the caller closes it) and its Content-Length
	// (-1 if unknown) once the response headers are in.
	get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// list returns the number of keys on one ListObjectsV2 page and the
	// continuation token ("" on the last page).
	list(ctx context.Context, prefix, token string) (int, string, error)
	del(ctx context.Context, key string) error
}

// sseHeaders are the request headers of one SSE mode, split by use.
type sseHeaders struct {
	write [][2]string // on PUT
	read  [][2]string // on GET (SSE-C only)
}

func newSSEHeaders(o *Options, ssecKey []byte) sseHeaders {
	var h sseHeaders
	switch o.SSE {
	case SSES3:
		h.write = append(h.write, [2]string{"X-Amz-Server-Side-Encryption", "AES256"})
	case SSEKMS, SSEKMSBucketKey, SSEDSSE:
		alg := "aws:kms"
		if o.SSE == SSEDSSE {
			alg = "aws:kms:dsse"
		}
		h.write = append(h.write, [2]string{"X-Amz-Server-Side-Encryption", alg})
		if o.KMSKeyID != "" {
			h.write = append(h.write, [2]string{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", o.KMSKeyID})
		}
		if o.SSE == SSEKMSBucketKey {
			h.write = append(h.write, [2]string{"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled", "true"})
		}
	case SSEC:
		sum := md5.Sum(ssecKey)
		c := [][2]string{
			{"X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"},
			{"X-Amz-Server-Side-Encryption-Customer-Key", base64.StdEncoding.EncodeToString(ssecKey)},
			{"X-Amz-Server-Side-Encryption-Customer-Key-Md5", base64.StdEncoding.EncodeToString(sum[:])},
		}
		h.write, h.read = c, c
	}
	return h
}

// rawClient is a lean S3 client: net/http, SigV4 header signing with
// UNSIGNED-PAYLOAD, path-style URLs, no retries, no checksums.
type rawClient struct {
	hc     *http.Client
	base   string // endpoint + "/" + bucket
	host   string
	region string
	creds  sigv4.Credentials
	signer sigv4.Signer
	sse    sseHeaders
}

func newRawClient(o *Options, hc *http.Client, sse sseHeaders) (*rawClient, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return nil, err
	}
	return &rawClient{
		hc:     hc,
		base:   strings.TrimSuffix(o.Endpoint, "/") + "/" + o.Bucket,
		host:   u.Host,
		region: o.Region,
		creds:  sigv4.Credentials{AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey},
		sse:    sse,
	}, nil
}

// newHTTPClient returns a client whose transport keeps a connection per
// worker alive and never compresses.
func newHTTPClient(conc int) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conc,
		MaxIdleConnsPerHost:   2 * conc,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: 0,
		DisableCompression:    true,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	return &http.Client{Transport: tr}
}

func (c *rawClient) do(ctx context.Context, op, method, key, query string, body io.Reader, size int64, hdrs [][2]string) (*http.Response, error) {
	u := c.base
	if key != "" {
		u += "/" + escapeKey(key)
	}
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, &RequestError{Op: op, Key: key, Err: err}
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for _, h := range hdrs {
		req.Header[h[0]] = []string{h[1]}
	}
	if _, err := c.signer.Sign(req, sigv4.UnsignedPayload, c.creds, c.region, "s3", time.Now(), sigv4.Options{ContentSHA256Header: true}); err != nil {
		return nil, &RequestError{Op: op, Key: key, Err: err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &RequestError{Op: op, Key: key, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, errorFromResponse(op, key, resp)
	}
	return resp, nil
}

// errorFromResponse reads a bounded S3 XML error body.
func errorFromResponse(op, key string, resp *http.Response) error {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(b, &e)
	re := &RequestError{Op: op, Key: key, Status: resp.StatusCode, Code: e.Code, Message: truncate(e.Message, 200)}
	if e.Code == "NotImplemented" || resp.StatusCode == http.StatusNotImplemented {
		re.Err = ErrNotImplemented
	}
	return re
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// escapeKey URI-encodes a key for a path, keeping slashes.
func escapeKey(k string) string {
	return strings.ReplaceAll(url.PathEscape(k), "%2F", "/")
}

func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	_ = rc.Close()
}

func (c *rawClient) createBucket(ctx context.Context) error {
	resp, err := c.do(ctx, "CREATE-BUCKET", http.MethodPut, "", "", nil, 0, nil)
	var re *RequestError
	if errors.As(err, &re) && (re.Code == "BucketAlreadyOwnedByYou") {
		return nil
	}
	if err != nil {
		return err
	}
	drain(resp.Body)
	return nil
}

func (c *rawClient) put(ctx context.Context, key string, b *body) error {
	resp, err := c.do(ctx, "PUT", http.MethodPut, key, "", b, b.size, c.sse.write)
	if err != nil {
		return err
	}
	drain(resp.Body)
	return nil
}

func (c *rawClient) get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	resp, err := c.do(ctx, "GET", http.MethodGet, key, "", nil, 0, c.sse.read)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

func (c *rawClient) list(ctx context.Context, prefix, token string) (int, string, error) {
	q := url.Values{"list-type": {"2"}, "prefix": {prefix}, "max-keys": {strconv.Itoa(DefaultListPage)}}
	if token != "" {
		q.Set("continuation-token", token)
	}
	resp, err := c.do(ctx, "LIST", http.MethodGet, "", q.Encode(), nil, 0, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, "", &RequestError{Op: "LIST", Err: err}
	}
	return parseListPage(b)
}

// parseListPage counts the keys of a ListObjectsV2 answer and returns its
// continuation token.
func parseListPage(b []byte) (int, string, error) {
	var page struct {
		Contents []struct {
			Key string `xml:"Key"`
		} `xml:"Contents"`
		IsTruncated           bool   `xml:"IsTruncated"`
		NextContinuationToken string `xml:"NextContinuationToken"`
	}
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&page); err != nil {
		return 0, "", &RequestError{Op: "LIST", Err: err}
	}
	if page.IsTruncated && page.NextContinuationToken == "" {
		return 0, "", &RequestError{Op: "LIST", Message: "truncated page without a continuation token"}
	}
	if !page.IsTruncated {
		page.NextContinuationToken = ""
	}
	return len(page.Contents), page.NextContinuationToken, nil
}

func (c *rawClient) del(ctx context.Context, key string) error {
	resp, err := c.do(ctx, "DELETE", http.MethodDelete, key, "", nil, 0, nil)
	if err != nil {
		return err
	}
	drain(resp.Body)
	return nil
}
