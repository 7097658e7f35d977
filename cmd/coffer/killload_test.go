//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// This file is the client side of the process-level fault tests: workers
// that PUT, overwrite, DELETE, GET and run multipart uploads against a
// child server, recording every write in the model and checking every
// read against it, and the full check run after each restart.

// sseMode is how a write asks for encryption.
type sseMode int

const (
	sseDefault sseMode = iota // no header: the bucket default (SSE-S3)
	sseS3
	sseKMS    // SSE-KMS with the default key
	sseKMSKey // SSE-KMS with ktKMSKey, an encryption context and a Bucket Key
	sseDSSE
	sseC
	numSSEModes
)

func (s sseMode) String() string {
	return [...]string{"default", "sse-s3", "sse-kms", "sse-kms-key", "dsse-kms", "sse-c"}[s]
}

// header is the encryption GET reports for an object written with s.
func (s sseMode) header() string {
	switch s {
	case sseKMS, sseKMSKey:
		return "aws:kms"
	case sseDSSE:
		return "aws:kms:dsse"
	case sseC:
		return "SSE-C"
	}
	return "AES256"
}

// ssecKey is the one customer key every SSE-C write uses.
var ssecKey = func() [3]*string {
	k := bytes.Repeat([]byte{0x5c}, 32)
	sum := md5.Sum(k)
	return [3]*string{aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(k)),
		aws.String(base64.StdEncoding.EncodeToString(sum[:]))}
}()

var kmsContext = base64.StdEncoding.EncodeToString([]byte(`{"suite":"killtest"}`))

// inlineLimit is the engine's default InlineThreshold: objects up to this
// size live in the index, larger ones are sharded over the drives.
const inlineLimit = 32 << 10

// verdict is what a scenario makes of an operation's outcome.
type verdict int

const (
	vOK         verdict = iota // success, as expected
	vRefused                   // a failure the scenario predicts: the write did not happen
	vUnknown                   // the outcome is unknown (the server was killed): the write may have happened
	vUnexpected                // a failure (or success) the scenario forbids; reported, and treated as unknown
)

// opInfo describes an operation to a scenario's policy.
type opInfo struct {
	kind    string // put, get, delete, mpu-create, mpu-part, mpu-complete, mpu-abort
	key     string
	sharded bool // the object written or read is larger than inlineLimit
	phase   int32
}

// policy judges an outcome; err is nil on success.
type policy func(o opInfo, err error) verdict

// mix is the share of each operation a worker runs, in percent.
type mix struct{ put, del, get, mpu, abort int }

// loadStats counts operations by kind and outcome. Safe for concurrent use.
type loadStats struct {
	mu        sync.Mutex
	counts    map[string]int // "put ok", "get refused", ...
	failures  []string       // unexpected outcomes (first 50)
	integrity []string       // wrong bytes or metadata (first 50)
	nFail     int
	nIntegr   int
	ops       atomic.Int64
}

func newLoadStats() *loadStats { return &loadStats{counts: map[string]int{}} }

func (s *loadStats) count(kind, outcome string) {
	s.mu.Lock()
	s.counts[kind+" "+outcome]++
	s.mu.Unlock()
	s.ops.Add(1)
}

func (s *loadStats) unexpected(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nFail++
	if len(s.failures) < 50 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

func (s *loadStats) corrupt(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nIntegr++
	if len(s.integrity) < 50 {
		s.integrity = append(s.integrity, fmt.Sprintf(format, args...))
	}
}

// summary renders the counts sorted by name.
func (s *loadStats) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.counts))
	for k := range s.counts {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "%s=%d ", k, s.counts[k])
	}
	return strings.TrimSpace(b.String())
}

// worker is one client goroutine's state; it belongs to that goroutine.
// The model, stats, phase, seq and stop it points to are shared.
type worker struct {
	c      *s3.Client
	m      *model
	st     *loadStats
	pol    policy
	phase  *atomic.Int32 // scenario phase, read at the start of each op
	rng    *rand.Rand
	writes []string // keys this worker writes
	reads  []string // keys this worker reads
	sizes  []int
	sse    []sseMode
	mix    mix
	seq    *atomic.Uint64 // content seeds, unique per fleet
	stop   *atomic.Bool
}

// loop runs operations until stop is set or max operations were run.
func (w *worker) loop(max int) {
	for i := 0; i < max && !w.stop.Load(); i++ {
		w.one()
	}
}

// one runs one randomly chosen operation.
func (w *worker) one() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := w.rng.IntN(w.mix.put + w.mix.del + w.mix.get + w.mix.mpu + w.mix.abort)
	wkey := w.writes[w.rng.IntN(len(w.writes))]
	switch {
	case n < w.mix.put:
		w.put(ctx, wkey, w.sizes[w.rng.IntN(len(w.sizes))], w.sse[w.rng.IntN(len(w.sse))])
	case n < w.mix.put+w.mix.del:
		w.del(ctx, wkey)
	case n < w.mix.put+w.mix.del+w.mix.get:
		w.get(ctx, w.reads[w.rng.IntN(len(w.reads))])
	default:
		w.multipart(ctx, wkey, n >= w.mix.put+w.mix.del+w.mix.get+w.mix.mpu)
	}
}

// content returns deterministic pseudo-random bytes for a seed.
func content(seed uint64, size int) []byte {
	b := make([]byte, size)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// judge applies the policy and records the outcome; it returns the
// verdict.
func (w *worker) judge(o opInfo, err error) verdict {
	v := w.pol(o, err)
	switch v {
	case vOK:
		w.st.count(o.kind, "ok")
	case vRefused:
		w.st.count(o.kind, "refused")
	case vUnknown:
		w.st.count(o.kind, "unknown")
	case vUnexpected:
		w.st.count(o.kind, "unexpected")
		if err == nil {
			w.st.unexpected("%s %s (phase %d) succeeded but should have failed", o.kind, o.key, o.phase)
		} else {
			w.st.unexpected("%s %s (phase %d): %v", o.kind, o.key, o.phase, err)
		}
	}
	return v
}

// settle records a write's outcome in the model.
func (w *worker) settle(key string, wr *write, v verdict, etag string) {
	switch v {
	case vOK:
		w.m.ack(key, wr, etag)
	case vRefused:
		w.m.fail(key, wr)
	}
}

func applyPutSSE(in *s3.PutObjectInput, s sseMode) {
	switch s {
	case sseS3:
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	case sseKMS:
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
	case sseKMSKey:
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId, in.SSEKMSEncryptionContext, in.BucketKeyEnabled = aws.String(ktKMSKey), aws.String(kmsContext), aws.Bool(true)
	case sseDSSE:
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKmsDsse
	case sseC:
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ssecKey[0], ssecKey[1], ssecKey[2]
	}
}

func (w *worker) put(ctx context.Context, key string, size int, s sseMode) {
	seed := w.seq.Add(1)
	data := content(seed, size)
	v := &value{size: int64(size), sum: sha256.Sum256(data), sse: s.header()}
	md5sum := md5.Sum(data)
	if s == sseDefault || s == sseS3 {
		// S3's ETag of a plain or SSE-S3 PUT is the content's MD5: known
		// even if the answer never comes.
		v.etag = hex.EncodeToString(md5sum[:])
	}
	wr := w.m.begin(key, v, fmt.Sprintf("PUT %dB %s #%d", size, s, seed))
	o := opInfo{kind: "put", key: key, sharded: size > inlineLimit, phase: w.phase.Load()}
	in := &s3.PutObjectInput{Bucket: aws.String(ktBucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(size))}
	applyPutSSE(in, s)
	out, err := w.c.PutObject(ctx, in)
	verd := w.judge(o, err)
	etag := ""
	if err == nil {
		etag = strings.Trim(aws.ToString(out.ETag), `"`)
		if v.etag != "" && etag != v.etag {
			w.st.corrupt("PUT %s %dB %s: ETag %s is not the MD5 of the content", key, size, s, etag)
		}
		if got := putSSE(out); got != s.header() {
			w.st.corrupt("PUT %s %s: response says encryption %q", key, s, got)
		}
	}
	w.settle(key, wr, verd, etag)
}

func putSSE(out *s3.PutObjectOutput) string {
	if aws.ToString(out.SSECustomerAlgorithm) != "" {
		return "SSE-C"
	}
	return string(out.ServerSideEncryption)
}

func (w *worker) del(ctx context.Context, key string) {
	wr := w.m.begin(key, &value{absent: true}, "DELETE")
	o := opInfo{kind: "delete", key: key, phase: w.phase.Load()}
	_, err := w.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(ktBucket), Key: aws.String(key)})
	w.settle(key, wr, w.judge(o, err), "")
}

// get reads a key and checks what it returns against the model.
func (w *worker) get(ctx context.Context, key string) {
	sharded := false
	for _, v := range w.m.candidates(key) {
		sharded = sharded || v.size > inlineLimit
	}
	o := opInfo{kind: "get", key: key, sharded: sharded, phase: w.phase.Load()}
	rs := w.m.beginRead(key)
	obs, err := getObject(ctx, w.c, key)
	if err != nil {
		w.m.forgetRead(key, rs)
		w.judge(o, err)
		return
	}
	if cerr := w.m.endRead(key, rs, obs); cerr != nil {
		w.st.corrupt("GET %s: %v", key, cerr)
		w.st.count("get", "wrong")
		return
	}
	w.m.bytesR.Add(obs.size)
	o.sharded = obs.size > inlineLimit
	w.judge(o, nil)
}

// getObject reads a whole object (retrying with the SSE-C key when the
// server asks for it) and returns what it holds; absent on 404.
func getObject(ctx context.Context, c *s3.Client, key string) (*value, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(ktBucket), Key: aws.String(key)}
	out, err := c.GetObject(ctx, in)
	// 400 InvalidRequest: the object needs the SSE-C key, or (overwritten
	// meanwhile by another writer) must be read without it. Switch.
	for try := 0; try < 8 && err != nil && httpStatus(err) == http.StatusBadRequest && apiCode(err) == "InvalidRequest"; try++ {
		if in.SSECustomerKey == nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ssecKey[0], ssecKey[1], ssecKey[2]
		} else {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = nil, nil, nil
		}
		out, err = c.GetObject(ctx, in)
	}
	if err != nil {
		if httpStatus(err) == http.StatusNotFound && apiCode(err) == "NoSuchKey" {
			return &value{absent: true}, nil
		}
		return nil, err
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if out.ContentLength != nil && n != *out.ContentLength {
		return nil, fmt.Errorf("body of %d bytes, Content-Length %d", n, *out.ContentLength)
	}
	v := &value{size: n, etag: strings.Trim(aws.ToString(out.ETag), `"`), sse: string(out.ServerSideEncryption)}
	if aws.ToString(out.SSECustomerAlgorithm) != "" {
		v.sse = "SSE-C"
	}
	h.Sum(v.sum[:0])
	return v, nil
}

// multipart runs one upload on key: create, one or two parts (part 1
// sometimes uploaded twice), then Complete, or Abort when abort is set.
func (w *worker) multipart(ctx context.Context, key string, abort bool) {
	s := w.sse[w.rng.IntN(len(w.sse))]
	phase := w.phase.Load()
	cin := &s3.CreateMultipartUploadInput{Bucket: aws.String(ktBucket), Key: aws.String(key)}
	pin := &s3.PutObjectInput{}
	applyPutSSE(pin, s)
	cin.ServerSideEncryption, cin.SSEKMSKeyId, cin.SSEKMSEncryptionContext, cin.BucketKeyEnabled = pin.ServerSideEncryption, pin.SSEKMSKeyId, pin.SSEKMSEncryptionContext, pin.BucketKeyEnabled
	cin.SSECustomerAlgorithm, cin.SSECustomerKey, cin.SSECustomerKeyMD5 = pin.SSECustomerAlgorithm, pin.SSECustomerKey, pin.SSECustomerKeyMD5
	cout, err := w.c.CreateMultipartUpload(ctx, cin)
	if v := w.judge(opInfo{kind: "mpu-create", key: key, phase: phase}, err); v != vOK {
		if v == vUnknown || v == vUnexpected {
			w.m.createPending(key)
		}
		return
	}
	u := &upload{key: key, id: aws.ToString(cout.UploadId), sse: s.header(), parts: map[int32]*partRecord{}}
	w.m.addUpload(u)

	// Sizes: one part of up to 2 MiB, or a 5 MiB part and a small last one.
	var sizes []int
	if w.rng.IntN(5) == 0 {
		sizes = []int{5 << 20, w.rng.IntN(300 << 10)}
	} else {
		sizes = []int{w.sizes[w.rng.IntN(len(w.sizes))]}
	}
	var parts [][]byte
	var etags []string
	for i, size := range sizes {
		n := int32(i + 1)
		times := 1
		if i == 0 && w.rng.IntN(4) == 0 {
			times = 2 // overwrite the same part number
		}
		for range times {
			data := content(w.seq.Add(1), size)
			w.m.partBegin(u, n)
			pout, err := w.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(ktBucket), Key: aws.String(key), UploadId: aws.String(u.id),
				PartNumber: aws.Int32(n), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(size)),
				SSECustomerAlgorithm: pin.SSECustomerAlgorithm, SSECustomerKey: pin.SSECustomerKey, SSECustomerKeyMD5: pin.SSECustomerKeyMD5})
			verd := w.judge(opInfo{kind: "mpu-part", key: key, sharded: size > inlineLimit, phase: phase}, err)
			etag := ""
			if verd == vOK {
				etag = strings.Trim(aws.ToString(pout.ETag), `"`)
				w.m.bytesW.Add(int64(size))
			}
			w.m.partEnd(u, n, etag, verd)
			if verd != vOK {
				return
			}
			if len(parts) < int(n) {
				parts, etags = append(parts, nil), append(etags, "")
			}
			parts[n-1], etags[n-1] = data, etag
		}
	}

	if abort {
		w.m.setUploadState(u, uploadAborting)
		_, err := w.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(ktBucket), Key: aws.String(key), UploadId: aws.String(u.id)})
		switch w.judge(opInfo{kind: "mpu-abort", key: key, phase: phase}, err) {
		case vOK:
			w.m.setUploadState(u, uploadDone)
			w.m.acked.Add(1)
		case vRefused:
			w.m.setUploadState(u, uploadOpen)
		}
		return
	}
	h := sha256.New()
	var total int64
	var cparts []types.CompletedPart
	for i, p := range parts {
		h.Write(p)
		total += int64(len(p))
		cparts = append(cparts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(`"` + etags[i] + `"`)})
	}
	v := &value{size: total, sse: s.header()}
	h.Sum(v.sum[:0])
	w.m.setUploadState(u, uploadCompleting)
	wr := w.m.begin(key, v, fmt.Sprintf("multipart %d parts %dB %s %s", len(parts), total, s, u.id))
	out, err := w.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(ktBucket), Key: aws.String(key),
		UploadId: aws.String(u.id), MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}})
	verd := w.judge(opInfo{kind: "mpu-complete", key: key, sharded: true, phase: phase}, err)
	etag := ""
	switch {
	case err == nil:
		etag = strings.Trim(aws.ToString(out.ETag), `"`)
		w.m.setUploadState(u, uploadDone)
	case verd == vRefused:
		w.m.setUploadState(u, uploadOpen)
	}
	w.settle(key, wr, verd, etag)
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// listed is an object as LIST shows it.
type listed struct {
	size int64
	etag string
}

func listAll(ctx context.Context, c *s3.Client) (map[string]listed, error) {
	out := map[string]listed{}
	var token *string
	for range 10000 {
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(ktBucket), ContinuationToken: token, MaxKeys: aws.Int32(100)})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = listed{size: aws.ToInt64(o.Size), etag: strings.Trim(aws.ToString(o.ETag), `"`)}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		token = page.NextContinuationToken
	}
	return nil, errors.New("more than 10000 pages")
}

// checkReport is what checkAll found.
type checkReport struct {
	keys, present, lost int
	uploadsLeft         int // uploads the server still listed (all aborted)
	problems            []string
}

// checkAll is the check after a restart (no client running): every key
// must hold a state its history allows, LIST must agree with GET, every
// acknowledged open upload must be listed with its acknowledged parts and
// be abortable. Then the model is reset to what was observed and every
// listed upload is aborted.
func checkAll(ctx context.Context, c *s3.Client, m *model) checkReport {
	return checkKeys(ctx, c, m, m.names)
}

// checkKeys is checkAll restricted to some of the model's keys (LIST
// entries of the others are ignored).
func checkKeys(ctx context.Context, c *s3.Client, m *model, keys []string) checkReport {
	var r checkReport
	bad := func(format string, args ...any) { r.problems = append(r.problems, fmt.Sprintf(format, args...)) }
	list, err := listAll(ctx, c)
	if err != nil {
		bad("LIST: %v", err)
	}
	for _, key := range keys {
		r.keys++
		obs, err := getObject(ctx, c, key)
		if err != nil {
			bad("GET %s after restart: %v", key, err)
			r.lost++
			continue
		}
		if err := m.check(key, obs); err != nil {
			bad("GET %s after restart: %v", key, err)
			r.lost++
		}
		l, inList := list[key]
		switch {
		case list == nil:
		case obs.absent && inList:
			bad("LIST shows %s (%d bytes) but GET says it does not exist", key, l.size)
		case !obs.absent && !inList:
			bad("GET finds %s but LIST does not show it", key)
		case !obs.absent && (l.size != obs.size || l.etag != obs.etag):
			bad("LIST shows %s as %dB etag %s, GET as %dB etag %s", key, l.size, l.etag, obs.size, obs.etag)
		}
		if !obs.absent {
			r.present++
		}
		delete(list, key)
		m.reset(key, obs)
	}
	for k := range list {
		if m.keys[k] == nil {
			bad("LIST shows %s, which no client wrote", k)
		}
	}
	r.uploadsLeft, r.problems = checkUploads(ctx, c, m, r.problems)
	return r
}

// checkUploads compares ListMultipartUploads with the model, then aborts
// every listed upload.
func checkUploads(ctx context.Context, c *s3.Client, m *model, problems []string) (int, []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	onServer := map[string]string{} // upload id -> key
	var keyMarker, idMarker *string
	for range 1000 {
		page, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(ktBucket), KeyMarker: keyMarker, UploadIdMarker: idMarker})
		if err != nil {
			bad("ListMultipartUploads: %v", err)
			break
		}
		for _, u := range page.Uploads {
			onServer[aws.ToString(u.UploadId)] = aws.ToString(u.Key)
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		keyMarker, idMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	tracked, pendingCreates := m.takeUploads()
	for _, u := range tracked {
		_, listedNow := onServer[u.id]
		switch {
		case u.state == uploadDone && listedNow:
			bad("upload %s of %s was completed or aborted (acknowledged) but is still listed", u.id, u.key)
		case u.state == uploadOpen && !listedNow:
			bad("upload %s of %s (created, acknowledged) is gone after restart", u.id, u.key)
		}
		if listedNow {
			problems = checkParts(ctx, c, u, problems)
		}
	}
	known := map[string]bool{}
	for _, u := range tracked {
		known[u.id] = true
	}
	for id, key := range onServer {
		if !known[id] && pendingCreates[key] == 0 {
			bad("upload %s of %s is listed but no client created it", id, key)
		}
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(ktBucket), Key: aws.String(key), UploadId: aws.String(id)}); err != nil {
			bad("aborting listed upload %s of %s: %v", id, key, err)
		}
	}
	return len(onServer), problems
}

func checkParts(ctx context.Context, c *s3.Client, u *upload, problems []string) []string {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	out, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(ktBucket), Key: aws.String(u.key), UploadId: aws.String(u.id)})
	if err != nil {
		bad("ListParts of listed upload %s: %v", u.id, err)
		return problems
	}
	got := map[int32]string{}
	for _, p := range out.Parts {
		got[aws.ToInt32(p.PartNumber)] = strings.Trim(aws.ToString(p.ETag), `"`)
	}
	for n, p := range u.parts {
		etag, ok := got[n]
		switch {
		case p.acked != "" && !ok:
			bad("upload %s: acknowledged part %d is missing", u.id, n)
		case p.acked != "" && p.pending == 0 && etag != p.acked:
			bad("upload %s: part %d has ETag %s, acknowledged %s", u.id, n, etag, p.acked)
		}
		delete(got, n)
	}
	for n := range got {
		bad("upload %s: part %d is listed but was never uploaded", u.id, n)
	}
	return problems
}

// createBucket creates the test bucket.
func createBucket(ctx context.Context, c *s3.Client) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(ktBucket)})
	return err
}
