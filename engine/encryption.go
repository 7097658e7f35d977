package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	ccrypto "github.com/cofferdb/coffer/crypto"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// resolvedSSE is a write's encryption after the bucket default and the key
// manager have been consulted.
type resolvedSSE struct {
	Type        SSEType // SSENone, SSES3, SSEKMS, DSSEKMS or SSEC
	KeyID       string  // as the request or rule named it; the ARN comes from the key manager
	Context     map[string]string
	BucketKey   bool
	CustomerKey []byte
}

// encodeBucketConfig and decodeBucketConfig keep a bucket's explicit
// configuration in index.Bucket.Config.
type bucketConfig struct {
	Encryption *BucketEncryption `json:"encryption,omitempty"`
}

func decodeBucketConfig(b []byte) (bucketConfig, error) {
	var c bucketConfig
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: bucket configuration: %w", ErrCorrupt, err)
	}
	return c, nil
}

// defaultEncryption is the rule of a bucket without an explicit one.
func (e *Engine) defaultEncryption() BucketEncryption {
	return BucketEncryption{Algorithm: e.opts.DefaultEncryption}
}

// bucketEncryption returns a bucket's effective rule and whether it was
// set explicitly.
func (e *Engine) bucketEncryption(brec index.Bucket) (BucketEncryption, bool, error) {
	c, err := decodeBucketConfig(brec.Config)
	if err != nil {
		return BucketEncryption{}, false, err
	}
	if c.Encryption == nil {
		return e.defaultEncryption(), false, nil
	}
	return *c.Encryption, true, nil
}

// resolveSSE applies S3's write-path decision order (s3-sse-spec §1.18)
// from step 4 on; the facade has parsed and checked the headers.
func (e *Engine) resolveSSE(ctx context.Context, brec index.Bucket, req *SSE) (*resolvedSSE, error) {
	rule, _, err := e.bucketEncryption(brec)
	if err != nil {
		return nil, err
	}
	out := &resolvedSSE{}
	keyID := ""
	if req == nil || req.Type == SSEDefault {
		if req != nil && (req.KMSKeyID != "" || req.Context != nil || req.CustomerKey != nil) {
			return nil, fmt.Errorf("%w: encryption parameters without an encryption type", ErrInvalidArgument)
		}
		out.Type, keyID, out.BucketKey = rule.Algorithm, rule.KMSKeyID, rule.BucketKeyEnabled
		if req != nil && req.BucketKey != nil {
			out.BucketKey = *req.BucketKey
		}
	} else {
		out.Type, keyID, out.Context = req.Type, req.KMSKeyID, req.Context
		out.BucketKey = rule.BucketKeyEnabled
		if req.BucketKey != nil {
			out.BucketKey = *req.BucketKey
		}
		if (keyID != "" || req.Context != nil) && req.Type != SSEKMS && req.Type != DSSEKMS {
			return nil, fmt.Errorf("%w: Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms", ErrInvalidArgument)
		}
		if req.CustomerKey != nil && req.Type != SSEC {
			return nil, fmt.Errorf("%w: Server Side Encryption with Customer provided key is incompatible with the encryption method specified", ErrInvalidArgument)
		}
	}
	switch out.Type {
	case SSEC:
		if rule.blocks("SSE-C") {
			return nil, ErrEncryptionTypeBlocked
		}
		if len(req.CustomerKey) != ccrypto.KeySize {
			return nil, ErrInvalidCustomerKey
		}
		out.CustomerKey = req.CustomerKey
		out.BucketKey = false
	case SSENone:
		if rule.blocks("NONE") {
			return nil, ErrEncryptionTypeBlocked
		}
		out.BucketKey = false
	case SSES3:
		out.BucketKey = false
	case SSEKMS, DSSEKMS:
		if e.keys.km == nil {
			return nil, ErrNoKeyManager
		}
		if keyID == "" {
			keyID = "alias/aws/s3"
		}
		// No DescribeKey: GenerateDataKey resolves the id to its ARN and
		// fails for unknown, disabled, pending or asymmetric keys itself,
		// so a write costs one key-manager call (none with a cached
		// Bucket Key).
		out.KeyID = keyID
		if out.Type == DSSEKMS {
			out.BucketKey = false // S3 does not apply Bucket Keys to DSSE
		}
	default:
		return nil, fmt.Errorf("%w: encryption type %v", ErrInvalidArgument, out.Type)
	}
	return out, nil
}

// sseInfo reports a stored object's encryption.
func sseInfo(c *cryptoRecord, customerKey []byte) SSEInfo {
	if c == nil {
		return SSEInfo{Type: SSENone}
	}
	info := SSEInfo{Type: c.Type, KMSKeyARN: c.KeyARN, Context: c.Context, BucketKey: c.BucketKey}
	if c.Type == SSEC && customerKey != nil {
		info.CustomerKeyMD5 = CustomerKeyMD5(customerKey)
	}
	return info
}

func parseCrypto(b []byte) (*cryptoRecord, error) {
	if b == nil {
		return nil, nil
	}
	c := &cryptoRecord{}
	if err := c.unmarshal(b); err != nil {
		return nil, err
	}
	return c, nil
}

// encryptChain stacks one encrypting stage per key layer in front of dst:
// the first layer is the innermost. close finishes every stage in order;
// abort leaves the stream unterminated (never readable).
func encryptChain(dst io.Writer, ks *keySet, id ccrypto.Identity) (w io.Writer, closeFn func() error, abort func(), err error) {
	if ks == nil {
		return dst, func() error { return nil }, func() {}, nil
	}
	var stages []*ccrypto.EncryptWriter
	w = dst
	for i := len(ks.layers) - 1; i >= 0; i-- {
		ew, err := ccrypto.NewEncryptWriter(w, ks.layers[i], id)
		if err != nil {
			for _, s := range stages {
				s.Abort()
			}
			return nil, nil, nil, err
		}
		stages = append(stages, ew)
		w = ew
	}
	closeFn = func() error {
		for i := len(stages) - 1; i >= 0; i-- {
			if err := stages[i].Close(); err != nil {
				return err
			}
		}
		return nil
	}
	abort = func() {
		for _, s := range stages {
			s.Abort()
		}
	}
	return w, closeFn, abort, nil
}

// storedRange maps the plaintext range [off, off+n) of a stream of plain
// bytes through layers of encryption: the ranges per layer (innermost
// first) and the stored bytes to read.
func storedRange(plain, off, n int64, layers int) ([]ccrypto.Range, int64, int64, error) {
	var rs []ccrypto.Range
	for range layers {
		r, err := ccrypto.MapRange(plain, off, n)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		rs = append(rs, r)
		plain, off, n = ccrypto.SealedSize(plain), r.SealedOffset, r.SealedLength
	}
	return rs, off, n, nil
}

// decryptChain reads plaintext out of src (positioned at the stored range
// storedRange returned) through every layer, outermost first.
func decryptChain(src io.Reader, ks *keySet, id ccrypto.Identity, rs []ccrypto.Range) (io.Reader, []io.Closer, error) {
	var closers []io.Closer
	r := src
	for i := len(rs) - 1; i >= 0; i-- {
		d, err := ccrypto.NewDecryptReader(r, ks.layers[i], id, rs[i])
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		closers = append(closers, d)
		r = d
	}
	return r, closers, nil
}

// masterRecord is the persisted form of the SSE-S3 master key: sealed by
// the key manager, or (with no key manager) in the clear beside the data.
type masterRecord struct {
	KeyARN string `json:"arn,omitempty"`
	Blob   []byte `json:"blob,omitempty"`
	Plain  []byte `json:"plain,omitempty"`
}

var masterContext = map[string]string{"coffer:purpose": "sse-s3 master key"}

const masterFile = "sse-s3-master"

// loadMaster returns the SSE-S3 master key: Options.MasterKey, or the one
// recorded in the index or on the drives, or a new one.
func (e *Engine) loadMaster(ctx context.Context) (*ccrypto.Key, error) {
	if e.opts.MasterKey != nil {
		return ccrypto.NewKey(e.opts.MasterKey)
	}
	var rec masterRecord
	found := false
	if v, err := e.idx.Get(index.MetaKey(masterFile)); err == nil {
		found = json.Unmarshal(v, &rec) == nil
	}
	for _, d := range e.usableDrives() {
		if found {
			break
		}
		if v, err := readSmallFile(e, filepath.Join(d, keysDir, masterFile)); err == nil {
			found = json.Unmarshal(v, &rec) == nil
		}
	}
	if found {
		switch {
		case rec.Blob != nil:
			if e.opts.KeyManager == nil {
				return nil, fmt.Errorf("engine: the SSE-S3 master key is sealed by a key manager (%s) and none is configured", rec.KeyARN)
			}
			plain, err := e.opts.KeyManager.Decrypt(ctx, rec.KeyARN, rec.Blob, masterContext)
			if err != nil {
				return nil, fmt.Errorf("engine: unseal the SSE-S3 master key: %w", kmsErr(err))
			}
			defer clear(plain)
			return ccrypto.NewKey(plain)
		case rec.Plain != nil:
			return ccrypto.NewKey(rec.Plain)
		}
		return nil, fmt.Errorf("%w: SSE-S3 master key record", ErrCorrupt)
	}
	// A new store: make the master key.
	var key *ccrypto.Key
	if km := e.opts.KeyManager; km != nil {
		plain, blob, arn, err := km.GenerateDataKey(ctx, "", masterContext)
		if err != nil {
			return nil, fmt.Errorf("engine: create the SSE-S3 master key: %w", kmsErr(err))
		}
		key, err = ccrypto.NewKey(plain)
		clear(plain)
		if err != nil {
			return nil, err
		}
		rec = masterRecord{KeyARN: arn, Blob: blob}
	} else {
		var err error
		if key, err = ccrypto.GenerateKey(nil); err != nil {
			return nil, err
		}
		rec = masterRecord{Plain: bytes.Clone(key[:])}
		e.log.Warn("no key manager configured: the SSE-S3 master key is stored in the clear beside the data; " +
			"anyone who can read the drives can read SSE-S3 objects. Configure a key manager to seal it.")
	}
	v, _ := json.Marshal(rec)
	clear(rec.Plain)
	for _, d := range e.usableDrives() {
		if err := writeFileSync(e.fs, filepath.Join(d, keysDir), masterFile, v, e.opts.Sync == SyncDurable); err != nil {
			e.log.Warn("could not record the SSE-S3 master key on a drive", "drive", d, "err", err)
		}
	}
	err := e.idx.Update(func(t *index.Txn) error { t.Set(index.MetaKey(masterFile), v); return nil })
	clear(v)
	if err != nil {
		key.Zero()
		return nil, mapIndexErr(err)
	}
	return key, nil
}

// SetBucketEncryption sets a bucket's default encryption rule.
func (e *Engine) SetBucketEncryption(ctx context.Context, bucket string, rule BucketEncryption) error {
	if err := rule.Validate(); err != nil {
		return err
	}
	return e.updateBucketConfig(bucket, func(c *bucketConfig) { c.Encryption = &rule })
}

// DeleteBucketEncryption resets a bucket to the default rule (SSE-S3).
func (e *Engine) DeleteBucketEncryption(ctx context.Context, bucket string) error {
	return e.updateBucketConfig(bucket, func(c *bucketConfig) { c.Encryption = nil })
}

// GetBucketEncryption returns a bucket's effective default encryption
// rule; a bucket never configured reports SSE-S3, as S3 does today.
func (e *Engine) GetBucketEncryption(ctx context.Context, bucket string) (BucketEncryption, error) {
	done, err := e.begin()
	if err != nil {
		return BucketEncryption{}, err
	}
	defer done()
	brec, err := e.bucket(bucket)
	if err != nil {
		return BucketEncryption{}, err
	}
	rule, _, err := e.bucketEncryption(brec)
	return rule, err
}

func (e *Engine) updateBucketConfig(bucket string, change func(*bucketConfig)) error {
	return e.updateBucketRecord(bucket, func(brec *index.Bucket) error {
		c, err := decodeBucketConfig(brec.Config)
		if err != nil {
			return err
		}
		change(&c)
		brec.Config = nil
		if c.Encryption != nil {
			brec.Config, _ = json.Marshal(c)
		}
		return nil
	})
}

// updateBucketRecord changes bucket's record in one index transaction and
// rewrites the bucket's markers on the drives: ErrBucketNotFound, or the
// error of change.
func (e *Engine) updateBucketRecord(bucket string, change func(*index.Bucket) error) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	var val []byte
	err = e.idx.Update(func(t *index.Txn) error {
		v, err := t.Get(index.BucketKey(bucket))
		if errors.Is(err, index.ErrNotFound) {
			return ErrBucketNotFound
		} else if err != nil {
			return err
		}
		var brec index.Bucket
		if err := brec.Unmarshal(v); err != nil {
			return fmt.Errorf("%w: bucket %q: %w", ErrCorrupt, bucket, err)
		}
		if err := change(&brec); err != nil {
			return err
		}
		val = brec.Marshal()
		t.Set(index.BucketKey(bucket), val)
		return nil
	})
	if err != nil {
		return mapIndexErr(err)
	}
	e.writeBucketMarkers(bucket, val)
	return nil
}
