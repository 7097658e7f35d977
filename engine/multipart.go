package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	ccrypto "github.com/cofferdb/coffer/crypto"
	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// Multipart limits S3 documents.
const (
	MaxParts    = 10000
	MinPartSize = 5 << 20 // every part but the last
)

// MultipartOptions are the parameters of CreateMultipartUpload.
type MultipartOptions struct {
	Headers
	UserMetadata map[string]string
	// ChecksumAlgorithm is the additional checksum the parts carry, if any.
	ChecksumAlgorithm string
	// SSE is the upload's encryption, fixed for every part (nil: the
	// bucket default).
	SSE *SSE
	// Tags are given to the completed object (see ValidateTags).
	Tags []Tag
}

// Upload describes an in-progress multipart upload.
type Upload struct {
	Bucket, Key, UploadID string
	Initiated             time.Time
	ChecksumAlgorithm     string
	// SSE is the upload's encryption (returned by CreateMultipartUpload).
	SSE SSEInfo
}

// PartOptions are the optional parameters of UploadPart.
type PartOptions struct {
	Size       int64 // as PutOptions.Size
	ContentMD5 []byte
	// Checksum is the part's additional checksum value (base64). It is
	// read after Verify returns, so Verify may fill it in.
	Checksum string
	// Verify is called after the body was read and before the part is
	// recorded, as PutOptions.Verify.
	Verify func() error
	// CustomerKey is the SSE-C key; required on every part of an upload
	// created with one, and refused otherwise.
	CustomerKey []byte
}

// PartCopyOptions are the optional parameters of UploadPartCopy.
type PartCopyOptions struct {
	Range             *Range // of the source; nil copies it whole
	SourceConditions  Conditions
	SourceCustomerKey []byte
	CustomerKey       []byte // the upload's SSE-C key, as for UploadPart
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	PartNumber int
	ETag       string
	Size       int64
	ModTime    time.Time
	Checksum   string
	SSE        SSEInfo // the upload's encryption, for the response
}

// CompletePart names one part of a CompleteMultipartUpload request.
type CompletePart struct {
	PartNumber int
	ETag       string
}

// CompleteOptions are the optional parameters of CompleteMultipartUpload.
type CompleteOptions struct {
	// Conditions apply to the key being written, as for PutObject.
	Conditions Conditions
	// Checksum is the object's composite checksum, if the caller computed
	// one from the parts' checksums.
	Checksum Checksum
}

// newUploadID returns an id that sorts by creation time.
func newUploadID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	id := newID()
	copy(b[8:], id[:8])
	return hex.EncodeToString(b[:])
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// CreateMultipartUpload starts an upload. Its encryption is settled here
// for every part.
func (e *Engine) CreateMultipartUpload(ctx context.Context, bucket, key string, opts *MultipartOptions) (Upload, error) {
	if opts == nil {
		opts = &MultipartOptions{}
	}
	done, err := e.beginWrite()
	if err != nil {
		return Upload{}, err
	}
	defer done()
	rec, err := newRecord(key, opts.Headers, opts.UserMetadata)
	if err != nil {
		return Upload{}, err
	}
	if rec.Tags, err = tagPairs(opts.Tags); err != nil {
		return Upload{}, err
	}
	brec, err := e.bucket(bucket)
	if err != nil {
		return Upload{}, err
	}
	sse, err := e.resolveSSE(ctx, brec, opts.SSE)
	if err != nil {
		return Upload{}, err
	}
	rec.DataID = newID()
	rec.ModTime = now().UnixNano()
	rec.ChecksumAlgorithm = opts.ChecksumAlgorithm
	var crec *cryptoRecord
	if sse.Type != SSENone {
		var ks *keySet
		if ks, crec, err = e.newKeys(ctx, bucket, key, rec.DataID, sse); err != nil {
			return Upload{}, err
		}
		ks.zero()
		rec.Crypto = crec.marshal()
	}
	id := newUploadID()
	val := rec.Marshal(nil)
	err = e.idx.Update(func(t *index.Txn) error {
		if err := txnBucketExists(t, bucket); err != nil {
			return err
		}
		t.Set(index.UploadKey(bucket, key, id), val)
		return nil
	})
	if err != nil {
		return Upload{}, mapIndexErr(err)
	}
	return Upload{Bucket: bucket, Key: key, UploadID: id, Initiated: time.Unix(0, rec.ModTime).UTC(),
		ChecksumAlgorithm: rec.ChecksumAlgorithm, SSE: sseInfo(crec, sse.CustomerKey)}, nil
}

// upload returns the record of an upload, or ErrNoSuchUpload.
func (e *Engine) upload(bucket, key, uploadID string) (index.Object, error) {
	var rec index.Object
	if !validUploadID(uploadID) {
		return rec, ErrNoSuchUpload
	}
	v, err := e.idx.Get(index.UploadKey(bucket, key, uploadID))
	if errors.Is(err, index.ErrNotFound) {
		if _, berr := e.bucket(bucket); berr != nil {
			return rec, berr
		}
		return rec, ErrNoSuchUpload
	}
	if err != nil {
		return rec, mapIndexErr(err)
	}
	if err := rec.Unmarshal(v); err != nil {
		return rec, fmt.Errorf("%w: upload: %w", ErrCorrupt, err)
	}
	return rec, nil
}

// UploadPart stores one part. Uploading a part number again replaces it.
func (e *Engine) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *PartOptions) (PartInfo, error) {
	if opts == nil {
		opts = &PartOptions{}
	}
	done, err := e.beginWrite()
	if err != nil {
		return PartInfo{}, err
	}
	defer done()
	return e.uploadPart(ctx, bucket, key, uploadID, partNumber, r, opts)
}

func (e *Engine) uploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *PartOptions) (PartInfo, error) {
	if partNumber < 1 || partNumber > MaxParts {
		return PartInfo{}, ErrInvalidPartNumber
	}
	if opts.Size > MaxPutPartSize {
		return PartInfo{}, ErrEntityTooLarge
	}
	if opts.ContentMD5 != nil && len(opts.ContentMD5) != md5.Size {
		return PartInfo{}, fmt.Errorf("%w: Content-MD5 must be 16 bytes", ErrInvalidArgument)
	}
	up, err := e.upload(bucket, key, uploadID)
	if err != nil {
		return PartInfo{}, err
	}
	crec, err := parseCrypto(up.Crypto)
	if err != nil {
		return PartInfo{}, err
	}
	if err := e.checkPartCustomerKey(crec, opts.CustomerKey); err != nil {
		return PartInfo{}, err
	}
	p := index.Part{Number: partNumber, DataID: newID(), Checksum: opts.Checksum}
	var pks *keySet
	if crec != nil {
		ks, err := e.openKeys(ctx, bucket, key, crec, opts.CustomerKey)
		if err != nil {
			return PartInfo{}, err
		}
		// A fresh salt per attempt: a re-uploaded part never reuses a key.
		salt, err := ccrypto.GenerateSalt(nil)
		if err != nil {
			ks.zero()
			return PartInfo{}, err
		}
		p.Crypto = salt[:]
		pks, err = e.partKeys(crec, ks, &p)
		ks.zero()
		if err != nil {
			return PartInfo{}, err
		}
		defer pks.zero()
	}
	md5ETag := crec == nil || crec.Type == SSES3
	pd, err := e.writeData(ctx, p.DataID, ccrypto.Identity{ID: p.DataID, Part: uint32(partNumber)}, r, opts.Size, pks,
		md5ETag || opts.ContentMD5 != nil, false)
	if err != nil {
		return PartInfo{}, err
	}
	if pd.size > MaxPutPartSize {
		err = ErrEntityTooLarge
	} else if opts.ContentMD5 != nil && !bytes.Equal(pd.md5, opts.ContentMD5) {
		err = ErrBadDigest
	} else if opts.Verify != nil {
		err = opts.Verify()
	}
	if err != nil {
		pd.abort()
		return PartInfo{}, err
	}
	p.Checksum = opts.Checksum // Verify may have filled it in from a trailer
	p.Size, p.StoredSize = pd.size, pd.stored
	if md5ETag {
		p.ETag = hex.EncodeToString(pd.md5)
	} else {
		p.ETag = randomETag()
	}
	p.ModTime = now().UnixNano()
	if p.Layout, err = pd.finish(encodePartTrailer(bucket, key, uploadID, &p)); err != nil {
		return PartInfo{}, err
	}
	val := p.Marshal(nil)
	var old index.Part
	var hadOld bool
	err = e.idx.Update(func(t *index.Txn) error {
		hadOld = false
		if _, err := t.Get(index.UploadKey(bucket, key, uploadID)); errors.Is(err, index.ErrNotFound) {
			return ErrNoSuchUpload
		} else if err != nil {
			return err
		}
		pk := index.PartKey(uploadID, partNumber)
		if v, err := t.Get(pk); err == nil {
			if old.Unmarshal(v) == nil {
				hadOld = true
				t.Set(index.GCKey(old.DataID), old.Layout)
			}
		}
		t.Set(pk, val)
		return nil
	})
	if err != nil {
		e.dropUncommitted(chunkstore.ID(p.DataID), p.Layout, err)
		return PartInfo{}, mapIndexErr(err)
	}
	if hadOld {
		e.release <- release{id: chunkstore.ID(old.DataID), layout: old.Layout}
	}
	info := partInfo(&p)
	info.SSE = sseInfo(crec, opts.CustomerKey)
	return info, nil
}

// checkPartCustomerKey applies S3's rule that the SSE-C parameters of an
// upload come with every part, unchanged, and only with SSE-C uploads.
func (e *Engine) checkPartCustomerKey(crec *cryptoRecord, key []byte) error {
	isC := crec != nil && crec.Type == SSEC
	if isC != (key != nil) {
		return ErrSSEPartParamsRequired
	}
	if err := e.checkCustomerKey(crec, key); errors.Is(err, ErrSSECustomerKeyMismatch) {
		return ErrSSEParametersMismatch
	} else if err != nil {
		return err
	}
	return nil
}

// partKeys derives a part's keys from its upload's keys and the part's
// salt (kept in the part record). It returns nil for a plain upload.
func (e *Engine) partKeys(crec *cryptoRecord, ks *keySet, p *index.Part) (*keySet, error) {
	if crec == nil {
		return nil, nil
	}
	salt, err := ccrypto.NewSalt(p.Crypto)
	if err != nil {
		return nil, fmt.Errorf("%w: part salt", ErrCorrupt)
	}
	out := &keySet{}
	for _, k := range ks.layers {
		pk, err := ccrypto.DerivePartKey(k, crec.BoundID[:], uint32(p.Number), salt)
		if err != nil {
			out.zero()
			return nil, err
		}
		out.layers = append(out.layers, pk)
	}
	return out, nil
}

func partInfo(p *index.Part) PartInfo {
	return PartInfo{PartNumber: p.Number, ETag: p.ETag, Size: p.Size, ModTime: time.Unix(0, p.ModTime).UTC(), Checksum: p.Checksum}
}

// UploadPartCopy stores a part copied from (a range of) an existing
// object, decrypting the source with its own keys and encrypting the part
// with the upload's. Source conditions fail with ErrPreconditionFailed.
func (e *Engine) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int, srcBucket, srcKey string, opts *PartCopyOptions) (PartInfo, error) {
	if opts == nil {
		opts = &PartCopyOptions{}
	}
	done, err := e.beginWrite()
	if err != nil {
		return PartInfo{}, err
	}
	defer done()
	if _, err := e.upload(bucket, key, uploadID); err != nil {
		return PartInfo{}, err
	}
	src, err := e.get(ctx, srcBucket, srcKey, &GetOptions{Range: opts.Range, Conditions: opts.SourceConditions, CustomerKey: opts.SourceCustomerKey})
	if errors.Is(err, ErrNotModified) {
		err = ErrPreconditionFailed
	}
	if err != nil {
		return PartInfo{}, err
	}
	defer src.Close()
	return e.uploadPart(ctx, bucket, key, uploadID, partNumber, src, &PartOptions{Size: src.Length, CustomerKey: opts.CustomerKey})
}

// CompleteMultipartUpload assembles the named parts, in ascending order,
// into the object. No data is copied: the object refers to the parts'
// streams, and the switch from upload to object is one index commit.
// Parts uploaded but not named are released.
func (e *Engine) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts *CompleteOptions) (ObjectInfo, error) {
	if opts == nil {
		opts = &CompleteOptions{}
	}
	done, err := e.begin()
	if err != nil {
		return ObjectInfo{}, err
	}
	defer done()
	if len(parts) == 0 {
		return ObjectInfo{}, fmt.Errorf("%w: no parts", ErrInvalidArgument)
	}
	up, err := e.upload(bucket, key, uploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	// Assemble the record from the committed parts; the commit below checks
	// that nothing changed meanwhile.
	rec, err := e.assemble(uploadID, &up, parts)
	if err != nil {
		// An abort that committed meanwhile removed the parts: say so.
		if _, uerr := e.upload(bucket, key, uploadID); errors.Is(uerr, ErrNoSuchUpload) {
			return ObjectInfo{}, ErrNoSuchUpload
		}
		return ObjectInfo{}, err
	}
	if opts.Checksum.Value != "" {
		rec.ChecksumAlgorithm, rec.ChecksumValue = opts.Checksum.Algorithm, opts.Checksum.Value
	}
	// A zero-length stream whose self-description is the whole record: it
	// lets an index rebuilt from the drives find the object and its parts.
	w, err := e.store.Create(chunkstore.ID(rec.DataID))
	if err != nil {
		return ObjectInfo{}, e.storeErr(err)
	}
	layout, _, err := w.Finish(encodeTrailer(bucket, key, &rec))
	if err != nil {
		return ObjectInfo{}, e.storeErr(err)
	}
	rec.Layout = layout.AppendBinary(nil)
	val := rec.Marshal(nil)
	var released []release
	err = e.idx.Update(func(t *index.Txn) error {
		released = released[:0]
		if _, err := t.Get(index.UploadKey(bucket, key, uploadID)); errors.Is(err, index.ErrNotFound) {
			return ErrNoSuchUpload
		} else if err != nil {
			return err
		}
		used := map[[16]byte]bool{}
		for _, p := range rec.Parts {
			v, err := t.Get(index.PartKey(uploadID, p.Number))
			var cur index.Part
			if err != nil || cur.Unmarshal(v) != nil || cur.DataID != p.DataID {
				return ErrInvalidPart // replaced or gone since assembly
			}
			used[p.DataID] = true
		}
		okey := index.ObjectKey(bucket, key)
		var old index.Object
		v, err := t.Get(okey)
		var cur *index.Object
		if err == nil {
			if err := old.Unmarshal(v); err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			cur = &old
		} else if !errors.Is(err, index.ErrNotFound) {
			return err
		}
		if err := writeConditions(opts.Conditions, cur); err != nil {
			return err
		}
		err = t.Scan(index.PartPrefix(uploadID), func(k, v []byte) error {
			t.Delete(k)
			var p index.Part
			if p.Unmarshal(v) == nil && !used[p.DataID] {
				released = append(released, release{id: chunkstore.ID(p.DataID), layout: p.Layout})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cur != nil {
			released = append(released, streams(cur)...)
		}
		for _, r := range released {
			t.Set(index.GCKey(r.id), r.layout)
		}
		t.Delete(index.UploadKey(bucket, key, uploadID))
		t.Set(okey, val)
		return nil
	})
	if err != nil {
		e.dropUncommitted(chunkstore.ID(rec.DataID), rec.Layout, err)
		return ObjectInfo{}, mapIndexErr(err)
	}
	for _, r := range released {
		e.release <- r
	}
	info := recordInfo(bucket, key, &rec)
	crec, _ := parseCrypto(rec.Crypto)
	info.SSE = sseInfo(crec, nil)
	return info, nil
}

// assemble builds the object record of a completed upload from its
// committed parts.
func (e *Engine) assemble(uploadID string, up *index.Object, parts []CompletePart) (index.Object, error) {
	rec := *up
	rec.DataID = newID()
	rec.ModTime = now().UnixNano()
	rec.Parts = make([]index.Part, 0, len(parts))
	etags := make([]byte, 0, len(parts)*md5.Size)
	for i, cp := range parts {
		if cp.PartNumber < 1 || cp.PartNumber > MaxParts {
			return rec, ErrInvalidPart
		}
		if i > 0 && cp.PartNumber <= parts[i-1].PartNumber {
			return rec, ErrInvalidPartOrder
		}
		v, err := e.idx.Get(index.PartKey(uploadID, cp.PartNumber))
		if errors.Is(err, index.ErrNotFound) {
			return rec, ErrInvalidPart
		} else if err != nil {
			return rec, mapIndexErr(err)
		}
		var p index.Part
		if err := p.Unmarshal(v); err != nil {
			return rec, fmt.Errorf("%w: part: %w", ErrCorrupt, err)
		}
		if strings.Trim(cp.ETag, `"`) != p.ETag {
			return rec, ErrInvalidPart
		}
		raw, err := hex.DecodeString(p.ETag)
		if err != nil {
			return rec, fmt.Errorf("%w: part etag", ErrCorrupt)
		}
		etags = append(etags, raw...)
		rec.Parts = append(rec.Parts, p)
		rec.Size += p.Size
		rec.StoredSize += p.StoredSize
	}
	for _, p := range rec.Parts[:len(rec.Parts)-1] {
		if p.Size < e.minPartSize {
			return rec, ErrEntityTooSmall
		}
	}
	if rec.Size > MaxObjectSize {
		return rec, ErrEntityTooLarge
	}
	sum := md5.Sum(etags)
	rec.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(rec.Parts))
	return rec, nil
}

// streams lists every stored stream of an object record, for release.
func streams(rec *index.Object) []release {
	var out []release
	if rec.Layout != nil {
		out = append(out, release{id: chunkstore.ID(rec.DataID), layout: rec.Layout})
	}
	for _, p := range rec.Parts {
		out = append(out, release{id: chunkstore.ID(p.DataID), layout: p.Layout})
	}
	return out
}

// AbortMultipartUpload discards an upload and releases its parts.
func (e *Engine) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	if !validUploadID(uploadID) {
		return ErrNoSuchUpload
	}
	return e.abortUpload(bucket, key, uploadID)
}

func (e *Engine) abortUpload(bucket, key, uploadID string) error {
	var released []release
	err := e.idx.Update(func(t *index.Txn) error {
		released = released[:0]
		if err := txnBucketExists(t, bucket); err != nil {
			return err
		}
		if _, err := t.Get(index.UploadKey(bucket, key, uploadID)); errors.Is(err, index.ErrNotFound) {
			return ErrNoSuchUpload
		} else if err != nil {
			return err
		}
		err := t.Scan(index.PartPrefix(uploadID), func(k, v []byte) error {
			t.Delete(k)
			var p index.Part
			if p.Unmarshal(v) == nil {
				released = append(released, release{id: chunkstore.ID(p.DataID), layout: p.Layout})
				t.Set(index.GCKey(p.DataID), p.Layout)
			}
			return nil
		})
		if err != nil {
			return err
		}
		t.Delete(index.UploadKey(bucket, key, uploadID))
		return nil
	})
	if err != nil {
		return mapIndexErr(err)
	}
	for _, r := range released {
		e.release <- r
	}
	return nil
}

// ListPartsOptions page through ListParts.
type ListPartsOptions struct {
	PartNumberMarker int // list parts after this number
	MaxParts         int // zero or less: 1000
}

// ListPartsResult is one page of ListParts.
type ListPartsResult struct {
	Upload               Upload
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
}

// ListParts lists the parts of an upload in part number order.
func (e *Engine) ListParts(ctx context.Context, bucket, key, uploadID string, opts ListPartsOptions) (ListPartsResult, error) {
	done, err := e.begin()
	if err != nil {
		return ListPartsResult{}, err
	}
	defer done()
	up, err := e.upload(bucket, key, uploadID)
	if err != nil {
		return ListPartsResult{}, err
	}
	res := ListPartsResult{Upload: Upload{Bucket: bucket, Key: key, UploadID: uploadID,
		Initiated: time.Unix(0, up.ModTime).UTC(), ChecksumAlgorithm: up.ChecksumAlgorithm}}
	maxParts := opts.MaxParts
	if maxParts <= 0 {
		maxParts = 1000
	}
	prefix := index.PartPrefix(uploadID)
	it, err := e.idx.NewIter(prefix, index.PrefixEnd(prefix))
	if err != nil {
		return res, mapIndexErr(err)
	}
	defer it.Close()
	for ok := it.SeekGE(index.PartKey(uploadID, opts.PartNumberMarker+1)); ok; ok = it.Next() {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		var p index.Part
		if err := p.Unmarshal(it.Value()); err != nil {
			return res, fmt.Errorf("%w: part: %w", ErrCorrupt, err)
		}
		res.Parts = append(res.Parts, partInfo(&p))
		res.NextPartNumberMarker = p.Number
	}
	return res, mapIndexErr(it.Error())
}

// ListUploadsOptions page through ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix, Delimiter string
	// KeyMarker and UploadIDMarker: list uploads after this key (and,
	// for that key, after this upload id), as S3.
	KeyMarker, UploadIDMarker string
	MaxUploads                int // zero or less: 1000
}

// ListUploadsResult is one page of ListMultipartUploads.
type ListUploadsResult struct {
	Uploads            []Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListMultipartUploads lists in-progress uploads in key order, then upload
// creation order.
func (e *Engine) ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error) {
	done, err := e.begin()
	if err != nil {
		return ListUploadsResult{}, err
	}
	defer done()
	if _, err := e.bucket(bucket); err != nil {
		return ListUploadsResult{}, err
	}
	maxUploads := opts.MaxUploads
	if maxUploads <= 0 {
		maxUploads = 1000
	}
	lower := index.UploadPrefix(bucket, opts.Prefix)
	it, err := e.idx.NewIter(lower, index.PrefixEnd(lower))
	if err != nil {
		return ListUploadsResult{}, mapIndexErr(err)
	}
	defer it.Close()
	var res ListUploadsResult
	seek := lower
	if opts.KeyMarker != "" {
		if opts.UploadIDMarker != "" {
			seek = append(index.UploadKey(bucket, opts.KeyMarker, opts.UploadIDMarker), 0)
		} else {
			// After every upload of KeyMarker.
			seek = index.PrefixEnd(append(index.UploadPrefix(bucket, opts.KeyMarker), 0))
		}
	}
	count := 0
	for ok := it.SeekGE(seek); ok; {
		key, id, err := index.SplitUploadKey(bucket, it.Key())
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		if opts.Delimiter != "" {
			rest := key[len(opts.Prefix):]
			if i := strings.Index(rest, opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp > opts.KeyMarker {
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
					count++
				}
				end := index.PrefixEnd(index.UploadPrefix(bucket, cp))
				if end == nil {
					break
				}
				ok = it.SeekGE(end)
				continue
			}
		}
		var rec index.Object
		if err := rec.Unmarshal(it.Value()); err != nil {
			return res, fmt.Errorf("%w: upload: %w", ErrCorrupt, err)
		}
		res.Uploads = append(res.Uploads, Upload{Bucket: bucket, Key: key, UploadID: id,
			Initiated: time.Unix(0, rec.ModTime).UTC(), ChecksumAlgorithm: rec.ChecksumAlgorithm})
		res.NextKeyMarker, res.NextUploadIDMarker = key, id
		count++
		ok = it.Next()
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, mapIndexErr(it.Error())
}

// encodePartTrailer is the self-description of a part's shard files.
func encodePartTrailer(bucket, key, uploadID string, p *index.Part) []byte {
	b := []byte{trailerPart}
	for _, s := range []string{bucket, key, uploadID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return p.Marshal(b)
}

// ReclaimUploads aborts every multipart upload started before cutoff and
// releases its parts. The engine runs it hourly with Options.UploadExpiry;
// it returns how many uploads it aborted.
func (e *Engine) ReclaimUploads(ctx context.Context, cutoff time.Time) (int, error) {
	done, err := e.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	return e.reclaimUploads(ctx, cutoff)
}

func (e *Engine) reclaimUploads(ctx context.Context, cutoff time.Time) (int, error) {
	lower := []byte{'u'}
	it, err := e.idx.NewIter(lower, index.PrefixEnd(lower))
	if err != nil {
		return 0, mapIndexErr(err)
	}
	type stale struct{ bucket, key, id string }
	var old []stale
	for ok := it.First(); ok; ok = it.Next() {
		var rec index.Object
		if rec.Unmarshal(it.Value()) != nil || rec.ModTime >= cutoff.UnixNano() {
			continue
		}
		k := it.Key()[1:]
		slash := bytes.IndexByte(k, '/')
		if slash < 0 {
			continue
		}
		bucket := string(k[:slash])
		key, id, err := index.SplitUploadKey(bucket, it.Key())
		if err == nil {
			old = append(old, stale{bucket, key, id})
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, mapIndexErr(err)
	}
	n := 0
	for _, s := range old {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := e.abortUpload(s.bucket, s.key, s.id); err == nil {
			n++
		} else if !errors.Is(err, ErrNoSuchUpload) {
			return n, err
		}
	}
	return n, nil
}
