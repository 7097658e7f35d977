package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cofferdb/coffer/engine/internal/index"
)

// CreateBucket creates a bucket owned by the root user. It fails with
// ErrInvalidBucketName or ErrBucketExists.
func (e *Engine) CreateBucket(ctx context.Context, name string) error {
	return e.CreateBucketWithOptions(ctx, name, nil)
}

// CreateBucketWithOptions creates a bucket; opts may be nil. It fails with
// ErrInvalidBucketName, ErrInvalidArgument (a bad owner) or
// ErrBucketExists, whoever owns the existing bucket (HeadBucket tells).
// The existence check and the write are one transaction, so of two
// concurrent creations exactly one succeeds and its owner is recorded.
func (e *Engine) CreateBucketWithOptions(ctx context.Context, name string, opts *BucketOptions) error {
	if opts == nil {
		opts = &BucketOptions{}
	}
	if err := ValidateBucketName(name); err != nil {
		return err
	}
	if err := validateOwner(opts.Owner); err != nil {
		return err
	}
	done, err := e.beginWrite()
	if err != nil {
		return err
	}
	defer done()
	rec := index.Bucket{Created: now().UnixNano(), Owner: opts.Owner}
	val := rec.Marshal()
	err = e.idx.Update(func(t *index.Txn) error {
		if _, err := t.Get(index.BucketKey(name)); err == nil {
			return ErrBucketExists
		} else if !errors.Is(err, index.ErrNotFound) {
			return err
		}
		t.Set(index.BucketKey(name), val)
		return nil
	})
	if err != nil {
		return mapIndexErr(err)
	}
	e.writeBucketMarkers(name, val)
	return nil
}

// writeBucketMarkers leaves a small file per drive naming the bucket so an
// index rebuilt from the drives knows empty buckets too. Best effort: the
// index is the truth while it exists.
func (e *Engine) writeBucketMarkers(name string, val []byte) {
	for _, d := range e.usableDrives() {
		dir := filepath.Join(d, bucketDir)
		if err := writeFileSync(e.fs, dir, name, val, e.opts.Sync == SyncDurable); err != nil {
			e.log.Warn("could not write bucket marker", "drive", d, "bucket", name, "err", err)
		}
	}
}

// DeleteBucket deletes an empty bucket: ErrBucketNotFound,
// ErrBucketNotEmpty.
func (e *Engine) DeleteBucket(ctx context.Context, name string) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	err = e.idx.Update(func(t *index.Txn) error {
		if err := txnBucketExists(t, name); err != nil {
			return err
		}
		any, err := t.AnyWithPrefix(index.ObjectPrefix(name, ""))
		if err != nil {
			return err
		}
		if any {
			return ErrBucketNotEmpty
		}
		t.Delete(index.BucketKey(name))
		return nil
	})
	if err != nil {
		return mapIndexErr(err)
	}
	for _, d := range e.usableDrives() {
		_ = e.fs.Remove(filepath.Join(d, bucketDir, name))
	}
	return nil
}

// HeadBucket returns a bucket's information or ErrBucketNotFound.
func (e *Engine) HeadBucket(ctx context.Context, name string) (BucketInfo, error) {
	done, err := e.begin()
	if err != nil {
		return BucketInfo{}, err
	}
	defer done()
	rec, err := e.bucket(name)
	if err != nil {
		return BucketInfo{}, err
	}
	return bucketInfo(name, &rec), nil
}

func bucketInfo(name string, rec *index.Bucket) BucketInfo {
	return BucketInfo{Name: name, Created: time.Unix(0, rec.Created).UTC(), Owner: rec.Owner}
}

// SetBucketOwner records owner (empty: the root user) as the owner of an
// existing bucket: ErrBucketNotFound, ErrInvalidArgument. The bucket's
// objects and configuration are unchanged.
func (e *Engine) SetBucketOwner(ctx context.Context, name, owner string) error {
	if err := validateOwner(owner); err != nil {
		return err
	}
	return e.updateBucketRecord(name, func(rec *index.Bucket) error {
		rec.Owner = owner
		return nil
	})
}

// validateOwner checks an owner id: printable UTF-8, MaxOwnerLength bytes
// at most.
func validateOwner(owner string) error {
	if len(owner) > MaxOwnerLength || !utf8.ValidString(owner) {
		return fmt.Errorf("%w: owner id longer than %d bytes or not UTF-8", ErrInvalidArgument, MaxOwnerLength)
	}
	for _, c := range owner {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("%w: owner id holds a control character", ErrInvalidArgument)
		}
	}
	return nil
}

func (e *Engine) bucket(name string) (index.Bucket, error) {
	var rec index.Bucket
	v, err := e.idx.Get(index.BucketKey(name))
	if errors.Is(err, index.ErrNotFound) {
		return rec, ErrBucketNotFound
	}
	if err != nil {
		return rec, mapIndexErr(err)
	}
	if err := rec.Unmarshal(v); err != nil {
		return rec, fmt.Errorf("%w: bucket %q: %w", ErrCorrupt, name, err)
	}
	return rec, nil
}

// ListBuckets returns every bucket in name order, with its owner.
func (e *Engine) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	it, err := e.idx.NewIter(index.BucketPrefix(), index.PrefixEnd(index.BucketPrefix()))
	if err != nil {
		return nil, mapIndexErr(err)
	}
	var out []BucketInfo
	for ok := it.First(); ok; ok = it.Next() {
		var rec index.Bucket
		if err := rec.Unmarshal(it.Value()); err != nil {
			it.Close()
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		out = append(out, bucketInfo(index.BucketFromKey(it.Key()), &rec))
	}
	return out, mapIndexErr(errors.Join(it.Error(), it.Close()))
}

// txnBucketExists checks, inside a transaction, that a bucket exists.
func txnBucketExists(t *index.Txn, bucket string) error {
	if _, err := t.Get(index.BucketKey(bucket)); errors.Is(err, index.ErrNotFound) {
		return ErrBucketNotFound
	} else if err != nil {
		return err
	}
	return nil
}
