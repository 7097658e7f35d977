package engine

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testKMS is a small in-process key manager for engine tests: data keys
// are wrapped with AES-GCM under a per-key secret, with the canonical
// encryption context as associated data, so a wrong context or key fails
// as a real one does. kmsclient's own tests run the real backends.
type testKMS struct {
	mu       sync.Mutex
	keys     map[string][]byte // ARN → secret
	disabled map[string]bool
	down     atomic.Bool
	gens     atomic.Int64
	decs     atomic.Int64
	descs    atomic.Int64
}

type kmsCodeErr struct{ code string }

func (e kmsCodeErr) Error() string        { return "test kms: " + e.code }
func (e kmsCodeErr) KMSErrorCode() string { return e.code }

func newTestKMS(names ...string) *testKMS {
	k := &testKMS{keys: map[string][]byte{}, disabled: map[string]bool{}}
	for _, n := range append(names, "aws/s3") {
		s := make([]byte, 32)
		rand.Read(s)
		k.keys[k.arn(n)] = s
	}
	return k
}

func (k *testKMS) arn(name string) string { return "arn:aws:kms:us-east-1:111122223333:key/" + name }

func (k *testKMS) resolve(id string) (string, error) {
	if k.down.Load() {
		return "", kmsCodeErr{"KMSInternalException"}
	}
	id = strings.TrimPrefix(id, "alias/")
	if id == "" {
		id = "aws/s3"
	}
	arn := id
	if !strings.HasPrefix(id, "arn:") {
		arn = k.arn(id)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[arn]; !ok {
		return "", kmsCodeErr{"NotFoundException"}
	}
	if k.disabled[arn] {
		return "", kmsCodeErr{"DisabledException"}
	}
	return arn, nil
}

func (k *testKMS) aead(arn string) cipher.AEAD {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, _ := aes.NewCipher(k.keys[arn])
	g, _ := cipher.NewGCM(b)
	return g
}

func aad(m map[string]string) []byte { b, _ := json.Marshal(m); return b } // sorted keys

func (k *testKMS) GenerateDataKey(ctx context.Context, keyID string, ec map[string]string) ([]byte, []byte, string, error) {
	k.gens.Add(1)
	arn, err := k.resolve(keyID)
	if err != nil {
		return nil, nil, "", err
	}
	plain := make([]byte, 32)
	rand.Read(plain)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return plain, k.aead(arn).Seal(nonce, nonce, plain, aad(ec)), arn, nil
}

func (k *testKMS) Decrypt(ctx context.Context, arn string, blob []byte, ec map[string]string) ([]byte, error) {
	k.decs.Add(1)
	if _, err := k.resolve(arn); err != nil {
		return nil, err
	}
	if len(blob) < 12 {
		return nil, kmsCodeErr{"InvalidCiphertextException"}
	}
	p, err := k.aead(arn).Open(nil, blob[:12], blob[12:], aad(ec))
	if err != nil {
		return nil, kmsCodeErr{"InvalidCiphertextException"}
	}
	return p, nil
}

func (k *testKMS) DescribeKey(ctx context.Context, keyID string) (string, error) {
	k.descs.Add(1)
	return k.resolve(keyID)
}

func openSSE(t *testing.T, km *testKMS) (*Engine, *Options) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024, KeyManager: km}
	e := open(t, o)
	t.Cleanup(func() { e.Close() })
	mustBucket(t, e, "bkt")
	return e, o
}

func customerKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

var yes = true

func sseModes() map[string]*SSE {
	return map[string]*SSE{
		"plain":     {Type: SSENone},
		"default":   nil,
		"sse-s3":    {Type: SSES3},
		"kms":       {Type: SSEKMS, KMSKeyID: "k1", Context: map[string]string{"app": "test"}},
		"kms-bk":    {Type: SSEKMS, KMSKeyID: "alias/k1", BucketKey: &yes},
		"kms-alias": {Type: SSEKMS},
		"dsse":      {Type: DSSEKMS, KMSKeyID: "k1"},
		"sse-c":     {Type: SSEC, CustomerKey: customerKey(7)},
	}
}

func TestSSERoundTripEveryMode(t *testing.T) {
	km := newTestKMS("k1")
	e, o := openSSE(t, km)
	block := o.BlockSize
	for name, sse := range sseModes() {
		for _, n := range []int{0, 1, 1024, 1025, block - 1, block + 1, 3*block + 17} {
			key := fmt.Sprintf("%s-%d", name, n)
			data := payload(uint64(n), n)
			info, err := e.PutObject(ctx, "bkt", key, bytes.NewReader(data), &PutOptions{SSE: sse})
			if err != nil {
				t.Fatalf("%s: put: %v", key, err)
			}
			wantType := SSES3
			if sse != nil {
				wantType = sse.Type
			}
			if info.SSE.Type != wantType {
				t.Fatalf("%s: stored as %v, want %v", key, info.SSE.Type, wantType)
			}
			isMD5 := wantType == SSES3 || wantType == SSENone
			if (info.ETag == md5hex(data)) != isMD5 {
				t.Fatalf("%s: etag %s, MD5-ness should be %v", key, info.ETag, isMD5)
			}
			if wantType == SSEKMS || wantType == DSSEKMS {
				if info.SSE.KMSKeyARN == "" || !strings.HasPrefix(info.SSE.KMSKeyARN, "arn:aws:kms:") {
					t.Fatalf("%s: key ARN %q", key, info.SSE.KMSKeyARN)
				}
			}
			var ck []byte
			if sse != nil {
				ck = sse.CustomerKey
			}
			got, err := get(t, e, "bkt", key, &GetOptions{CustomerKey: ck})
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: read back %d bytes: %v", key, len(got), err)
			}
			for _, r := range [][2]int{{0, 0}, {1, 70000}, {block - 5, block + 5}, {n - 1, n - 1}, {n / 2, n - 1}} {
				if n == 0 || r[0] >= n || r[0] < 0 {
					continue
				}
				last := min(r[1], n-1)
				got, err := get(t, e, "bkt", key, &GetOptions{CustomerKey: ck, Range: ByteRange(int64(r[0]), int64(last))})
				if err != nil || !bytes.Equal(got, data[r[0]:last+1]) {
					t.Fatalf("%s: range %v: %v", key, r, err)
				}
			}
		}
	}
}

func TestSSECustomerKeyRules(t *testing.T) {
	e, _ := openSSE(t, newTestKMS())
	data := payload(1, 100000)
	if _, err := e.PutObject(ctx, "bkt", "c", bytes.NewReader(data), &PutOptions{SSE: &SSE{Type: SSEC, CustomerKey: customerKey(1)}}); err != nil {
		t.Fatal(err)
	}
	put(t, e, "bkt", "s3", data)
	for _, c := range []struct {
		key  string
		ck   []byte
		want error
	}{
		{"c", nil, ErrSSECustomerKeyRequired},
		{"c", customerKey(2), ErrSSECustomerKeyMismatch},
		{"c", []byte("short"), ErrInvalidCustomerKey},
		{"s3", customerKey(1), ErrSSENotApplicable},
	} {
		if _, err := get(t, e, "bkt", c.key, &GetOptions{CustomerKey: c.ck}); !errors.Is(err, c.want) {
			t.Errorf("GET %s: %v, want %v", c.key, err, c.want)
		}
		if _, err := e.HeadObject(ctx, "bkt", c.key, &GetOptions{CustomerKey: c.ck}); !errors.Is(err, c.want) {
			t.Errorf("HEAD %s: %v, want %v", c.key, err, c.want)
		}
	}
	info, err := e.HeadObject(ctx, "bkt", "c", &GetOptions{CustomerKey: customerKey(1)})
	if err != nil || info.SSE.CustomerKeyMD5 != CustomerKeyMD5(customerKey(1)) {
		t.Fatalf("HEAD with the key: %+v %v", info.SSE, err)
	}
	// Rotating the key is an in-place copy.
	_, err = e.CopyObject(ctx, "bkt", "c", "bkt", "c", &CopyOptions{SourceCustomerKey: customerKey(1), SSE: &SSE{Type: SSEC, CustomerKey: customerKey(3)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, e, "bkt", "c", &GetOptions{CustomerKey: customerKey(3)}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := e.CopyObject(ctx, "bkt", "c", "bkt", "d", nil); !errors.Is(err, ErrSSECustomerKeyRequired) {
		t.Fatalf("copy of SSE-C source without its key: %v", err)
	}
	// Without headers, a copy takes the destination default, not the source's mode.
	info, err = e.CopyObject(ctx, "bkt", "c", "bkt", "d", &CopyOptions{SourceCustomerKey: customerKey(3)})
	if err != nil || info.SSE.Type != SSES3 || info.ETag != md5hex(data) {
		t.Fatalf("copy to default: %+v %v", info, err)
	}
	if _, err := e.CopyObject(ctx, "bkt", "s3", "bkt", "s3", nil); !errors.Is(err, ErrInvalidCopy) {
		t.Fatalf("unchanged in-place copy: %v", err)
	}
	if _, err := e.CopyObject(ctx, "bkt", "s3", "bkt", "s3", &CopyOptions{SSE: &SSE{Type: SSES3}}); err != nil {
		t.Fatalf("in-place copy with explicit SSE: %v", err)
	}
}

func TestSSEKMSErrorsAndContext(t *testing.T) {
	km := newTestKMS("k1", "off")
	km.disabled[km.arn("off")] = true
	e, _ := openSSE(t, km)
	var ke *KMSError
	_, err := e.PutObject(ctx, "bkt", "x", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSEKMS, KMSKeyID: "nope"}})
	if !errors.As(err, &ke) || ke.Code != "NotFoundException" {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = e.PutObject(ctx, "bkt", "x", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSEKMS, KMSKeyID: "off"}})
	if !errors.As(err, &ke) || ke.Code != "DisabledException" {
		t.Fatalf("disabled key: %v", err)
	}
	_, err = e.PutObject(ctx, "bkt", "x", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSEKMS, Context: map[string]string{"aws:s3:arn": "arn:aws:s3:::bkt/other"}}})
	if !errors.Is(err, ErrInvalidEncryptionContext) {
		t.Fatalf("wrong aws:s3:arn: %v", err)
	}
	if _, err = e.PutObject(ctx, "bkt", "x", bytes.NewReader([]byte("v")), &PutOptions{SSE: &SSE{Type: SSEKMS, Context: map[string]string{"aws:s3:arn": "arn:aws:s3:::bkt/x"}}}); err != nil {
		t.Fatalf("right aws:s3:arn: %v", err)
	}
	if _, err = e.PutObject(ctx, "bkt", "x", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSES3, KMSKeyID: "k1"}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("key id with AES256: %v", err)
	}
	// Disabling the key after the write makes reads fail as S3's do.
	put2, _ := e.PutObject(ctx, "bkt", "y", bytes.NewReader([]byte("v")), &PutOptions{SSE: &SSE{Type: SSEKMS, KMSKeyID: "k1"}})
	km.disabled[put2.SSE.KMSKeyARN] = true
	if _, err := get(t, e, "bkt", "y", nil); !errors.As(err, &ke) || ke.Code != "DisabledException" {
		t.Fatalf("read under a disabled key: %v", err)
	}
	for _, c := range []string{"bad base64!", "bnVsbA==" /* null */, "eyJhIjoxfQ==" /* {"a":1} */} {
		if _, err := ParseEncryptionContext(c); !errors.Is(err, ErrInvalidEncryptionContext) {
			t.Errorf("context %q accepted", c)
		}
	}
	if m, err := ParseEncryptionContext("eyJhIjoiYiJ9"); err != nil || m["a"] != "b" {
		t.Fatalf("valid context: %v %v", m, err)
	}
}

// TestBucketKeyMakesOneKMSCall writes and reads many objects with a Bucket
// Key: the key manager is asked once per lifetime, and reads keep working
// from the cache while it is down.
func TestBucketKeyMakesOneKMSCall(t *testing.T) {
	km := newTestKMS("k1")
	e, _ := openSSE(t, km)
	gens, decs, descs := km.gens.Load(), km.decs.Load(), km.descs.Load()
	for i := range 100 {
		if _, err := e.PutObject(ctx, "bkt", fmt.Sprint(i), bytes.NewReader(payload(uint64(i), 4096)),
			&PutOptions{SSE: &SSE{Type: SSEKMS, KMSKeyID: "k1", BucketKey: &yes}}); err != nil {
			t.Fatal(err)
		}
	}
	if g, d := km.gens.Load()-gens, km.descs.Load()-descs; g != 1 || d != 0 {
		t.Fatalf("100 Bucket Key PUTs made %d GenerateDataKey and %d DescribeKey calls, want 1 and 0", g, d)
	}
	km.down.Store(true)
	for i := range 100 {
		got, err := get(t, e, "bkt", fmt.Sprint(i), nil)
		if err != nil || !bytes.Equal(got, payload(uint64(i), 4096)) {
			t.Fatalf("read %d with the key manager down: %v", i, err)
		}
	}
	if d := km.decs.Load() - decs; d != 0 {
		t.Fatalf("reads made %d Decrypt calls; the Bucket Key was cached", d)
	}
	_, err := e.PutObject(ctx, "bkt", "fresh", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSEKMS, KMSKeyID: "k2-unknown"}})
	var ke *KMSError
	if !errors.As(err, &ke) || ke.Code != "KMSInternalException" {
		t.Fatalf("write with the key manager down: %v", err)
	}
}

func TestBucketDefaultEncryption(t *testing.T) {
	km := newTestKMS("k1")
	e, _ := openSSE(t, km)
	rule, err := e.GetBucketEncryption(ctx, "bkt")
	if err != nil || rule.Algorithm != SSES3 {
		t.Fatalf("unconfigured bucket reports %+v %v, want AES256", rule, err)
	}
	if err := e.SetBucketEncryption(ctx, "bkt", BucketEncryption{Algorithm: SSES3, KMSKeyID: "k1"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("KMSMasterKeyID with AES256: %v", err)
	}
	if err := e.SetBucketEncryption(ctx, "bkt", BucketEncryption{Algorithm: SSEKMS, KMSKeyID: "k1", BucketKeyEnabled: true, Blocked: []string{"SSE-C"}}); err != nil {
		t.Fatal(err)
	}
	info := put(t, e, "bkt", "k", []byte("hello"))
	if info.SSE.Type != SSEKMS || !info.SSE.BucketKey || info.SSE.KMSKeyARN != km.arn("k1") {
		t.Fatalf("default not applied: %+v", info.SSE)
	}
	info, err = e.PutObject(ctx, "bkt", "k2", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSES3}})
	if err != nil || info.SSE.Type != SSES3 {
		t.Fatalf("request headers must win: %+v %v", info.SSE, err)
	}
	if _, err := e.PutObject(ctx, "bkt", "c", bytes.NewReader(nil), &PutOptions{SSE: &SSE{Type: SSEC, CustomerKey: customerKey(1)}}); !errors.Is(err, ErrEncryptionTypeBlocked) {
		t.Fatalf("blocked SSE-C: %v", err)
	}
	if err := e.DeleteBucketEncryption(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if info := put(t, e, "bkt", "k3", []byte("x")); info.SSE.Type != SSES3 {
		t.Fatalf("after delete: %v", info.SSE.Type)
	}
	if err := e.SetBucketEncryption(ctx, "missing", BucketEncryption{Algorithm: SSES3}); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestSSEMultipart(t *testing.T) {
	km := newTestKMS("k1")
	for name, sse := range map[string]*SSE{"sse-c": {Type: SSEC, CustomerKey: customerKey(9)}, "dsse": {Type: DSSEKMS}, "kms-bk": {Type: SSEKMS, BucketKey: &yes}, "s3": nil} {
		t.Run(name, func(t *testing.T) {
			e, _ := openSSE(t, km)
			e.minPartSize = 64 << 10
			var ck []byte
			if sse != nil {
				ck = sse.CustomerKey
			}
			up, err := e.CreateMultipartUpload(ctx, "bkt", "mp", &MultipartOptions{SSE: sse})
			if err != nil {
				t.Fatal(err)
			}
			p1, p2 := payload(1, 70<<10), payload(2, 3000)
			if ck != nil {
				if _, err := e.UploadPart(ctx, "bkt", "mp", up.UploadID, 1, bytes.NewReader(p1), nil); !errors.Is(err, ErrSSEPartParamsRequired) {
					t.Fatalf("part without the key: %v", err)
				}
				if _, err := e.UploadPart(ctx, "bkt", "mp", up.UploadID, 1, bytes.NewReader(p1), &PartOptions{CustomerKey: customerKey(8)}); !errors.Is(err, ErrSSEParametersMismatch) {
					t.Fatalf("part with another key: %v", err)
				}
			} else if _, err := e.UploadPart(ctx, "bkt", "mp", up.UploadID, 1, bytes.NewReader(p1), &PartOptions{CustomerKey: customerKey(8)}); !errors.Is(err, ErrSSEPartParamsRequired) {
				t.Fatalf("unexpected customer key on a part: %v", err)
			}
			var parts []CompletePart
			for i, p := range [][]byte{p1, p1, p2} { // part 2 is re-uploaded below
				info, err := e.UploadPart(ctx, "bkt", "mp", up.UploadID, min(i+1, 2), bytes.NewReader(p), &PartOptions{CustomerKey: ck})
				if err != nil {
					t.Fatal(err)
				}
				if info.SSE.Type != up.SSE.Type {
					t.Fatalf("part reports %v, upload %v", info.SSE.Type, up.SSE.Type)
				}
				if i == 0 || i == 2 {
					parts = append(parts, CompletePart{PartNumber: len(parts) + 1, ETag: info.ETag})
				}
			}
			info, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", up.UploadID, parts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(info.ETag, "-2") || info.SSE.Type != up.SSE.Type {
				t.Fatalf("complete: %+v", info)
			}
			whole := append(append([]byte{}, p1...), p2...)
			got, err := get(t, e, "bkt", "mp", &GetOptions{CustomerKey: ck})
			if err != nil || !bytes.Equal(got, whole) {
				t.Fatalf("content: %v", err)
			}
			b := int64(len(p1))
			got, err = get(t, e, "bkt", "mp", &GetOptions{CustomerKey: ck, Range: ByteRange(b-100, b+100)})
			if err != nil || !bytes.Equal(got, whole[b-100:b+101]) {
				t.Fatalf("range across the part boundary: %v", err)
			}
			// UploadPartCopy from an encrypted source into an encrypted upload.
			up2, _ := e.CreateMultipartUpload(ctx, "bkt", "mp2", &MultipartOptions{SSE: &SSE{Type: SSES3}})
			pi, err := e.UploadPartCopy(ctx, "bkt", "mp2", up2.UploadID, 1, "bkt", "mp", &PartCopyOptions{Range: ByteRange(b-10, b+9), SourceCustomerKey: ck})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.CompleteMultipartUpload(ctx, "bkt", "mp2", up2.UploadID, []CompletePart{{1, pi.ETag}}, nil); err != nil {
				t.Fatal(err)
			}
			if got, _ := get(t, e, "bkt", "mp2", nil); !bytes.Equal(got, whole[b-10:b+10]) {
				t.Fatal("part copy content")
			}
		})
	}
}

// TestNoSecretsOnDisk writes a recognisable plaintext with every mode and
// an SSE-C key, then searches every file under the drives for either.
func TestNoSecretsOnDisk(t *testing.T) {
	km := newTestKMS("k1")
	e, o := openSSE(t, km)
	canary := bytes.Repeat([]byte("COFFER-CANARY-PLAINTEXT-"), 2000)
	ck := []byte("0123456789abcdef0123456789ABCDEF")
	for name, sse := range sseModes() {
		if sse != nil && sse.Type == SSENone {
			continue
		}
		if sse != nil && sse.Type == SSEC {
			sse = &SSE{Type: SSEC, CustomerKey: ck}
		}
		for _, n := range []int{100, len(canary)} {
			if _, err := e.PutObject(ctx, "bkt", fmt.Sprint(name, n), bytes.NewReader(canary[:n]), &PutOptions{SSE: sse}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.Close()
	for _, d := range o.Drives {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte("COFFER-CANARY")) {
				t.Errorf("plaintext found in %s", p)
			}
			if bytes.Contains(b, ck) || bytes.Contains(b, ck[:16]) {
				t.Errorf("SSE-C key found in %s", p)
			}
			return nil
		})
	}
}

// TestSwappedCryptoRecordsFail swaps the encryption records of two
// objects in the index: neither may return plaintext.
func TestSwappedCryptoRecordsFail(t *testing.T) {
	e, _ := openSSE(t, newTestKMS())
	a, b := payload(1, 200000), payload(2, 200000)
	put(t, e, "bkt", "a", a)
	put(t, e, "bkt", "b", b)
	ra, _ := e.lookup("bkt", "a")
	rb, _ := e.lookup("bkt", "b")
	ra.Crypto, rb.Crypto = rb.Crypto, ra.Crypto
	err := e.idx.Update(func(t2 *indexTxn) error {
		t2.Set(objectKey("bkt", "a"), ra.Marshal(nil))
		t2.Set(objectKey("bkt", "b"), rb.Marshal(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		got, err := get(t, e, "bkt", k, nil)
		if !errors.Is(err, ErrCorrupt) || len(got) != 0 {
			t.Fatalf("%s with a swapped key record: %d bytes, %v", k, len(got), err)
		}
	}
}

// TestEncryptedObjectsSurviveIndexRebuild: the SSE-S3 master key lives on
// the drives too, so a rebuilt index still reads SSE-S3 objects.
func TestEncryptedObjectsSurviveIndexRebuild(t *testing.T) {
	o := &Options{Drives: drives(t, 3), BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	data := payload(3, 300000)
	put(t, e, "bkt", "k", data)
	e.Close()
	for _, d := range o.Drives {
		os.RemoveAll(filepath.Join(d, "index"))
	}
	e = open(t, o)
	defer e.Close()
	got, err := get(t, e, "bkt", "k", nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after rebuild: %v", err)
	}
	if info, _ := e.HeadObject(ctx, "bkt", "k", nil); info.SSE.Type != SSES3 {
		t.Fatalf("encryption lost in rebuild: %v", info.SSE.Type)
	}
}
