package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cofferdb/coffer/engine/internal/index"
)

// Object tags, as S3 documents them: at most MaxTags per object, unique
// keys, a key of 1 to MaxTagKeyLength and a value of 0 to
// MaxTagValueLength characters counted in UTF-16 code units (S3 stores
// tags in UTF-16, where a character outside the Basic Multilingual Plane
// takes two), made of Unicode letters, numbers and spaces and the symbols
// _ . : / = + - @. Keys beginning with "aws:" (in any case) are reserved.
const (
	MaxTags           = 10
	MaxTagKeyLength   = 128
	MaxTagValueLength = 256
)

// Tag is one object tag.
type Tag struct {
	Key   string
	Value string
}

// ErrInvalidTag is wrapped by every *TagError.
var ErrInvalidTag = errors.New("engine: invalid tag")

// TagProblem says what is wrong with a tag set.
type TagProblem uint8

// The problems ValidateTags reports.
const (
	TagTooMany      TagProblem = iota + 1 // more than MaxTags tags
	TagDuplicateKey                       // two tags with one key
	TagInvalidKey                         // empty key or a character outside the set
	TagKeyTooLong                         // key longer than MaxTagKeyLength
	TagInvalidValue                       // a character outside the set
	TagValueTooLong                       // value longer than MaxTagValueLength
	TagReservedKey                        // key with the reserved "aws:" prefix
)

// TagError describes the first problem ValidateTags found. It wraps
// ErrInvalidTag; Key and Value are the offending tag's (empty for
// TagTooMany).
type TagError struct {
	Problem    TagProblem
	Key, Value string
}

// Error describes the problem.
func (e *TagError) Error() string {
	var why string
	switch e.Problem {
	case TagTooMany:
		why = fmt.Sprintf("more than %d tags", MaxTags)
	case TagDuplicateKey:
		why = fmt.Sprintf("key %q given twice", e.Key)
	case TagInvalidKey:
		why = fmt.Sprintf("key %q is empty or has a character that is not allowed", e.Key)
	case TagKeyTooLong:
		why = fmt.Sprintf("key longer than %d characters", MaxTagKeyLength)
	case TagInvalidValue:
		why = fmt.Sprintf("value of key %q has a character that is not allowed", e.Key)
	case TagValueTooLong:
		why = fmt.Sprintf("value of key %q longer than %d characters", e.Key, MaxTagValueLength)
	case TagReservedKey:
		why = fmt.Sprintf("key %q has the reserved prefix aws:", e.Key)
	default:
		why = "unknown problem"
	}
	return ErrInvalidTag.Error() + ": " + why
}

// Unwrap returns ErrInvalidTag.
func (e *TagError) Unwrap() error { return ErrInvalidTag }

// ValidateTags checks a tag set against S3's rules and returns a *TagError
// for the first problem: the count first, then each tag in order. An empty
// set is valid. Every engine call that stores tags applies it.
func ValidateTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return &TagError{Problem: TagTooMany}
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if p := tagProblem(t); p != 0 {
			return &TagError{Problem: p, Key: t.Key, Value: t.Value}
		}
		if seen[t.Key] {
			return &TagError{Problem: TagDuplicateKey, Key: t.Key, Value: t.Value}
		}
		seen[t.Key] = true
	}
	return nil
}

// tagProblem checks one tag (0: none).
func tagProblem(t Tag) TagProblem {
	switch {
	case t.Key == "" || !validTagText(t.Key):
		return TagInvalidKey
	case utf16Len(t.Key) > MaxTagKeyLength:
		return TagKeyTooLong
	case len(t.Key) >= 4 && strings.EqualFold(t.Key[:4], "aws:"):
		return TagReservedKey
	case !validTagText(t.Value):
		return TagInvalidValue
	case utf16Len(t.Value) > MaxTagValueLength:
		return TagValueTooLong
	}
	return 0
}

// validTagText reports whether s is valid UTF-8 made only of the
// characters tags allow: letters, numbers, spaces (Unicode categories L,
// N and Z) and _ . : / = + - @.
func validTagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if strings.ContainsRune("_.:/=+-@", r) || unicode.In(r, unicode.L, unicode.N, unicode.Z) {
			continue
		}
		return false
	}
	return true
}

// utf16Len is the length of valid UTF-8 s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// tagPairs validates tags and returns them as the index stores them:
// sorted by key, nil for none. The caller's slice is not modified.
func tagPairs(tags []Tag) ([][2]string, error) {
	if err := ValidateTags(tags); err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, nil
	}
	out := make([][2]string, len(tags))
	for i, t := range tags {
		out[i] = [2]string{t.Key, t.Value}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}

// recordTags returns the tags of rec (nil for none).
func recordTags(rec *index.Object) []Tag {
	if len(rec.Tags) == 0 {
		return nil
	}
	out := make([]Tag, len(rec.Tags))
	for i, kv := range rec.Tags {
		out[i] = Tag{Key: kv[0], Value: kv[1]}
	}
	return out
}

// PutObjectTagging replaces the tags of bucket/key with tags (an empty set
// removes them, as S3's PutObjectTagging does). Only the index record is
// rewritten, in one transaction that reads the current record: the data,
// the ETag and the modification time stay, and a tagging that races an
// overwrite or a delete applies to whichever object is current when it
// commits, never bringing back one that was replaced. A missing object is
// ErrObjectNotFound, a missing bucket ErrBucketNotFound, a bad tag set a
// *TagError.
func (e *Engine) PutObjectTagging(ctx context.Context, bucket, key string, tags []Tag) error {
	pairs, err := tagPairs(tags)
	if err != nil {
		return err
	}
	return e.updateTags(bucket, key, pairs)
}

// DeleteObjectTagging removes every tag of bucket/key, as
// PutObjectTagging with an empty set does.
func (e *Engine) DeleteObjectTagging(ctx context.Context, bucket, key string) error {
	return e.updateTags(bucket, key, nil)
}

// GetObjectTagging returns the tags of bucket/key sorted by key (nil when
// it has none).
func (e *Engine) GetObjectTagging(ctx context.Context, bucket, key string) ([]Tag, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	if err := ValidateObjectKey(key); err != nil {
		return nil, err
	}
	rec, err := e.lookup(bucket, key)
	if err != nil {
		return nil, err
	}
	return recordTags(&rec), nil
}

// updateTags sets the tags of the current record of bucket/key to pairs
// (from tagPairs) in one index transaction.
func (e *Engine) updateTags(bucket, key string, pairs [][2]string) error {
	done, err := e.beginWrite()
	if err != nil {
		return err
	}
	defer done()
	if err := ValidateObjectKey(key); err != nil {
		return err
	}
	err = e.idx.Update(func(t *index.Txn) error {
		if err := txnBucketExists(t, bucket); err != nil {
			return err
		}
		okey := index.ObjectKey(bucket, key)
		v, err := t.Get(okey)
		if errors.Is(err, index.ErrNotFound) {
			return ErrObjectNotFound
		} else if err != nil {
			return err
		}
		var rec index.Object
		if err := rec.Unmarshal(v); err != nil {
			return fmt.Errorf("%w: object %s/%s: %w", ErrCorrupt, bucket, key, err)
		}
		rec.Tags = pairs
		t.Set(okey, rec.Marshal(nil))
		return nil
	})
	return mapIndexErr(err)
}
