package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cofferdb/coffer/engine/internal/index"
)

func putTagged(t *testing.T, e *Engine, key string, data []byte, tags []Tag) ObjectInfo {
	t.Helper()
	info, err := e.PutObject(ctx, "bkt", key, bytes.NewReader(data), &PutOptions{Size: int64(len(data)), Tags: tags})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

func mustTags(t *testing.T, e *Engine, key string) []Tag {
	t.Helper()
	tags, err := e.GetObjectTagging(ctx, "bkt", key)
	if err != nil {
		t.Fatalf("GetObjectTagging %s: %v", key, err)
	}
	return tags
}

func TestTagsRoundTrip(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	in := []Tag{{"project", "blue"}, {"Classification", "PHI"}, {"empty", ""}}
	// Stored and returned sorted by key.
	want := []Tag{{"Classification", "PHI"}, {"empty", ""}, {"project", "blue"}}
	for _, size := range []int{10, 200 << 10} { // inline and sharded
		key := fmt.Sprintf("obj-%d", size)
		data := payload(uint64(size), size)
		info := putTagged(t, e, key, data, in)
		if !slices.Equal(info.Tags, want) {
			t.Fatalf("%s: put answered tags %v, want %v", key, info.Tags, want)
		}
		if in[0].Key != "project" {
			t.Fatal("PutObject reordered the caller's slice")
		}
		if got := mustTags(t, e, key); !slices.Equal(got, want) {
			t.Fatalf("%s: GetObjectTagging %v, want %v", key, got, want)
		}
		head, err := e.HeadObject(ctx, "bkt", key, nil)
		if err != nil || !slices.Equal(head.Tags, want) {
			t.Fatalf("%s: HeadObject tags %v, %v", key, head.Tags, err)
		}

		// PutObjectTagging replaces the whole set and leaves data, ETag
		// and ModTime alone.
		next := []Tag{{"only", "one"}}
		if err := e.PutObjectTagging(ctx, "bkt", key, next); err != nil {
			t.Fatal(err)
		}
		obj, err := e.GetObject(ctx, "bkt", key, nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := obj.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		obj.Close()
		if !bytes.Equal(buf.Bytes(), data) || !slices.Equal(obj.Info.Tags, next) {
			t.Fatalf("%s after PutObjectTagging: content equal %v, tags %v", key, bytes.Equal(buf.Bytes(), data), obj.Info.Tags)
		}
		if obj.Info.ETag != info.ETag || !obj.Info.ModTime.Equal(info.ModTime) {
			t.Fatalf("%s: tagging changed ETag %s→%s or ModTime %v→%v", key, info.ETag, obj.Info.ETag, info.ModTime, obj.Info.ModTime)
		}

		// An empty set removes the tags, as DeleteObjectTagging does.
		if err := e.PutObjectTagging(ctx, "bkt", key, nil); err != nil {
			t.Fatal(err)
		}
		if got := mustTags(t, e, key); got != nil {
			t.Fatalf("%s: tags after an empty PutObjectTagging: %v", key, got)
		}
		if err := e.PutObjectTagging(ctx, "bkt", key, in); err != nil {
			t.Fatal(err)
		}
		if err := e.DeleteObjectTagging(ctx, "bkt", key); err != nil {
			t.Fatal(err)
		}
		if got := mustTags(t, e, key); got != nil {
			t.Fatalf("%s: tags after DeleteObjectTagging: %v", key, got)
		}
		if err := e.DeleteObjectTagging(ctx, "bkt", key); err != nil {
			t.Fatalf("%s: DeleteObjectTagging without tags: %v", key, err)
		}
	}
}

// tagSet returns n tags with keys of klen and values of vlen characters.
func tagSet(n, klen, vlen int) []Tag {
	var out []Tag
	for i := range n {
		k := fmt.Sprintf("%02d", i)
		out = append(out, Tag{k + strings.Repeat("k", klen-len(k)), strings.Repeat("v", vlen)})
	}
	return out
}

func TestTagsLimits(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	astral := "𝒜" // two UTF-16 code units
	good := map[string][]Tag{
		"ten tags of the longest key and value": tagSet(MaxTags, MaxTagKeyLength, MaxTagValueLength),
		"symbols, spaces, letters and numbers":  {{"b c+d-e=f.g_h:i/j@k", "2 + 2 = 4"}, {"ü文٣", "ä\u00a0b"}},
		"a key of 128 UTF-16 code units":        {{strings.Repeat(astral, 64), "v"}},
		"a value of 256 UTF-16 code units":      {{"k", strings.Repeat(astral, 128)}},
		"no tags":                               nil,
	}
	for name, tags := range good {
		if err := ValidateTags(tags); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := e.PutObject(ctx, "bkt", "good", strings.NewReader("x"), &PutOptions{Tags: tags}); err != nil {
			t.Errorf("%s: put: %v", name, err)
		}
	}
	bad := []struct {
		name string
		tags []Tag
		want TagProblem
	}{
		{"eleven tags", tagSet(MaxTags+1, 2, 0), TagTooMany},
		{"two tags with one key", []Tag{{"a", "1"}, {"b", "2"}, {"a", "3"}}, TagDuplicateKey},
		{"an empty key", []Tag{{"", "v"}}, TagInvalidKey},
		{"a key of 129 characters", tagSet(1, MaxTagKeyLength+1, 0), TagKeyTooLong},
		{"a key of 65 astral characters", []Tag{{strings.Repeat(astral, 65), ""}}, TagKeyTooLong},
		{"a value of 257 characters", tagSet(1, 2, MaxTagValueLength+1), TagValueTooLong},
		{"a comma in a key", []Tag{{"a,b", "v"}}, TagInvalidKey},
		{"a percent sign in a key", []Tag{{"a%b", "v"}}, TagInvalidKey},
		{"an emoji in a key", []Tag{{"😀", "v"}}, TagInvalidKey},
		{"a tab in a value", []Tag{{"k", "a\tb"}}, TagInvalidValue},
		{"a question mark in a value", []Tag{{"k", "a?b"}}, TagInvalidValue},
		{"invalid UTF-8 in a value", []Tag{{"k", "\xff"}}, TagInvalidValue},
		{"the reserved prefix aws:", []Tag{{"aws:cost", "v"}}, TagReservedKey},
		{"the reserved prefix in capitals", []Tag{{"AWS:cost", "v"}}, TagReservedKey},
	}
	put(t, e, "bkt", "existing", []byte("data"))
	if err := e.PutObjectTagging(ctx, "bkt", "existing", []Tag{{"keep", "me"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range bad {
		check := func(what string, err error) {
			t.Helper()
			var te *TagError
			if !errors.Is(err, ErrInvalidTag) || !errors.As(err, &te) || te.Problem != c.want {
				t.Errorf("%s, %s: %v, want problem %d", c.name, what, err, c.want)
			}
		}
		check("ValidateTags", ValidateTags(c.tags))
		_, err := e.PutObject(ctx, "bkt", "refused", strings.NewReader("x"), &PutOptions{Tags: c.tags})
		check("PutObject", err)
		if _, err := e.HeadObject(ctx, "bkt", "refused", nil); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("%s: a refused put stored something: %v", c.name, err)
		}
		check("PutObjectTagging", e.PutObjectTagging(ctx, "bkt", "existing", c.tags))
		if got := mustTags(t, e, "existing"); !slices.Equal(got, []Tag{{"keep", "me"}}) {
			t.Errorf("%s: a refused PutObjectTagging changed the tags to %v", c.name, got)
		}
		_, err = e.CreateMultipartUpload(ctx, "bkt", "refused", &MultipartOptions{Tags: c.tags})
		check("CreateMultipartUpload", err)
		_, err = e.CopyObject(ctx, "bkt", "existing", "bkt", "refused", &CopyOptions{ReplaceTags: true, Tags: c.tags})
		check("CopyObject", err)
	}
	if _, err := e.HeadObject(ctx, "bkt", "refused", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("refused writes stored something: %v", err)
	}
	if res, err := e.ListMultipartUploads(ctx, "bkt", ListUploadsOptions{}); err != nil || len(res.Uploads) != 0 {
		t.Errorf("refused CreateMultipartUpload left uploads: %+v %v", res.Uploads, err)
	}
}

func TestCopyTags(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	src := []Tag{{"a", "1"}, {"b", "2"}}
	putTagged(t, e, "src", payload(1, 5000), src)
	cases := []struct {
		name string
		opts *CopyOptions
		want []Tag
	}{
		{"default copies the source's tags", nil, src},
		{"COPY copies the source's tags", &CopyOptions{Tags: []Tag{{"ignored", "x"}}}, src},
		{"REPLACE stores the new tags", &CopyOptions{ReplaceTags: true, Tags: []Tag{{"z", "9"}, {"new", "yes"}}}, []Tag{{"new", "yes"}, {"z", "9"}}},
		{"REPLACE without tags stores none", &CopyOptions{ReplaceTags: true}, nil},
	}
	for i, c := range cases {
		dst := fmt.Sprintf("dst-%d", i)
		info, err := e.CopyObject(ctx, "bkt", "src", "bkt", dst, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(info.Tags, c.want) || !slices.Equal(mustTags(t, e, dst), c.want) {
			t.Errorf("%s: tags %v / %v, want %v", c.name, info.Tags, mustTags(t, e, dst), c.want)
		}
	}
	if got := mustTags(t, e, "src"); !slices.Equal(got, src) {
		t.Errorf("copies changed the source's tags: %v", got)
	}
	// New tags alone do not make a copy onto itself legal (S3 counts
	// metadata, storage class, redirect and encryption only).
	_, err := e.CopyObject(ctx, "bkt", "src", "bkt", "src", &CopyOptions{ReplaceTags: true, Tags: []Tag{{"c", "3"}}})
	if !errors.Is(err, ErrInvalidCopy) {
		t.Errorf("in-place copy with new tags only: %v, want ErrInvalidCopy", err)
	}
	// With REPLACE metadata it is legal, and the tags directive applies.
	if _, err := e.CopyObject(ctx, "bkt", "src", "bkt", "src", &CopyOptions{ReplaceMetadata: true, ReplaceTags: true, Tags: []Tag{{"c", "3"}}}); err != nil {
		t.Fatal(err)
	}
	if got := mustTags(t, e, "src"); !slices.Equal(got, []Tag{{"c", "3"}}) {
		t.Errorf("in-place copy with REPLACE: tags %v", got)
	}
}

func TestMultipartTags(t *testing.T) {
	e, _ := openMP(t)
	tags := []Tag{{"stage", "raw"}, {"owner", "ana"}}
	id, err := createUpload(e, "mp", &MultipartOptions{Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	cps := uploadParts(t, e, "mp", id, payload(1, 64<<10), payload(2, 100))
	info, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", id, cps, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Tag{{"owner", "ana"}, {"stage", "raw"}}
	if !slices.Equal(info.Tags, want) || !slices.Equal(mustTags(t, e, "mp"), want) {
		t.Fatalf("completed upload: tags %v / %v, want %v", info.Tags, mustTags(t, e, "mp"), want)
	}
	if err := e.PutObjectTagging(ctx, "bkt", "mp", []Tag{{"stage", "done"}}); err != nil {
		t.Fatal(err)
	}
	head, err := e.HeadObject(ctx, "bkt", "mp", nil)
	if err != nil || head.PartsCount != 2 || head.ETag != info.ETag || !slices.Equal(head.Tags, []Tag{{"stage", "done"}}) {
		t.Fatalf("multipart object after tagging: %+v %v", head, err)
	}
}

func TestTaggingMissingObject(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	tags := []Tag{{"a", "1"}}
	if err := e.PutObjectTagging(ctx, "bkt", "missing", tags); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("PutObjectTagging of a missing key: %v", err)
	}
	if _, err := e.GetObjectTagging(ctx, "bkt", "missing"); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("GetObjectTagging of a missing key: %v", err)
	}
	if err := e.DeleteObjectTagging(ctx, "bkt", "missing"); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("DeleteObjectTagging of a missing key: %v", err)
	}
	if _, err := e.HeadObject(ctx, "bkt", "missing", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("tagging a missing key created it: %v", err)
	}
	if err := e.PutObjectTagging(ctx, "nobucket", "k", tags); !errors.Is(err, ErrBucketNotFound) {
		t.Errorf("PutObjectTagging in a missing bucket: %v", err)
	}
	if _, err := e.GetObjectTagging(ctx, "nobucket", "k"); !errors.Is(err, ErrBucketNotFound) {
		t.Errorf("GetObjectTagging in a missing bucket: %v", err)
	}
	if err := e.PutObjectTagging(ctx, "bkt", "", tags); !errors.Is(err, ErrInvalidObjectName) {
		t.Errorf("PutObjectTagging of an empty key: %v", err)
	}
	put(t, e, "bkt", "gone", []byte("x"))
	if err := e.DeleteObject(ctx, "bkt", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := e.PutObjectTagging(ctx, "bkt", "gone", tags); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("PutObjectTagging of a deleted key: %v", err)
	}
}

// TestTaggingRacesWrites runs PutObjectTagging against deletes and
// overwrites of the same key: a tagging never brings back a deleted
// object or the content an overwrite replaced.
func TestTaggingRacesWrites(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	for i := range 40 {
		old, cur := payload(uint64(2*i), 3000), payload(uint64(2*i+1), 3000)
		put(t, e, "bkt", "k", old)
		var wg sync.WaitGroup
		var tagErr error
		wg.Go(func() { tagErr = e.PutObjectTagging(ctx, "bkt", "k", []Tag{{"n", fmt.Sprint(i)}}) })
		if i%2 == 0 {
			wg.Go(func() {
				if err := e.DeleteObject(ctx, "bkt", "k"); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			if tagErr != nil && !errors.Is(tagErr, ErrObjectNotFound) {
				t.Fatal(tagErr)
			}
			if _, err := e.HeadObject(ctx, "bkt", "k", nil); !errors.Is(err, ErrObjectNotFound) {
				t.Fatalf("round %d: deleted object is back after a racing tagging: %v", i, err)
			}
			continue
		}
		wg.Go(func() {
			if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(cur), &PutOptions{Size: int64(len(cur))}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if tagErr != nil {
			t.Fatal(tagErr)
		}
		got, err := get(t, e, "bkt", "k", nil)
		if err != nil || !bytes.Equal(got, cur) {
			t.Fatalf("round %d: a racing tagging brought back the overwritten content (err %v)", i, err)
		}
	}
}

// stripField returns an encoded index record without the fields numbered
// tag: what a writer that did not know the field would have stored.
func stripField(t *testing.T, rec []byte, tag uint64) []byte {
	t.Helper()
	out := []byte{rec[0]}
	for b := rec[1:]; len(b) > 0; {
		f, n := binary.Uvarint(b)
		l, m := binary.Uvarint(b[n:])
		if n <= 0 || m <= 0 || int(l) > len(b)-n-m {
			t.Fatal("bad record")
		}
		end := n + m + int(l)
		if f != tag {
			out = append(out, b[:end]...)
		}
		b = b[end:]
	}
	return out
}

// TestTagsOldRecord reads an object record written before tags existed:
// it has no tags, its content reads back, and it can be tagged.
func TestTagsOldRecord(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	for _, size := range []int{10, 200 << 10} {
		key := fmt.Sprintf("old-%d", size)
		data := payload(uint64(size), size)
		putTagged(t, e, key, data, []Tag{{"a", "1"}})
		okey := index.ObjectKey("bkt", key)
		v, err := e.idx.Get(okey)
		if err != nil {
			t.Fatal(err)
		}
		old := stripField(t, v, 20)
		if len(old) >= len(v) {
			t.Fatal("the record has no field 20 to strip")
		}
		if err := e.idx.Update(func(tx *index.Txn) error { tx.Set(okey, old); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := mustTags(t, e, key); got != nil {
			t.Fatalf("%s: old record has tags %v", key, got)
		}
		if got, err := get(t, e, "bkt", key, nil); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: old record content: %v", key, err)
		}
		if err := e.PutObjectTagging(ctx, "bkt", key, []Tag{{"b", "2"}}); err != nil {
			t.Fatal(err)
		}
		if got := mustTags(t, e, key); !slices.Equal(got, []Tag{{"b", "2"}}) {
			t.Fatalf("%s: tags after tagging an old record: %v", key, got)
		}
	}
}

func TestTagsSurviveReopen(t *testing.T) {
	o := &Options{Drives: drives(t, 3), BlockSize: 64 << 10}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	putTagged(t, e, "small", []byte("small"), []Tag{{"a", "1"}})
	putTagged(t, e, "large", payload(1, 300<<10), []Tag{{"b", "2"}})
	if err := e.PutObjectTagging(ctx, "bkt", "large", []Tag{{"c", "3"}, {"b", "4"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open(t, o)
	defer e.Close()
	for key, want := range map[string][]Tag{"small": {{"a", "1"}}, "large": {{"b", "4"}, {"c", "3"}}} {
		if got := mustTags(t, e, key); !slices.Equal(got, want) {
			t.Errorf("%s after reopen: tags %v, want %v", key, got, want)
		}
	}
}
