package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	ccrypto "github.com/cofferdb/coffer/crypto"
)

// cryptoRecord is what the index keeps of an encrypted object or upload:
// enough to find and unseal its keys, never a key in the clear. It is
// encoded into index.Object.Crypto.
type cryptoRecord struct {
	Type      SSEType
	Format    uint8    // crypto.FormatVersion of the stream
	BoundID   [16]byte // the id the keys are bound to (an upload's for multipart)
	KeyARN    string
	Context   map[string]string // the client's, as sent (nil if none)
	BucketKey bool
	Blob      []byte // key-manager ciphertext of the (bucket or data) key, layer 1
	Blob2     []byte // DSSE: layer 2
	Salt      []byte // Bucket Key: salt of the object's KEK derivation
	Sealed    []byte // the object (or upload) key sealed under the layer-1 KEK
	Sealed2   []byte // DSSE: layer-2 key sealed under the layer-2 KEK
	MACSalt   []byte // SSE-C
	MAC       []byte // SSE-C: salted MAC of the customer key
}

const cryptoRecordVersion = 1

func (c *cryptoRecord) marshal() []byte {
	b := []byte{cryptoRecordVersion, byte(c.Type), c.Format}
	b = append(b, c.BoundID[:]...)
	put := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	put([]byte(c.KeyARN))
	var ctxJSON []byte
	if c.Context != nil {
		ctxJSON, _ = json.Marshal(c.Context) // string map: cannot fail
	}
	put(ctxJSON)
	bk := byte(0)
	if c.BucketKey {
		bk = 1
	}
	b = append(b, bk)
	for _, v := range [][]byte{c.Blob, c.Blob2, c.Salt, c.Sealed, c.Sealed2, c.MACSalt, c.MAC} {
		put(v)
	}
	return b
}

func (c *cryptoRecord) unmarshal(b []byte) error {
	bad := fmt.Errorf("%w: encryption record", ErrCorrupt)
	if len(b) < 3+16 || b[0] != cryptoRecordVersion {
		return bad
	}
	*c = cryptoRecord{Type: SSEType(b[1]), Format: b[2]}
	copy(c.BoundID[:], b[3:19])
	b = b[19:]
	get := func() []byte {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			b = nil
			return nil
		}
		v := bytes.Clone(b[n : n+int(l)])
		b = b[n+int(l):]
		return v
	}
	c.KeyARN = string(get())
	if ctxJSON := get(); len(ctxJSON) > 0 {
		m, err := decodeStringMap(ctxJSON)
		if err != nil {
			return bad
		}
		c.Context = m
	}
	if len(b) < 1 {
		return bad
	}
	c.BucketKey = b[0] == 1
	b = b[1:]
	for _, dst := range []*[]byte{&c.Blob, &c.Blob2, &c.Salt, &c.Sealed, &c.Sealed2, &c.MACSalt, &c.MAC} {
		if b == nil {
			return bad
		}
		*dst = get()
	}
	if b == nil || c.Type < SSES3 || c.Type > SSEC {
		return bad
	}
	return nil
}

// decodeStringMap parses a JSON object whose values are all strings.
func decodeStringMap(raw []byte) (map[string]string, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("not UTF-8")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("a value is not a string")
		}
		out[k] = s
	}
	return out, nil
}

// binding is the associated data a sealed key is bound to: the mode, the
// id and the key-manager key.
func (c *cryptoRecord) binding(layer byte) []byte {
	b := []byte("coffer object key\x00")
	b = append(b, byte(c.Type), layer)
	b = append(b, c.BoundID[:]...)
	return append(b, c.KeyARN...)
}

// keySet holds the unsealed keys of one object or upload: one per layer.
// Its owner calls zero when done.
type keySet struct {
	layers []*ccrypto.Key
}

func (k *keySet) zero() {
	for _, l := range k.layers {
		l.Zero()
	}
	k.layers = nil
}

// keyring is the engine's side of key management: the SSE-S3 master key
// and the Bucket Key cache. It is safe for concurrent use.
type keyring struct {
	km     KeyManager
	master *ccrypto.Key // SSE-S3 root; zeroed on close
	ttl    time.Duration
	max    int

	mu      sync.Mutex
	buckets map[string]*bucketKey // write side: (key id, context) → Bucket Key
	opened  map[string]*bucketKey // read side: blob → key
}

type bucketKey struct {
	key     *ccrypto.Key
	blob    []byte
	arn     string
	expires time.Time
}

func newKeyring(km KeyManager, master *ccrypto.Key, ttl time.Duration, max int) *keyring {
	return &keyring{km: km, master: master, ttl: ttl, max: max,
		buckets: map[string]*bucketKey{}, opened: map[string]*bucketKey{}}
}

func (r *keyring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range []map[string]*bucketKey{r.buckets, r.opened} {
		for k, v := range m {
			v.key.Zero()
			delete(m, k)
		}
	}
	if r.master != nil {
		r.master.Zero()
	}
}

// evict drops expired entries and, past the bound, the oldest ones. The
// caller holds r.mu.
func (r *keyring) evict(m map[string]*bucketKey, now time.Time) {
	for k, v := range m {
		if now.After(v.expires) {
			v.key.Zero()
			delete(m, k)
		}
	}
	for len(m) >= r.max {
		oldest := ""
		for k, v := range m {
			if oldest == "" || v.expires.Before(m[oldest].expires) {
				oldest = k
			}
		}
		m[oldest].key.Zero()
		delete(m, oldest)
	}
}

func contextKey(parts ...string) string {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return b.String()
}

func canonicalContext(m map[string]string) string {
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

// bucketKeyFor returns a copy of the current Bucket Key for (keyID,
// context), asking the key manager for a new one when none is cached.
func (r *keyring) bucketKeyFor(ctx context.Context, keyID string, kctx map[string]string) (key *ccrypto.Key, blob []byte, arn string, err error) {
	ck := contextKey(keyID, canonicalContext(kctx))
	now := time.Now()
	r.mu.Lock()
	if bk, ok := r.buckets[ck]; ok && now.Before(bk.expires) {
		k := *bk.key
		blob, arn = bk.blob, bk.arn
		r.mu.Unlock()
		return &k, blob, arn, nil
	}
	r.mu.Unlock()
	plain, blob, arn, err := r.km.GenerateDataKey(ctx, keyID, kctx)
	if err != nil {
		return nil, nil, "", kmsErr(err)
	}
	k, err := ccrypto.NewKey(plain)
	clear(plain)
	if err != nil {
		return nil, nil, "", kmsErr(err)
	}
	cached, opened := *k, *k
	r.mu.Lock()
	r.evict(r.buckets, now)
	r.buckets[ck] = &bucketKey{key: &cached, blob: blob, arn: arn, expires: now.Add(r.ttl)}
	// Reads of the objects this key seals need no key-manager call either.
	r.evict(r.opened, now)
	r.opened[contextKey(arn, string(blob), canonicalContext(kctx))] = &bucketKey{key: &opened, expires: now.Add(r.ttl)}
	r.mu.Unlock()
	return k, blob, arn, nil
}

// openBlob decrypts a key-manager blob; Bucket Key blobs are cached so
// that reads of many objects under one Bucket Key make one call.
func (r *keyring) openBlob(ctx context.Context, arn string, blob []byte, kctx map[string]string, cache bool) (*ccrypto.Key, error) {
	ck := contextKey(arn, string(blob), canonicalContext(kctx))
	now := time.Now()
	if cache {
		r.mu.Lock()
		if bk, ok := r.opened[ck]; ok && now.Before(bk.expires) {
			k := *bk.key
			r.mu.Unlock()
			return &k, nil
		}
		r.mu.Unlock()
	}
	plain, err := r.km.Decrypt(ctx, arn, blob, kctx)
	if err != nil {
		return nil, kmsErr(err)
	}
	k, err := ccrypto.NewKey(plain)
	clear(plain)
	if err != nil {
		return nil, kmsErr(err)
	}
	if cache {
		cached := *k
		r.mu.Lock()
		r.evict(r.opened, now)
		r.opened[ck] = &bucketKey{key: &cached, expires: now.Add(r.ttl)}
		r.mu.Unlock()
	}
	return k, nil
}

// newKeys creates the keys of a new object or upload bound to id, seals
// them as rec says, and fills the record. sse is fully resolved (no
// SSEDefault). The caller owns the returned keySet.
func (e *Engine) newKeys(ctx context.Context, bucket, key string, id [16]byte, sse *resolvedSSE) (*keySet, *cryptoRecord, error) {
	rec := &cryptoRecord{Type: sse.Type, Format: ccrypto.FormatVersion, BoundID: id, BucketKey: sse.BucketKey, Context: sse.Context}
	layers := 1
	if sse.Type == DSSEKMS {
		layers = 2
	}
	ks := &keySet{}
	fail := func(err error) (*keySet, *cryptoRecord, error) {
		ks.zero()
		return nil, nil, err
	}
	for range layers {
		k, err := ccrypto.GenerateKey(nil)
		if err != nil {
			return fail(err)
		}
		ks.layers = append(ks.layers, k)
	}
	switch sse.Type {
	case SSES3:
		kek, err := ccrypto.DeriveS3KEK(e.keys.master, id[:])
		if err != nil {
			return fail(err)
		}
		rec.Sealed, err = ccrypto.SealKey(kek, ks.layers[0], rec.binding(1), nil)
		kek.Zero()
		if err != nil {
			return fail(err)
		}
	case SSEC:
		ck, err := ccrypto.NewKey(sse.CustomerKey)
		if err != nil {
			return fail(ErrInvalidCustomerKey)
		}
		defer ck.Zero()
		salt, err := ccrypto.GenerateSalt(nil)
		if err != nil {
			return fail(err)
		}
		mac := ccrypto.CustomerKeyMAC(salt, ck)
		rec.MACSalt, rec.MAC = salt[:], mac[:]
		if rec.Sealed, err = ccrypto.SealKey(ck, ks.layers[0], rec.binding(1), nil); err != nil {
			return fail(err)
		}
	case SSEKMS, DSSEKMS:
		if e.keys.km == nil {
			return fail(ErrNoKeyManager)
		}
		arn := objectARN(bucket, key)
		if sse.BucketKey {
			arn = bucketARN(bucket)
		}
		kctx, err := kmsContext(sse.Context, arn)
		if err != nil {
			return fail(err)
		}
		for layer := range layers {
			var kek *ccrypto.Key
			var blob []byte
			var keyARN string
			if sse.BucketKey {
				bk, b, a, err := e.keys.bucketKeyFor(ctx, sse.KeyID, kctx)
				if err != nil {
					return fail(err)
				}
				salt, err := ccrypto.GenerateSalt(nil)
				if err != nil {
					bk.Zero()
					return fail(err)
				}
				rec.Salt = salt[:]
				kek, err = ccrypto.DeriveKEK(bk, salt, id[:])
				bk.Zero()
				if err != nil {
					return fail(err)
				}
				blob, keyARN = b, a
			} else {
				plain, b, a, err := e.keys.km.GenerateDataKey(ctx, sse.KeyID, kctx)
				if err != nil {
					return fail(kmsErr(err))
				}
				kek, err = ccrypto.NewKey(plain)
				clear(plain)
				if err != nil {
					return fail(kmsErr(err))
				}
				blob, keyARN = b, a
			}
			rec.KeyARN = keyARN
			sealed, err := ccrypto.SealKey(kek, ks.layers[layer], rec.binding(byte(layer+1)), nil)
			kek.Zero()
			if err != nil {
				return fail(err)
			}
			if layer == 0 {
				rec.Blob, rec.Sealed = blob, sealed
			} else {
				rec.Blob2, rec.Sealed2 = blob, sealed
			}
		}
	default:
		return fail(fmt.Errorf("%w: encryption mode %v", ErrInvalidArgument, sse.Type))
	}
	return ks, rec, nil
}

// openKeys unseals the keys of a stored object or upload. customerKey is
// the SSE-C key of the request, if any.
func (e *Engine) openKeys(ctx context.Context, bucket, key string, rec *cryptoRecord, customerKey []byte) (*keySet, error) {
	ks := &keySet{}
	unseal := func(kek *ccrypto.Key, sealed []byte, layer byte) error {
		k, err := ccrypto.UnsealKey(kek, sealed, rec.binding(layer))
		kek.Zero()
		if err != nil {
			return fmt.Errorf("%w: object key does not unseal: %w", ErrCorrupt, err)
		}
		ks.layers = append(ks.layers, k)
		return nil
	}
	fail := func(err error) (*keySet, error) {
		ks.zero()
		return nil, err
	}
	if rec.Type != SSEC && customerKey != nil {
		return nil, ErrSSENotApplicable
	}
	switch rec.Type {
	case SSES3:
		kek, err := ccrypto.DeriveS3KEK(e.keys.master, rec.BoundID[:])
		if err != nil {
			return nil, err
		}
		if err := unseal(kek, rec.Sealed, 1); err != nil {
			return fail(err)
		}
	case SSEC:
		if customerKey == nil {
			return nil, ErrSSECustomerKeyRequired
		}
		ck, err := ccrypto.NewKey(customerKey)
		if err != nil {
			return nil, ErrInvalidCustomerKey
		}
		salt, err := ccrypto.NewSalt(rec.MACSalt)
		if err != nil {
			ck.Zero()
			return nil, fmt.Errorf("%w: SSE-C salt", ErrCorrupt)
		}
		if !ccrypto.CheckCustomerKey(salt, rec.MAC, ck) {
			ck.Zero()
			return nil, ErrSSECustomerKeyMismatch
		}
		if err := unseal(ck, rec.Sealed, 1); err != nil {
			return fail(err)
		}
	case SSEKMS, DSSEKMS:
		if e.keys.km == nil {
			return nil, ErrNoKeyManager
		}
		arn := objectARN(bucket, key)
		if rec.BucketKey {
			arn = bucketARN(bucket)
		}
		kctx, err := kmsContext(rec.Context, arn)
		if err != nil {
			return nil, err
		}
		blobs, sealed := [][]byte{rec.Blob}, [][]byte{rec.Sealed}
		if rec.Type == DSSEKMS {
			blobs, sealed = append(blobs, rec.Blob2), append(sealed, rec.Sealed2)
		}
		for i := range blobs {
			k, err := e.keys.openBlob(ctx, rec.KeyARN, blobs[i], kctx, rec.BucketKey)
			if err != nil {
				return fail(err)
			}
			kek := k
			if rec.BucketKey {
				salt, err := ccrypto.NewSalt(rec.Salt)
				if err != nil {
					k.Zero()
					return fail(fmt.Errorf("%w: bucket key salt", ErrCorrupt))
				}
				kek, err = ccrypto.DeriveKEK(k, salt, rec.BoundID[:])
				k.Zero()
				if err != nil {
					return fail(err)
				}
			}
			if err := unseal(kek, sealed[i], byte(i+1)); err != nil {
				return fail(err)
			}
		}
	default:
		return nil, fmt.Errorf("%w: encryption mode %d", ErrCorrupt, rec.Type)
	}
	return ks, nil
}

// randomETag is the ETag of objects whose ETag S3 does not make an MD5
// (SSE-KMS, DSSE-KMS, SSE-C): 16 random bytes, hex.
func randomETag() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
