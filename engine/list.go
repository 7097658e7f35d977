package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferdb/coffer/engine/internal/index"
)

// ListObjects returns one page of the keys of bucket in key order (UTF-8
// byte order, as S3). With a delimiter, keys that share a prefix up to the
// delimiter roll up into one common prefix, and the listing seeks past the
// whole rolled-up range instead of iterating it, so a prefix holding
// millions of keys costs one seek.
func (e *Engine) ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error) {
	done, err := e.begin()
	if err != nil {
		return ListResult{}, err
	}
	defer done()
	if _, err := e.bucket(bucket); err != nil {
		return ListResult{}, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	base := index.ObjectPrefix(bucket, "")
	lower := index.ObjectPrefix(bucket, opts.Prefix)
	upper := index.PrefixEnd(lower)
	it, err := e.idx.NewIter(lower, upper)
	if err != nil {
		return ListResult{}, mapIndexErr(err)
	}
	defer it.Close()

	var res ListResult
	seek := lower
	if opts.StartAfter >= opts.Prefix && opts.StartAfter != "" {
		// Strictly after StartAfter: the smallest key greater than it.
		seek = append(index.ObjectKey(bucket, opts.StartAfter), 0)
	}
	count := 0
	valid := it.SeekGE(seek)
	for valid {
		if count >= maxKeys {
			res.IsTruncated = true
			break
		}
		if count&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return ListResult{}, err
			}
		}
		key := string(it.Key()[len(base):])
		if opts.Delimiter != "" {
			rest := key[len(opts.Prefix):]
			if i := strings.Index(rest, opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				// Jump past every key under this common prefix.
				end := index.PrefixEnd(index.ObjectPrefix(bucket, cp))
				if cp > opts.StartAfter {
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.Next = cp
					count++
				}
				if end == nil {
					break
				}
				valid = it.SeekGE(end)
				continue
			}
		}
		var rec index.Object
		if err := rec.Unmarshal(it.Value()); err != nil {
			return ListResult{}, fmt.Errorf("%w: %s/%s: %w", ErrCorrupt, bucket, key, err)
		}
		res.Objects = append(res.Objects, recordInfo(bucket, key, &rec))
		res.Next = key
		count++
		valid = it.Next()
	}
	if err := it.Error(); err != nil && !errors.Is(err, index.ErrNotFound) {
		return ListResult{}, mapIndexErr(err)
	}
	if !res.IsTruncated {
		res.Next = ""
	}
	return res, nil
}
