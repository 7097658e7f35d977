package kmsclient

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Cache defaults.
const (
	DefaultCacheTTL        = 5 * time.Minute
	DefaultCacheMaxEntries = 10000
	minSweepDelay          = 100 * time.Millisecond
)

// CacheOptions configures NewCache. The zero value is usable.
type CacheOptions struct {
	// TTL is how long a data key (from Decrypt, or from GenerateDataKey
	// for later Decrypts of the same blob) is served from memory. Default
	// 5 minutes.
	TTL time.Duration
	// DescribeTTL is how long DescribeKey answers are reused. Default TTL.
	DescribeTTL time.Duration
	// MaxEntries bounds each of the two caches (data keys, descriptions);
	// the oldest entry is evicted first. Default 10000.
	MaxEntries int
	// StaleIfUnavailable lets an entry outlive its TTL by this much, served
	// only while the backend fails with ErrUnavailable (an outage). Zero
	// disables it.
	StaleIfUnavailable time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with the options at once.
func (o *CacheOptions) Validate() error {
	var errs []error
	if o.TTL < 0 || o.DescribeTTL < 0 || o.StaleIfUnavailable < 0 {
		errs = append(errs, errors.New("kmsclient: CacheOptions durations must not be negative"))
	}
	if o.MaxEntries < 0 || o.MaxEntries > 10_000_000 {
		errs = append(errs, fmt.Errorf("kmsclient: CacheOptions.MaxEntries %d outside 0..10000000", o.MaxEntries))
	}
	return errors.Join(errs...)
}

// Cache is a KeyManager decorator that keeps decrypted data keys and key
// descriptions in memory for a bounded time and number of entries, so that
// repeated reads (and reads during a key manager outage) need no round
// trip. Plaintext keys are wiped when evicted, expired, purged or when the
// cache is closed; callers always get their own copy.
//
// A cached data key keeps decrypting for up to TTL after its key was
// disabled or scheduled for deletion, as S3 Bucket Keys do. It is safe for
// concurrent use.
type Cache struct {
	km   KeyManager
	opts CacheOptions

	mu       sync.Mutex
	keys     map[[32]byte]*keyEntry
	keyOrder *list.List // *keyEntry, oldest first
	desc     map[string]*descEntry
	descOrd  *list.List // *descEntry, oldest first
	timer    *time.Timer
	closed   bool
}

type keyEntry struct {
	id        [32]byte
	plaintext []byte
	expires   time.Time
	removeAt  time.Time
	elem      *list.Element
}

type descEntry struct {
	keyID    string
	info     KeyInfo
	expires  time.Time
	removeAt time.Time
	elem     *list.Element
}

// NewCache wraps km.
func NewCache(km KeyManager, opts CacheOptions) (*Cache, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.DescribeTTL == 0 {
		opts.DescribeTTL = opts.TTL
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultCacheMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{km: km, opts: opts, keys: map[[32]byte]*keyEntry{}, keyOrder: list.New(),
		desc: map[string]*descEntry{}, descOrd: list.New()}, nil
}

// Name returns the wrapped backend's name.
func (c *Cache) Name() string { return c.km.Name() }

// Unwrap returns the wrapped KeyManager.
func (c *Cache) Unwrap() KeyManager { return c.km }

// cacheKey is SHA-256(keyID ‖ 0 ‖ ciphertext ‖ 0 ‖ canonical context).
func cacheKey(keyID string, ciphertext []byte, ec EncryptionContext) [32]byte {
	h := sha256.New()
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(ciphertext)
	h.Write([]byte{0})
	h.Write(ec.Canonical())
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// GenerateDataKey calls the backend and remembers the plaintext for later
// Decrypts of the returned blob under the returned key id.
func (c *Cache) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	dk, err := c.km.GenerateDataKey(ctx, keyID, ec, opts...)
	if err != nil || dk.Plaintext == nil {
		return dk, err
	}
	c.putKey(cacheKey(dk.KeyID, dk.Ciphertext, ec), dk.Plaintext)
	return dk, nil
}

// Decrypt serves a cached plaintext or asks the backend. During an outage
// (ErrUnavailable) an entry within StaleIfUnavailable of its TTL is served.
func (c *Cache) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	id := cacheKey(keyID, ciphertext, ec)
	now := c.opts.Now()
	c.mu.Lock()
	c.sweepLocked(now)
	if e, ok := c.keys[id]; ok && now.Before(e.expires) {
		pt := bytes.Clone(e.plaintext)
		c.mu.Unlock()
		return pt, nil
	}
	c.mu.Unlock()
	pt, err := c.km.Decrypt(ctx, keyID, ciphertext, ec)
	if err == nil {
		c.putKey(id, pt)
		return pt, nil
	}
	if errors.Is(err, ErrUnavailable) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e, ok := c.keys[id]; ok && now.Before(e.removeAt) {
			return bytes.Clone(e.plaintext), nil
		}
	}
	return nil, err
}

// DescribeKey serves a cached description or asks the backend. Failures
// are not cached.
func (c *Cache) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	now := c.opts.Now()
	c.mu.Lock()
	c.sweepLocked(now)
	if e, ok := c.desc[keyID]; ok && now.Before(e.expires) {
		info := e.info
		c.mu.Unlock()
		return info, nil
	}
	c.mu.Unlock()
	info, err := c.km.DescribeKey(ctx, keyID)
	if err == nil {
		c.putDesc(keyID, info)
		return info, nil
	}
	if errors.Is(err, ErrUnavailable) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e, ok := c.desc[keyID]; ok && now.Before(e.removeAt) {
			return e.info, nil
		}
	}
	return KeyInfo{}, err
}

func (c *Cache) putKey(id [32]byte, plaintext []byte) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if old, ok := c.keys[id]; ok {
		c.removeKeyLocked(old)
	}
	for len(c.keys) >= c.opts.MaxEntries {
		c.removeKeyLocked(c.keyOrder.Front().Value.(*keyEntry))
	}
	e := &keyEntry{id: id, plaintext: bytes.Clone(plaintext), expires: now.Add(c.opts.TTL)}
	e.removeAt = e.expires.Add(c.opts.StaleIfUnavailable)
	e.elem = c.keyOrder.PushBack(e)
	c.keys[id] = e
	c.scheduleLocked(now)
}

func (c *Cache) putDesc(keyID string, info KeyInfo) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if old, ok := c.desc[keyID]; ok {
		c.descOrd.Remove(old.elem)
		delete(c.desc, keyID)
	}
	for len(c.desc) >= c.opts.MaxEntries {
		old := c.descOrd.Front().Value.(*descEntry)
		c.descOrd.Remove(old.elem)
		delete(c.desc, old.keyID)
	}
	e := &descEntry{keyID: keyID, info: info, expires: now.Add(c.opts.DescribeTTL)}
	e.removeAt = e.expires.Add(c.opts.StaleIfUnavailable)
	e.elem = c.descOrd.PushBack(e)
	c.desc[keyID] = e
	c.scheduleLocked(now)
}

func (c *Cache) removeKeyLocked(e *keyEntry) {
	clear(e.plaintext)
	c.keyOrder.Remove(e.elem)
	delete(c.keys, e.id)
}

// sweepLocked wipes and drops every entry past its removal time. Entries
// share one TTL, so insertion order is removal order.
func (c *Cache) sweepLocked(now time.Time) {
	for f := c.keyOrder.Front(); f != nil; f = c.keyOrder.Front() {
		e := f.Value.(*keyEntry)
		if now.Before(e.removeAt) {
			break
		}
		c.removeKeyLocked(e)
	}
	for f := c.descOrd.Front(); f != nil; f = c.descOrd.Front() {
		e := f.Value.(*descEntry)
		if now.Before(e.removeAt) {
			break
		}
		c.descOrd.Remove(f)
		delete(c.desc, e.keyID)
	}
}

// scheduleLocked arms a timer for the next removal, so that expired
// plaintexts are wiped even if the cache is not used again.
func (c *Cache) scheduleLocked(now time.Time) {
	if c.timer != nil || c.closed {
		return
	}
	var next time.Time
	if f := c.keyOrder.Front(); f != nil {
		next = f.Value.(*keyEntry).removeAt
	}
	if f := c.descOrd.Front(); f != nil {
		if t := f.Value.(*descEntry).removeAt; next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		return
	}
	c.timer = time.AfterFunc(max(next.Sub(now), minSweepDelay), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timer = nil
		now := c.opts.Now()
		c.sweepLocked(now)
		c.scheduleLocked(now)
	})
}

// Sweep wipes and drops expired entries now.
func (c *Cache) Sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(c.opts.Now())
}

// Len returns the number of cached data keys and descriptions.
func (c *Cache) Len() (keys, descriptions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys), len(c.desc)
}

// Purge wipes and drops every entry.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.purgeLocked()
}

func (c *Cache) purgeLocked() {
	for f := c.keyOrder.Front(); f != nil; f = c.keyOrder.Front() {
		c.removeKeyLocked(f.Value.(*keyEntry))
	}
	c.desc = map[string]*descEntry{}
	c.descOrd.Init()
}

// Close wipes every entry and stops the sweep timer. The cache then passes
// every call through to the backend without caching.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.purgeLocked()
	return nil
}

var _ KeyManager = (*Cache)(nil)
