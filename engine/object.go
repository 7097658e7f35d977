package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	ccrypto "github.com/cofferdb/coffer/crypto"
	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// copyBufSize is the size of the pooled buffers the put path reads into:
// room for the largest inline object plus the one byte that tells it is
// not inline.
const copyBufSize = MaxInlineThreshold + 1

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// PutObject stores the body of r as bucket/key, replacing any object there
// once the new one is durable. The body is streamed: small bodies (up to
// Options.InlineThreshold) go into the index, larger ones are erasure-coded
// over the drives while they arrive. Nothing is visible until the write is
// acknowledged, and a failed put leaves the old object in place.
func (e *Engine) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *PutOptions) (ObjectInfo, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	done, err := e.beginWrite()
	if err != nil {
		return ObjectInfo{}, err
	}
	defer done()
	rec, err := newRecord(key, opts.Headers, opts.UserMetadata)
	if err != nil {
		return ObjectInfo{}, err
	}
	if rec.Tags, err = tagPairs(opts.Tags); err != nil {
		return ObjectInfo{}, err
	}
	return e.put(ctx, bucket, key, r, putParams{size: opts.Size, contentMD5: opts.ContentMD5, cond: opts.Conditions,
		verify: opts.Verify, sse: opts.SSE, checksum: &opts.Checksum}, rec)
}

// putParams are the per-request parameters of put.
type putParams struct {
	size       int64
	contentMD5 []byte
	cond       Conditions
	verify     func() error
	sse        *SSE
	// checksum is read after verify, which may fill it in (a checksum sent
	// as a trailer is known only once the body has been read).
	checksum *Checksum
}

// newRecord validates the key and metadata and starts an object record.
func newRecord(key string, h Headers, meta map[string]string) (index.Object, error) {
	if err := ValidateObjectKey(key); err != nil {
		return index.Object{}, err
	}
	rec := index.Object{
		ContentType:        h.ContentType,
		ContentEncoding:    h.ContentEncoding,
		CacheControl:       h.CacheControl,
		ContentDisposition: h.ContentDisposition,
		ContentLanguage:    h.ContentLanguage,
		Expires:            h.Expires,
	}
	if n := len(h.ContentType) + len(h.ContentEncoding) + len(h.CacheControl) + len(h.ContentDisposition) +
		len(h.ContentLanguage) + len(h.Expires); n > maxContentHeaders {
		return rec, fmt.Errorf("%w: content headers of %d bytes", ErrMetadataTooLarge, n)
	}
	total := 0
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		total += len(k) + len(meta[k])
		rec.UserMeta = append(rec.UserMeta, [2]string{strings.ToLower(k), meta[k]})
	}
	if total > MaxUserMetadata {
		return rec, fmt.Errorf("%w: %d bytes of user metadata (limit %d)", ErrMetadataTooLarge, total, MaxUserMetadata)
	}
	return rec, nil
}

func (e *Engine) put(ctx context.Context, bucket, key string, r io.Reader, p putParams, rec index.Object) (ObjectInfo, error) {
	if p.contentMD5 != nil && len(p.contentMD5) != md5.Size {
		return ObjectInfo{}, fmt.Errorf("%w: Content-MD5 must be 16 bytes", ErrInvalidArgument)
	}
	brec, err := e.bucket(bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	sse, err := e.resolveSSE(ctx, brec, p.sse)
	if err != nil {
		return ObjectInfo{}, err
	}
	// Fail fast on a precondition that already fails; it is checked again
	// atomically at commit.
	if err := e.checkWrite(bucket, key, p.cond); err != nil {
		return ObjectInfo{}, err
	}
	rec.DataID = newID()
	var ks *keySet
	var crec *cryptoRecord
	if sse.Type != SSENone {
		if ks, crec, err = e.newKeys(ctx, bucket, key, rec.DataID, sse); err != nil {
			return ObjectInfo{}, err
		}
		defer ks.zero()
		rec.Crypto = crec.marshal()
	}
	// S3's ETag is the MD5 of the plaintext for plain and SSE-S3 objects
	// only; elsewhere MD5 runs only to check a Content-MD5.
	md5ETag := sse.Type == SSENone || sse.Type == SSES3
	pd, err := e.writeData(ctx, rec.DataID, ccrypto.Identity{ID: rec.DataID}, r, p.size, ks, md5ETag || p.contentMD5 != nil, true)
	if err != nil {
		return ObjectInfo{}, err
	}
	if p.contentMD5 != nil && !bytes.Equal(pd.md5, p.contentMD5) {
		pd.abort()
		return ObjectInfo{}, ErrBadDigest
	}
	if p.verify != nil {
		if err := p.verify(); err != nil {
			pd.abort()
			return ObjectInfo{}, err
		}
	}
	if p.checksum != nil {
		rec.ChecksumAlgorithm, rec.ChecksumValue = p.checksum.Algorithm, p.checksum.Value
	}
	rec.Size, rec.StoredSize = pd.size, pd.stored
	if md5ETag {
		rec.ETag = hex.EncodeToString(pd.md5)
	} else {
		rec.ETag = randomETag()
	}
	rec.ModTime = now().UnixNano()
	if pd.inline != nil {
		rec.Inline = pd.inline
		rec.InlineSum = crc32.Checksum(rec.Inline, castagnoli)
	}
	if rec.Layout, err = pd.finish(encodeTrailer(bucket, key, &rec)); err != nil {
		return ObjectInfo{}, err
	}
	if err := e.commitObject(bucket, key, &rec, p.cond); err != nil {
		if rec.Layout != nil {
			e.dropUncommitted(chunkstore.ID(rec.DataID), rec.Layout, err)
		}
		return ObjectInfo{}, err
	}
	info := recordInfo(bucket, key, &rec)
	info.SSE = sseInfo(crec, sse.CustomerKey)
	return info, nil
}

// commitObject makes rec the object at bucket/key in one index transaction
// that also checks the bucket and the write conditions, and records the
// release of the stream it replaces.
func (e *Engine) commitObject(bucket, key string, rec *index.Object, cond Conditions) error {
	val := rec.Marshal(nil)
	var old index.Object
	var hadOld bool
	err := e.idx.Update(func(t *index.Txn) error {
		if err := txnBucketExists(t, bucket); err != nil {
			return err
		}
		okey := index.ObjectKey(bucket, key)
		v, err := t.Get(okey)
		switch {
		case errors.Is(err, index.ErrNotFound):
			hadOld = false
		case err != nil:
			return err
		default:
			if err := old.Unmarshal(v); err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			hadOld = true
		}
		var cur *index.Object
		if hadOld {
			cur = &old
		}
		if err := writeConditions(cond, cur); err != nil {
			return err
		}
		t.Set(okey, val)
		if hadOld {
			for _, r := range streams(&old) {
				t.Set(index.GCKey(r.id), r.layout)
			}
		}
		return nil
	})
	if err != nil {
		return mapIndexErr(err)
	}
	if hadOld {
		for _, r := range streams(&old) {
			e.release <- r
		}
	}
	return nil
}

// checkWrite evaluates write conditions against the committed object.
func (e *Engine) checkWrite(bucket, key string, cond Conditions) error {
	if cond.IfMatch == "" && cond.IfNoneMatch == "" {
		return nil
	}
	rec, err := e.lookup(bucket, key)
	if errors.Is(err, ErrObjectNotFound) {
		return writeConditions(cond, nil)
	}
	if err != nil {
		return err
	}
	return writeConditions(cond, &rec)
}

// writeConditions applies If-Match and If-None-Match to a write over cur
// (nil when no object exists), as S3 does.
func writeConditions(c Conditions, cur *index.Object) error {
	if c.IfMatch != "" {
		if cur == nil {
			return ErrObjectNotFound
		}
		if !etagMatches(c.IfMatch, cur.ETag) {
			return ErrPreconditionFailed
		}
	}
	if c.IfNoneMatch != "" && cur != nil && etagMatches(c.IfNoneMatch, cur.ETag) {
		return ErrPreconditionFailed
	}
	return nil
}

// readConditions applies the conditional headers of a GET or HEAD with
// RFC 9110's precedence, which S3 follows: If-Match before
// If-Unmodified-Since, If-None-Match before If-Modified-Since.
func readConditions(c Conditions, etag string, mod time.Time) error {
	mod = mod.Truncate(time.Second)
	if c.IfMatch != "" {
		if !etagMatches(c.IfMatch, etag) {
			return ErrPreconditionFailed
		}
	} else if !c.IfUnmodifiedSince.IsZero() && mod.After(c.IfUnmodifiedSince) {
		return ErrPreconditionFailed
	}
	if c.IfNoneMatch != "" {
		if etagMatches(c.IfNoneMatch, etag) {
			return ErrNotModified
		}
	} else if !c.IfModifiedSince.IsZero() && !mod.After(c.IfModifiedSince) {
		return ErrNotModified
	}
	return nil
}

// etagMatches reports whether a conditional header's list of entity tags
// (or "*") matches etag. Quotes and weak prefixes are ignored.
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// lookup returns the committed record of bucket/key.
func (e *Engine) lookup(bucket, key string) (index.Object, error) {
	var rec index.Object
	v, err := e.idx.Get(index.ObjectKey(bucket, key))
	if errors.Is(err, index.ErrNotFound) {
		if _, berr := e.bucket(bucket); berr != nil {
			return rec, berr
		}
		return rec, ErrObjectNotFound
	}
	if err != nil {
		return rec, mapIndexErr(err)
	}
	if err := rec.Unmarshal(v); err != nil {
		return rec, fmt.Errorf("%w: object %s/%s: %w", ErrCorrupt, bucket, key, err)
	}
	return rec, nil
}

func recordInfo(bucket, key string, rec *index.Object) ObjectInfo {
	info := ObjectInfo{
		Bucket:  bucket,
		Key:     key,
		Size:    rec.Size,
		ETag:    rec.ETag,
		ModTime: time.Unix(0, rec.ModTime).UTC(),
		Headers: Headers{
			ContentType:        rec.ContentType,
			ContentEncoding:    rec.ContentEncoding,
			CacheControl:       rec.CacheControl,
			ContentDisposition: rec.ContentDisposition,
			ContentLanguage:    rec.ContentLanguage,
			Expires:            rec.Expires,
		},
		Checksum:   Checksum{Algorithm: rec.ChecksumAlgorithm, Value: rec.ChecksumValue},
		PartsCount: len(rec.Parts),
		Tags:       recordTags(rec),
	}
	if len(rec.UserMeta) > 0 {
		info.UserMetadata = make(map[string]string, len(rec.UserMeta))
		for _, kv := range rec.UserMeta {
			info.UserMetadata[kv[0]] = kv[1]
		}
	}
	return info
}

// HeadObject returns an object's information, applying the conditions of
// opts (ErrPreconditionFailed, ErrNotModified). With ErrNotModified the
// information is returned too, for the validators of a 304.
func (e *Engine) HeadObject(ctx context.Context, bucket, key string, opts *GetOptions) (ObjectInfo, error) {
	if opts == nil {
		opts = &GetOptions{}
	}
	done, err := e.begin()
	if err != nil {
		return ObjectInfo{}, err
	}
	defer done()
	rec, err := e.lookup(bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	info := recordInfo(bucket, key, &rec)
	crec, err := parseCrypto(rec.Crypto)
	if err != nil {
		return info, err
	}
	info.SSE = sseInfo(crec, opts.CustomerKey)
	if err := e.checkCustomerKey(crec, opts.CustomerKey); err != nil {
		return info, err
	}
	if err := readConditions(opts.Conditions, rec.ETag, info.ModTime); err != nil {
		return info, err
	}
	if _, _, err := selectRange(&rec, opts); err != nil {
		return info, err
	}
	return info, nil
}

// checkCustomerKey checks a request's SSE-C key against an object without
// unsealing anything (HEAD): missing, wrong or not applicable.
func (e *Engine) checkCustomerKey(crec *cryptoRecord, key []byte) error {
	isC := crec != nil && crec.Type == SSEC
	switch {
	case !isC && key != nil:
		return ErrSSENotApplicable
	case !isC:
		return nil
	case key == nil:
		return ErrSSECustomerKeyRequired
	}
	ck, err := ccrypto.NewKey(key)
	if err != nil {
		return ErrInvalidCustomerKey
	}
	defer ck.Zero()
	salt, err := ccrypto.NewSalt(crec.MACSalt)
	if err != nil {
		return fmt.Errorf("%w: SSE-C salt", ErrCorrupt)
	}
	if !ccrypto.CheckCustomerKey(salt, crec.MAC, ck) {
		return ErrSSECustomerKeyMismatch
	}
	return nil
}

// GetObject opens an object (or the range opts asks for) for reading. The
// body is streamed from the drives and verified as it goes; a read that
// meets more damage than parity can repair fails with an error wrapping
// ErrCorrupt rather than returning wrong bytes. The caller must Close it.
func (e *Engine) GetObject(ctx context.Context, bucket, key string, opts *GetOptions) (*Object, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return e.get(ctx, bucket, key, opts)
}

func (e *Engine) get(ctx context.Context, bucket, key string, opts *GetOptions) (*Object, error) {
	if opts == nil {
		opts = &GetOptions{}
	}
	rec, pinned, err := e.pinnedLookup(bucket, key)
	if err != nil {
		return nil, err
	}
	obj, err := e.openObject(ctx, bucket, key, &rec, opts)
	if err != nil {
		e.unpin(pinned)
		return nil, err
	}
	if pinned != nil {
		obj.body = &pinnedBody{ReadCloser: obj.body, e: e, rs: pinned}
	}
	return obj, nil
}

// openObject checks a read of rec and opens its body.
func (e *Engine) openObject(ctx context.Context, bucket, key string, rec *index.Object, opts *GetOptions) (*Object, error) {
	info := recordInfo(bucket, key, rec)
	crec, err := parseCrypto(rec.Crypto)
	if err != nil {
		return nil, err
	}
	info.SSE = sseInfo(crec, opts.CustomerKey)
	if err := e.checkCustomerKey(crec, opts.CustomerKey); err != nil {
		return nil, err
	}
	if err := readConditions(opts.Conditions, rec.ETag, info.ModTime); err != nil {
		return nil, err
	}
	off, n, err := selectRange(rec, opts)
	if err != nil {
		return nil, err
	}
	var ks *keySet
	if crec != nil {
		if ks, err = e.openKeys(ctx, bucket, key, crec, opts.CustomerKey); err != nil {
			return nil, err
		}
	}
	body, err := e.openStream(rec, crec, ks, off, n)
	if err != nil {
		if ks != nil {
			ks.zero()
		}
		return nil, err
	}
	return &Object{Info: info, Offset: off, Length: n, body: body}, nil
}

// selectRange resolves the range or part number of opts against rec.
func selectRange(rec *index.Object, opts *GetOptions) (off, n int64, err error) {
	switch {
	case opts.PartNumber != 0 && opts.Range != nil:
		return 0, 0, fmt.Errorf("%w: a range and a part number together", ErrInvalidArgument)
	case opts.PartNumber != 0:
		if len(rec.Parts) == 0 {
			if opts.PartNumber != 1 {
				return 0, 0, ErrInvalidPartNumber
			}
			return 0, rec.Size, nil
		}
		if opts.PartNumber < 1 || opts.PartNumber > len(rec.Parts) {
			return 0, 0, ErrInvalidPartNumber
		}
		for _, p := range rec.Parts[:opts.PartNumber-1] {
			off += p.Size
		}
		return off, rec.Parts[opts.PartNumber-1].Size, nil
	case opts.Range != nil:
		return opts.Range.Resolve(rec.Size)
	}
	return 0, rec.Size, nil
}

// openStream opens bytes [off, off+n) of an object's content. It takes
// ownership of ks (zeroed when the body is closed).
func (e *Engine) openStream(rec *index.Object, crec *cryptoRecord, ks *keySet, off, n int64) (io.ReadCloser, error) {
	if len(rec.Parts) > 0 {
		return &partsReader{e: e, parts: rec.Parts, crec: crec, ks: ks, off: off, n: n}, nil
	}
	if ks != nil {
		defer ks.zero() // the stages keep their own key schedules
	}
	return e.openData(rec.DataID, rec.Layout, rec.Inline, rec.InlineSum, rec.Size, rec.StoredSize, ks, ccrypto.Identity{ID: rec.DataID}, off, n)
}

// storeReader maps chunkstore errors to engine errors.
type storeReader struct {
	rc io.ReadCloser
	e  *Engine
}

func (s *storeReader) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if err != nil && err != io.EOF {
		err = s.e.storeErr(err)
	}
	return n, err
}

func (s *storeReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	var err error
	if wt, ok := s.rc.(io.WriterTo); ok {
		n, err = wt.WriteTo(w)
	} else {
		n, err = io.Copy(w, struct{ io.Reader }{s.rc})
	}
	if err != nil {
		err = s.e.storeErr(err)
	}
	return n, err
}

func (s *storeReader) Close() error { return s.rc.Close() }

// spanStoreReader is a storeReader whose shard reader lends its stripe
// buffers (crypto.SpanReader), so decryption reads sealed chunks in place.
type spanStoreReader struct {
	storeReader
	spans ccrypto.SpanReader
}

func (s *spanStoreReader) ReadSpan(max int) ([]byte, error) {
	p, err := s.spans.ReadSpan(max)
	if err != nil && err != io.EOF {
		err = s.e.storeErr(err)
	}
	return p, err
}

// dropUncommitted removes the shards of a stream whose commit failed with
// err, unless the commit's outcome is unknown: a commit that failed on
// every index replica may still be in their logs and replayed at the next
// open, so its shards stay, and the next open's orphan pass removes them
// if the record did not survive.
func (e *Engine) dropUncommitted(id chunkstore.ID, layout []byte, err error) {
	if errors.Is(err, index.ErrFailed) || errors.Is(err, ErrFailed) {
		e.dirty.Store(true)
		return
	}
	e.removeData(id, layout)
}

// storeErr maps chunkstore errors to engine errors, keeping the cause.
func (e *Engine) storeErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// Too many drives are full: the write fails whole, reads go on,
		// and writes succeed again once space returns.
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	case errors.Is(err, chunkstore.ErrReadQuorum), errors.Is(err, chunkstore.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, chunkstore.ErrWriteQuorum):
		return fmt.Errorf("%w: %w", ErrInsufficientDrives, err)
	case errors.Is(err, chunkstore.ErrClosed):
		return ErrClosed
	}
	return err
}

// DeleteObject removes bucket/key. Deleting a missing key succeeds, as in
// S3; a missing bucket is ErrBucketNotFound.
func (e *Engine) DeleteObject(ctx context.Context, bucket, key string) error {
	res, err := e.DeleteObjects(ctx, bucket, []string{key})
	if err != nil {
		return err
	}
	return res[0].Err
}

// DeleteObjects removes many keys of one bucket in one index commit and
// reports the outcome per key.
func (e *Engine) DeleteObjects(ctx context.Context, bucket string, keys []string) ([]DeleteResult, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	res := make([]DeleteResult, len(keys))
	var released []release
	err = e.idx.Update(func(t *index.Txn) error {
		released = released[:0]
		if err := txnBucketExists(t, bucket); err != nil {
			return err
		}
		for i, key := range keys {
			res[i] = DeleteResult{Key: key}
			if err := ValidateObjectKey(key); err != nil {
				res[i].Err = err
				continue
			}
			okey := index.ObjectKey(bucket, key)
			v, err := t.Get(okey)
			if errors.Is(err, index.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			var old index.Object
			if err := old.Unmarshal(v); err != nil {
				res[i].Err = fmt.Errorf("%w: %w", ErrCorrupt, err)
				continue
			}
			t.Delete(okey)
			for _, r := range streams(&old) {
				t.Set(index.GCKey(r.id), r.layout)
				released = append(released, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, mapIndexErr(err)
	}
	for _, r := range released {
		e.release <- r
	}
	return res, nil
}

// CopyObject copies src to dst on the server. Metadata comes from the
// source unless opts.ReplaceMetadata, tags unless opts.ReplaceTags;
// copying an object onto itself without replacing metadata is
// ErrInvalidCopy, as in S3 (new tags alone do not count as a change).
func (e *Engine) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *CopyOptions) (ObjectInfo, error) {
	if opts == nil {
		opts = &CopyOptions{}
	}
	var tags [][2]string
	if opts.ReplaceTags {
		var err error
		if tags, err = tagPairs(opts.Tags); err != nil {
			return ObjectInfo{}, err
		}
	}
	done, err := e.beginWrite()
	if err != nil {
		return ObjectInfo{}, err
	}
	defer done()
	src, err := e.get(ctx, srcBucket, srcKey, &GetOptions{Conditions: opts.SourceConditions, CustomerKey: opts.SourceCustomerKey})
	if errors.Is(err, ErrNotModified) {
		err = ErrPreconditionFailed // copy-source conditions answer 412 only
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	defer src.Close()
	if srcBucket == dstBucket && srcKey == dstKey && !opts.ReplaceMetadata {
		if err := e.checkInPlaceCopy(src.Info.SSE, dstBucket, opts.SSE); err != nil {
			return ObjectInfo{}, err
		}
	}
	h, meta := src.Info.Headers, src.Info.UserMetadata
	if opts.ReplaceMetadata {
		h, meta = opts.Headers, opts.UserMetadata
	}
	rec, err := newRecord(dstKey, h, meta)
	if err != nil {
		return ObjectInfo{}, err
	}
	rec.ChecksumAlgorithm, rec.ChecksumValue = src.Info.Checksum.Algorithm, src.Info.Checksum.Value
	rec.Tags = tags
	if !opts.ReplaceTags {
		for _, t := range src.Info.Tags {
			rec.Tags = append(rec.Tags, [2]string{t.Key, t.Value})
		}
	}
	return e.put(ctx, dstBucket, dstKey, src, putParams{size: src.Info.Size, cond: opts.Conditions, sse: opts.SSE}, rec)
}

// checkInPlaceCopy applies S3's rule for copying an object onto itself
// with the COPY directive: it must change something, and explicit
// encryption headers, or a bucket rule that differs from the object's
// encryption, count as a change.
func (e *Engine) checkInPlaceCopy(cur SSEInfo, bucket string, req *SSE) error {
	if req != nil && req.Type != SSEDefault {
		return nil
	}
	brec, err := e.bucket(bucket)
	if err != nil {
		return err
	}
	rule, explicit, err := e.bucketEncryption(brec)
	if err != nil {
		return err
	}
	if explicit || rule.Algorithm != cur.Type {
		return nil
	}
	return ErrInvalidCopy
}

// encodeTrailer is the self-description written into every shard file of
// an object: enough to rebuild its index record from the drives.
func encodeTrailer(bucket, key string, rec *index.Object) []byte {
	b := []byte{trailerObject}
	b = binary.AppendUvarint(b, uint64(len(bucket)))
	b = append(b, bucket...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return rec.Marshal(b)
}

// Trailer kinds: the first byte of a self-description.
const (
	trailerObject = 1 // bucket, key, object record (with its part table)
	trailerPart   = 2 // bucket, key, upload id, part record
)

type trailer struct {
	kind                  byte
	bucket, key, uploadID string
	rec                   index.Object // trailerObject
	part                  index.Part   // trailerPart
}

func decodeTrailer(b []byte) (trailer, error) {
	var t trailer
	bad := fmt.Errorf("%w: shard trailer", ErrCorrupt)
	if len(b) < 1 || (b[0] != trailerObject && b[0] != trailerPart) {
		return t, bad
	}
	t.kind = b[0]
	b = b[1:]
	fields := []*string{&t.bucket, &t.key}
	if t.kind == trailerPart {
		fields = append(fields, &t.uploadID)
	}
	for _, dst := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return t, bad
		}
		*dst = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	var err error
	if t.kind == trailerPart {
		err = t.part.Unmarshal(b)
	} else {
		err = t.rec.Unmarshal(b)
	}
	if err != nil {
		return t, fmt.Errorf("%w: %w", bad, err)
	}
	return t, nil
}

// abort abandons a shard writer; if its files cannot all be removed the
// store is marked for orphan collection at the next Open.
func (e *Engine) abort(w *chunkstore.Writer) {
	if err := w.Abort(); err != nil {
		e.dirty.Store(true)
		e.log.Warn("could not remove shards of an abandoned put; collected at next open", "err", err)
	}
}

// partsReader reads a range of a multipart object, opening each part's
// stream only when the range reaches it.
type partsReader struct {
	e      *Engine
	parts  []index.Part
	crec   *cryptoRecord
	ks     *keySet // the upload's keys; each part's are derived from them
	off, n int64   // what is left to read, as an offset into the object
	cur    io.ReadCloser
	curEnd int64 // object offset where cur ends
}

func (p *partsReader) next() error {
	if p.cur != nil {
		p.cur.Close()
		p.cur = nil
	}
	start := int64(0)
	for i := range p.parts {
		part := &p.parts[i]
		end := start + part.Size
		if p.off < end {
			within := p.off - start
			n := min(end-p.off, p.n)
			pks, err := p.e.partKeys(p.crec, p.ks, part)
			if err != nil {
				return err
			}
			rc, err := p.e.openData(part.DataID, part.Layout, nil, 0, part.Size, part.StoredSize, pks,
				ccrypto.Identity{ID: part.DataID, Part: uint32(part.Number)}, within, n)
			if pks != nil {
				pks.zero()
			}
			if err != nil {
				return err
			}
			p.cur, p.curEnd = rc, p.off+n
			return nil
		}
		start = end
	}
	return io.ErrUnexpectedEOF
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.n == 0 {
			return 0, io.EOF
		}
		if p.cur == nil || p.off == p.curEnd {
			if err := p.next(); err != nil {
				return 0, err
			}
		}
		if int64(len(b)) > p.curEnd-p.off {
			b = b[:p.curEnd-p.off]
		}
		n, err := p.cur.Read(b)
		p.off += int64(n)
		p.n -= int64(n)
		if err == io.EOF {
			if p.off != p.curEnd {
				return n, fmt.Errorf("%w: part shorter than recorded", ErrCorrupt)
			}
			err = nil
		}
		if err != nil {
			return n, p.e.storeErr(err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (p *partsReader) Close() error {
	if p.ks != nil {
		p.ks.zero()
	}
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}
