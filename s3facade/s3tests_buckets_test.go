package s3facade

// Ports of ceph/s3-tests (s3tests_boto3/functional/test_s3.py) for
// listing, buckets, DeleteObjects and multipart uploads. Each test names
// the s3-tests functions it ports.
//
// Skipped, and why:
//   - test_bucket_list_unordered, test_bucket_listv2_unordered,
//     test_account_usage, test_head_bucket_usage: rgw extensions
//     (fails_on_aws).
//   - test_bucket_list_return_data_versioning and other versioning
//     tests: Coffer keeps only the null version.
//   - test_bucket_list_objects_anonymous, test_bucket_listv2_objects_anonymous:
//     need public-read ACLs; Coffer refuses anonymous requests (the
//     *_anonymous_fail variants are ported in TestS3TestsBuckets).
//   - test_bucket_concurrent_set_canned_acl, test_bucket_recreate_overwrite_acl,
//     test_bucket_recreate_new_acl: ACLs are disabled.
//   - test_list_multipart_upload_owner: Coffer reports the bucket owner as
//     Owner (TestOwnershipGrants) but the requester as Initiator of every
//     upload (the engine does not record who initiated an upload).
//   - test_multipart_resend_first_finishes_last: needs two part uploads
//     interleaved mid-body; TestMultipartConcurrency covers racing parts.
//   - test_multipart_copy_versioned, test_object_copy_versioning_multipart_upload:
//     versioning.
//
// Where Coffer answers differently from s3-tests, and why:
//   - test_multipart_upload_small, test_multipart_upload: a second
//     CompleteMultipartUpload of a completed upload is 404 NoSuchUpload
//     (S3 documents that answer; it often replays the first result).
//   - test_multipart_copy_invalid_range: see TestS3TestsMultipartCopy.

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cofferdb/coffer/engine"
)

// bkObjects creates bucket and puts each key with its name as content,
// as s3-tests' _create_objects does.
func bkObjects(t *testing.T, c *s3.Client, bucket string, keys ...string) {
	t.Helper()
	newBucket(t, c, bucket)
	for _, k := range keys {
		put(t, c, bucket, k, []byte(k))
	}
}

func bkKeys(objs []types.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, aws.ToString(o.Key))
	}
	return out
}

func bkPrefixes(cps []types.CommonPrefix) []string {
	out := []string{}
	for _, p := range cps {
		out = append(out, aws.ToString(p.Prefix))
	}
	return out
}

func bkWant(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// listCase holds the optional parameters of one listing (marker is
// start-after in v2); nil ones are not sent.
type listCase struct {
	prefix, delim, marker *string
	maxKeys               *int32
}

func (ts *testServer) bkListV1(t *testing.T, bucket string, lc listCase) *s3.ListObjectsOutput {
	t.Helper()
	out, err := ts.awsClient().ListObjects(context.Background(), &s3.ListObjectsInput{Bucket: aws.String(bucket),
		Prefix: lc.prefix, Delimiter: lc.delim, Marker: lc.marker, MaxKeys: lc.maxKeys})
	if err != nil {
		t.Fatalf("ListObjects %+v: %v", lc, err)
	}
	return out
}

func (ts *testServer) bkListV2(t *testing.T, bucket string, lc listCase, token *string) *s3.ListObjectsV2Output {
	t.Helper()
	out, err := ts.awsClient().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket),
		Prefix: lc.prefix, Delimiter: lc.delim, StartAfter: lc.marker, MaxKeys: lc.maxKeys, ContinuationToken: token})
	if err != nil {
		t.Fatalf("ListObjectsV2 %+v: %v", lc, err)
	}
	return out
}

// TestS3TestsListDelimiters ports test_bucket_list{,v2}_delimiter_basic,
// _alt, _percentage, _whitespace, _dot, _unreadable, _empty, _none,
// _not_exist, test_bucket_list{,v2}_prefix_* (basic, alt, empty, none,
// not_exist, unreadable, delimiter_basic, delimiter_alt,
// delimiter_prefix_not_exist, delimiter_delimiter_not_exist,
// delimiter_prefix_delimiter_not_exist) and test_basic_key_count.
func TestS3TestsListDelimiters(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	s := aws.String
	cases := []struct {
		name            string
		keys            []string
		prefix, delim   *string
		wantKeys, wantP []string
	}{
		{"delimiter_basic", []string{"foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"}, nil, s("/"), []string{"asdf"}, []string{"foo/", "quux/"}},
		{"delimiter_alt", []string{"bar", "baz", "cab", "foo"}, nil, s("a"), []string{"foo"}, []string{"ba", "ca"}},
		{"delimiter_percentage", []string{"b%ar", "b%az", "c%ab", "foo"}, nil, s("%"), []string{"foo"}, []string{"b%", "c%"}},
		{"delimiter_whitespace", []string{"b ar", "b az", "c ab", "foo"}, nil, s(" "), []string{"foo"}, []string{"b ", "c "}},
		{"delimiter_dot", []string{"b.ar", "b.az", "c.ab", "foo"}, nil, s("."), []string{"foo"}, []string{"b.", "c."}},
		{"delimiter_unreadable", []string{"bar", "baz", "cab", "foo"}, nil, s("\n"), []string{"bar", "baz", "cab", "foo"}, []string{}},
		{"delimiter_empty", []string{"bar", "baz", "cab", "foo"}, nil, s(""), []string{"bar", "baz", "cab", "foo"}, []string{}},
		{"delimiter_none", []string{"bar", "baz", "cab", "foo"}, nil, nil, []string{"bar", "baz", "cab", "foo"}, []string{}},
		{"delimiter_not_exist", []string{"bar", "baz", "cab", "foo"}, nil, s("/"), []string{"bar", "baz", "cab", "foo"}, []string{}},
		{"prefix_basic", []string{"foo/bar", "foo/baz", "quux"}, s("foo/"), nil, []string{"foo/bar", "foo/baz"}, []string{}},
		{"prefix_alt", []string{"bar", "baz", "foo"}, s("ba"), nil, []string{"bar", "baz"}, []string{}},
		{"prefix_empty", []string{"foo/bar", "foo/baz", "quux"}, s(""), nil, []string{"foo/bar", "foo/baz", "quux"}, []string{}},
		{"prefix_not_exist", []string{"foo/bar", "foo/baz", "quux"}, s("d"), nil, []string{}, []string{}},
		{"prefix_unreadable", []string{"foo/bar", "foo/baz", "quux"}, s("\n"), nil, []string{}, []string{}},
		{"prefix_delimiter_basic", []string{"foo/bar", "foo/baz/xyzzy", "quux/thud", "asdf"}, s("foo/"), s("/"), []string{"foo/bar"}, []string{"foo/baz/"}},
		{"prefix_delimiter_alt", []string{"bar", "bazar", "cab", "foo"}, s("ba"), s("a"), []string{"bar"}, []string{"baza"}},
		{"prefix_delimiter_prefix_not_exist", []string{"b/a/r", "b/a/c", "b/a/g", "g"}, s("/"), s("d"), []string{}, []string{}},
		{"prefix_delimiter_delimiter_not_exist", []string{"b/a/c", "b/a/g", "b/a/r", "g"}, s("b"), s("z"), []string{"b/a/c", "b/a/g", "b/a/r"}, []string{}},
		{"prefix_delimiter_prefix_delimiter_not_exist", []string{"b/a/c", "b/a/g", "b/a/r", "g"}, s("y"), s("z"), []string{}, []string{}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bucket := fmt.Sprintf("delim-%d", i)
			bkObjects(t, c, bucket, tc.keys...)
			lc := listCase{prefix: tc.prefix, delim: tc.delim}
			v1 := ts.bkListV1(t, bucket, lc)
			bkWant(t, "v1 keys", bkKeys(v1.Contents), tc.wantKeys)
			bkWant(t, "v1 prefixes", bkPrefixes(v1.CommonPrefixes), tc.wantP)
			v2 := ts.bkListV2(t, bucket, lc, nil)
			bkWant(t, "v2 keys", bkKeys(v2.Contents), tc.wantKeys)
			bkWant(t, "v2 prefixes", bkPrefixes(v2.CommonPrefixes), tc.wantP)
			if got, want := aws.ToInt32(v2.KeyCount), int32(len(tc.wantKeys)+len(tc.wantP)); got != want {
				t.Fatalf("KeyCount %d, want %d", got, want)
			}
			// The response echoes a non-empty delimiter and omits an
			// empty or absent one; it always echoes the prefix sent.
			wantDelim := aws.ToString(tc.delim)
			if aws.ToString(v1.Delimiter) != wantDelim || aws.ToString(v2.Delimiter) != wantDelim {
				t.Fatalf("Delimiter echoed %q / %q, want %q", aws.ToString(v1.Delimiter), aws.ToString(v2.Delimiter), wantDelim)
			}
			if wantDelim == "" && (v1.Delimiter != nil || v2.Delimiter != nil) {
				t.Fatalf("empty delimiter echoed")
			}
			if tc.prefix != nil && (aws.ToString(v1.Prefix) != *tc.prefix || aws.ToString(v2.Prefix) != *tc.prefix) {
				t.Fatalf("Prefix echoed %q / %q, want %q", aws.ToString(v1.Prefix), aws.ToString(v2.Prefix), *tc.prefix)
			}
		})
	}
}

// TestS3TestsListPaging ports test_bucket_list{,v2}_many,
// _delimiter_prefix, _delimiter_prefix_underscore,
// _delimiter_prefix_ends_with_delimiter, _maxkeys_one, _maxkeys_zero,
// _maxkeys_none, test_bucket_list_marker_{none,empty,unreadable,
// not_in_list,after_list}, test_bucket_listv2_startafter_{unreadable,
// not_in_list,after_list}, test_bucket_listv2_continuationtoken{,_empty}
// and test_bucket_listv2_both_continuationtoken_startafter.
func TestS3TestsListPaging(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	s, n := aws.String, aws.Int32

	t.Run("many", func(t *testing.T) {
		bkObjects(t, c, "many", "foo", "bar", "baz")
		v1 := ts.bkListV1(t, "many", listCase{maxKeys: n(2)})
		bkWant(t, "v1 page 1", bkKeys(v1.Contents), []string{"bar", "baz"})
		if !aws.ToBool(v1.IsTruncated) {
			t.Fatal("v1 page 1 not truncated")
		}
		v1 = ts.bkListV1(t, "many", listCase{maxKeys: n(2), marker: s("baz")})
		bkWant(t, "v1 page 2", bkKeys(v1.Contents), []string{"foo"})
		if aws.ToBool(v1.IsTruncated) {
			t.Fatal("v1 page 2 truncated")
		}
		v2 := ts.bkListV2(t, "many", listCase{maxKeys: n(2)}, nil)
		bkWant(t, "v2 page 1", bkKeys(v2.Contents), []string{"bar", "baz"})
		if !aws.ToBool(v2.IsTruncated) {
			t.Fatal("v2 page 1 not truncated")
		}
		v2 = ts.bkListV2(t, "many", listCase{maxKeys: n(2), marker: s("baz")}, nil)
		bkWant(t, "v2 page 2", bkKeys(v2.Contents), []string{"foo"})
		if aws.ToBool(v2.IsTruncated) {
			t.Fatal("v2 page 2 truncated")
		}
	})

	// validate_bucket_list: v1 pages with NextMarker, which S3 returns
	// only with a delimiter.
	type page struct {
		max       int32
		truncated bool
		keys, cps []string
		next      string
	}
	walkV1 := func(t *testing.T, bucket, prefix string, pages []page) {
		t.Helper()
		marker := ""
		for i, p := range pages {
			out := ts.bkListV1(t, bucket, listCase{prefix: s(prefix), delim: s("/"), marker: s(marker), maxKeys: n(p.max)})
			if aws.ToBool(out.IsTruncated) != p.truncated || aws.ToString(out.NextMarker) != p.next {
				t.Fatalf("v1 prefix %q page %d: truncated %v next %q, want %v %q", prefix, i, aws.ToBool(out.IsTruncated), aws.ToString(out.NextMarker), p.truncated, p.next)
			}
			bkWant(t, fmt.Sprintf("v1 page %d keys", i), bkKeys(out.Contents), p.keys)
			bkWant(t, fmt.Sprintf("v1 page %d prefixes", i), bkPrefixes(out.CommonPrefixes), p.cps)
			marker = aws.ToString(out.NextMarker)
		}
	}
	walkV2 := func(t *testing.T, bucket, prefix string, pages []page) {
		t.Helper()
		var token *string
		for i, p := range pages {
			lc := listCase{prefix: s(prefix), delim: s("/"), maxKeys: n(p.max)}
			if token == nil {
				lc.marker = s("")
			}
			out := ts.bkListV2(t, bucket, lc, token)
			if aws.ToBool(out.IsTruncated) != p.truncated || (out.NextContinuationToken != nil) != p.truncated {
				t.Fatalf("v2 prefix %q page %d: truncated %v next %v, want %v", prefix, i, aws.ToBool(out.IsTruncated), out.NextContinuationToken, p.truncated)
			}
			bkWant(t, fmt.Sprintf("v2 page %d keys", i), bkKeys(out.Contents), p.keys)
			bkWant(t, fmt.Sprintf("v2 page %d prefixes", i), bkPrefixes(out.CommonPrefixes), p.cps)
			token = out.NextContinuationToken
		}
	}
	for _, tc := range []struct{ name, a, b, c string }{
		{"delimiter_prefix", "asdf", "boo", "cquux"},
		{"delimiter_prefix_underscore", "_obj1_", "_under1", "_under2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := strings.ReplaceAll(tc.name, "_", "-")
			bkObjects(t, c, bucket, tc.a, tc.b+"/bar", tc.b+"/baz/xyzzy", tc.c+"/thud", tc.c+"/bla")
			one := []page{{1, true, []string{tc.a}, []string{}, tc.a}, {1, true, []string{}, []string{tc.b + "/"}, tc.b + "/"}, {1, false, []string{}, []string{tc.c + "/"}, ""}}
			two := []page{{2, true, []string{tc.a}, []string{tc.b + "/"}, tc.b + "/"}, {2, false, []string{}, []string{tc.c + "/"}, ""}}
			sub1 := []page{{1, true, []string{tc.b + "/bar"}, []string{}, tc.b + "/bar"}, {1, false, []string{}, []string{tc.b + "/baz/"}, ""}}
			sub2 := []page{{2, false, []string{tc.b + "/bar"}, []string{tc.b + "/baz/"}, ""}}
			for _, w := range []func(*testing.T, string, string, []page){walkV1, walkV2} {
				w(t, bucket, "", one)
				w(t, bucket, "", two)
				w(t, bucket, tc.b+"/", sub1)
				w(t, bucket, tc.b+"/", sub2)
			}
		})
	}
	t.Run("delimiter_prefix_ends_with_delimiter", func(t *testing.T) {
		bkObjects(t, c, "ends-with-delim", "asdf/")
		walkV1(t, "ends-with-delim", "asdf/", []page{{1000, false, []string{"asdf/"}, []string{}, ""}})
		walkV2(t, "ends-with-delim", "asdf/", []page{{1000, false, []string{"asdf/"}, []string{}, ""}})
	})

	four := []string{"bar", "baz", "foo", "quxx"}
	bkObjects(t, c, "four", four...)
	t.Run("maxkeys", func(t *testing.T) {
		v1 := ts.bkListV1(t, "four", listCase{maxKeys: n(1)})
		bkWant(t, "v1 max 1", bkKeys(v1.Contents), four[:1])
		if !aws.ToBool(v1.IsTruncated) {
			t.Fatal("v1 max 1 not truncated")
		}
		v1 = ts.bkListV1(t, "four", listCase{marker: s("bar")})
		bkWant(t, "v1 after bar", bkKeys(v1.Contents), four[1:])
		v2 := ts.bkListV2(t, "four", listCase{maxKeys: n(1)}, nil)
		bkWant(t, "v2 max 1", bkKeys(v2.Contents), four[:1])
		if !aws.ToBool(v2.IsTruncated) {
			t.Fatal("v2 max 1 not truncated")
		}
		v2 = ts.bkListV2(t, "four", listCase{marker: s("bar")}, nil)
		bkWant(t, "v2 after bar", bkKeys(v2.Contents), four[1:])

		// max-keys=0: nothing, and not truncated (s3-tests' expectation).
		v1 = ts.bkListV1(t, "four", listCase{maxKeys: n(0)})
		v2 = ts.bkListV2(t, "four", listCase{maxKeys: n(0)}, nil)
		if len(v1.Contents)+len(v2.Contents) != 0 || aws.ToBool(v1.IsTruncated) || aws.ToBool(v2.IsTruncated) {
			t.Fatalf("max-keys 0: %d/%d keys, truncated %v/%v", len(v1.Contents), len(v2.Contents), aws.ToBool(v1.IsTruncated), aws.ToBool(v2.IsTruncated))
		}
		v1 = ts.bkListV1(t, "four", listCase{})
		v2 = ts.bkListV2(t, "four", listCase{}, nil)
		if aws.ToInt32(v1.MaxKeys) != 1000 || aws.ToInt32(v2.MaxKeys) != 1000 || aws.ToBool(v1.IsTruncated) || aws.ToBool(v2.IsTruncated) {
			t.Fatalf("default MaxKeys %d/%d", aws.ToInt32(v1.MaxKeys), aws.ToInt32(v2.MaxKeys))
		}
		bkWant(t, "v1 all", bkKeys(v1.Contents), four)
		bkWant(t, "v2 all", bkKeys(v2.Contents), four)
	})
	t.Run("markers", func(t *testing.T) {
		for _, tc := range []struct {
			marker string
			want   []string
		}{{"", four}, {"\n", four}, {"blah", []string{"foo", "quxx"}}, {"zzz", []string{}}} {
			v1 := ts.bkListV1(t, "four", listCase{marker: s(tc.marker)})
			if v1.Marker == nil || *v1.Marker != tc.marker || aws.ToBool(v1.IsTruncated) {
				t.Fatalf("marker %q: echoed %v, truncated %v", tc.marker, v1.Marker, aws.ToBool(v1.IsTruncated))
			}
			bkWant(t, fmt.Sprintf("v1 marker %q", tc.marker), bkKeys(v1.Contents), tc.want)
			if tc.marker == "" {
				continue
			}
			v2 := ts.bkListV2(t, "four", listCase{marker: s(tc.marker)}, nil)
			if aws.ToString(v2.StartAfter) != tc.marker || aws.ToBool(v2.IsTruncated) {
				t.Fatalf("start-after %q: echoed %q, truncated %v", tc.marker, aws.ToString(v2.StartAfter), aws.ToBool(v2.IsTruncated))
			}
			bkWant(t, fmt.Sprintf("v2 start-after %q", tc.marker), bkKeys(v2.Contents), tc.want)
		}
		// test_bucket_list_marker_none: Marker is echoed even when not sent.
		if v1 := ts.bkListV1(t, "four", listCase{}); v1.Marker == nil || *v1.Marker != "" {
			t.Fatalf("marker none: echoed %v", v1.Marker)
		}
	})
	t.Run("continuationtoken", func(t *testing.T) {
		v2 := ts.bkListV2(t, "four", listCase{}, s(""))
		if v2.ContinuationToken == nil || *v2.ContinuationToken != "" || aws.ToBool(v2.IsTruncated) {
			t.Fatalf("empty token: echoed %v, truncated %v", v2.ContinuationToken, aws.ToBool(v2.IsTruncated))
		}
		bkWant(t, "empty token", bkKeys(v2.Contents), four)

		first := ts.bkListV2(t, "four", listCase{maxKeys: n(1)}, nil)
		tok := aws.ToString(first.NextContinuationToken)
		v2 = ts.bkListV2(t, "four", listCase{}, s(tok))
		if aws.ToString(v2.ContinuationToken) != tok || aws.ToBool(v2.IsTruncated) {
			t.Fatalf("token: echoed %q want %q, truncated %v", aws.ToString(v2.ContinuationToken), tok, aws.ToBool(v2.IsTruncated))
		}
		bkWant(t, "after token", bkKeys(v2.Contents), four[1:])

		first = ts.bkListV2(t, "four", listCase{marker: s("bar"), maxKeys: n(1)}, nil)
		tok = aws.ToString(first.NextContinuationToken)
		v2 = ts.bkListV2(t, "four", listCase{marker: s("bar")}, s(tok))
		if aws.ToString(v2.ContinuationToken) != tok || aws.ToString(v2.StartAfter) != "bar" || aws.ToBool(v2.IsTruncated) {
			t.Fatalf("token+start-after: echoed %q %q, truncated %v", aws.ToString(v2.ContinuationToken), aws.ToString(v2.StartAfter), aws.ToBool(v2.IsTruncated))
		}
		bkWant(t, "token+start-after", bkKeys(v2.Contents), []string{"foo", "quxx"})
	})
}

// TestS3TestsListEncodingAndOwner ports test_bucket_list{,v2}_encoding_basic,
// test_bucket_list_maxkeys_invalid, test_bucket_listv2_fetchowner_{notempty,
// defaultempty,empty}, test_bucket_list_return_data,
// test_bucket_list_special_prefix and test_bucket_create_special_key_names.
func TestS3TestsListEncodingAndOwner(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String

	t.Run("encoding_basic", func(t *testing.T) {
		bkObjects(t, c, "enc", "foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b")
		wantKeys, wantP := []string{"asdf%2Bb"}, []string{"foo%2B1/", "foo/", "quux%20ab/"}
		v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: s("enc"), Delimiter: s("/"), EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		bkWant(t, "v1 keys", bkKeys(v1.Contents), wantKeys)
		bkWant(t, "v1 prefixes", bkPrefixes(v1.CommonPrefixes), wantP)
		v2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: s("enc"), Delimiter: s("/"), EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		bkWant(t, "v2 keys", bkKeys(v2.Contents), wantKeys)
		bkWant(t, "v2 prefixes", bkPrefixes(v2.CommonPrefixes), wantP)
		if aws.ToString(v1.Delimiter) != "/" || aws.ToString(v2.Delimiter) != "/" || v1.EncodingType != types.EncodingTypeUrl || v2.EncodingType != types.EncodingTypeUrl {
			t.Fatalf("echo: delimiter %q/%q encoding %q/%q", aws.ToString(v1.Delimiter), aws.ToString(v2.Delimiter), v1.EncodingType, v2.EncodingType)
		}
	})

	bkObjects(t, c, "owner", "foo/bar", "foo/baz", "quux")
	t.Run("maxkeys_invalid", func(t *testing.T) {
		for _, v := range []string{"blah", "-1"} {
			st, body := ts.rawSend(t, "GET", "/owner", map[string][]string{"max-keys": {v}}, nil, nil)
			if st != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
				t.Fatalf("max-keys=%s: %d %s", v, st, body)
			}
		}
	})
	t.Run("fetchowner", func(t *testing.T) {
		for _, fo := range []*bool{nil, aws.Bool(false), aws.Bool(true)} {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: s("owner"), FetchOwner: fo})
			if err != nil {
				t.Fatal(err)
			}
			want := aws.ToBool(fo)
			if got := out.Contents[0].Owner != nil; got != want {
				t.Fatalf("FetchOwner %v: owner present %v", aws.ToBool(fo), got)
			}
			if want && (aws.ToString(out.Contents[0].Owner.ID) == "" || out.Contents[0].Owner.DisplayName == nil) {
				t.Fatalf("owner %+v", *out.Contents[0].Owner)
			}
		}
	})
	t.Run("return_data", func(t *testing.T) {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: s("owner")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: s("owner"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			acl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: s("owner"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(o.ETag) != aws.ToString(h.ETag) || aws.ToInt64(o.Size) != aws.ToInt64(h.ContentLength) ||
				!aws.ToTime(o.LastModified).Truncate(1e9).Equal(aws.ToTime(h.LastModified)) {
				t.Fatalf("%s: listed %s %d %v, head %s %d %v", aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToInt64(o.Size),
					aws.ToTime(o.LastModified), aws.ToString(h.ETag), aws.ToInt64(h.ContentLength), aws.ToTime(h.LastModified))
			}
			if o.Owner == nil || aws.ToString(o.Owner.ID) != aws.ToString(acl.Owner.ID) || aws.ToString(o.Owner.DisplayName) != aws.ToString(acl.Owner.DisplayName) {
				t.Fatalf("%s: listed owner %+v, ACL owner %+v", aws.ToString(o.Key), o.Owner, acl.Owner)
			}
		}
	})
	t.Run("special_names", func(t *testing.T) {
		names := []string{" ", "\"", "$", "%", "&", "'", "<", ">", "_", "_ ", "_ _", "__"}
		bkObjects(t, c, "special", names...)
		bkWant(t, "listed", bkKeys(ts.bkListV1(t, "special", listCase{}).Contents), names)
		for _, n := range names {
			if got, _ := mustGet(t, c, "special", n); string(got) != n {
				t.Fatalf("%q: body %q", n, got)
			}
		}
		bkObjects(t, c, "special-prefix", "_bla/1", "_bla/2", "_bla/3", "_bla/4", "abcd")
		if n := len(ts.bkListV1(t, "special-prefix", listCase{prefix: s("_bla/")}).Contents); n != 4 {
			t.Fatalf("prefix _bla/: %d keys", n)
		}
	})
}

// TestS3TestsBuckets ports test_bucket_notexist, test_bucketv2_notexist,
// test_bucket_delete_notexist, test_bucket_delete_nonempty,
// test_bucket_create_delete, test_bucket_head, test_bucket_head_notexist,
// test_bucket_create_naming_* (bad_short_one, bad_short_two,
// bad_starts_nonalpha, bad_ip, good_long_60..63, dns_long, dns_underscore,
// dns_dash_at_end, dns_dot_dot, dns_dot_dash, dns_dash_dot,
// good_starts_alpha, good_starts_digit, good_contains_period,
// good_contains_hyphen), test_bucket_list_long_name,
// test_bucket_create_exists, test_bucket_recreate_not_overriding,
// test_buckets_create_then_list, test_buckets_list_ctime and
// test_bucket_list{,v2}_objects_anonymous_fail.
func TestS3TestsBuckets(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String

	t.Run("notexist", func(t *testing.T) {
		_, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: s("nope")})
		wantErr(t, "ListObjects", err, "NoSuchBucket", 404)
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: s("nope")})
		wantErr(t, "ListObjectsV2", err, "NoSuchBucket", 404)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: s("nope")})
		wantErr(t, "DeleteBucket", err, "NoSuchBucket", 404)
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: s("nope")})
		if httpStatus(err) != 404 {
			t.Fatalf("HeadBucket: %v", err)
		}
	})
	t.Run("anonymous_fail", func(t *testing.T) {
		newBucket(t, c, "private")
		for _, q := range []url.Values{nil, {"list-type": {"2"}}} {
			st, code := ts.send(t, ts.build(t, rawReq{method: "GET", path: "/private", query: q, kind: authAnonymous}))
			if st != 403 || code != "AccessDenied" {
				t.Fatalf("anonymous list %v: %d %s", q, st, code)
			}
		}
	})
	t.Run("delete", func(t *testing.T) {
		bkObjects(t, c, "full", "foo")
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: s("full")})
		wantErr(t, "delete non-empty", err, "BucketNotEmpty", 409)
		newBucket(t, c, "gone")
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: s("gone")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: s("gone")}); err != nil {
			t.Fatal(err)
		}
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: s("gone")})
		wantErr(t, "delete twice", err, "NoSuchBucket", 404)
	})
	t.Run("naming", func(t *testing.T) {
		for _, name := range []string{"a", "aa", "_bucket", "192.168.5.123", "foo_bar", "foo-", "foo..bar", "foo.-bar", "foo-.bar",
			strings.Repeat("a", 64), "Foo", "-foo", ".foo"} {
			st, body := ts.rawSend(t, "PUT", "/"+name, nil, nil, nil)
			if st != 400 || !strings.Contains(body, "<Code>InvalidBucketName</Code>") {
				t.Fatalf("%q: %d %s", name, st, body)
			}
		}
		for _, name := range []string{"prefix-" + strings.Repeat("a", 53), "prefix-" + strings.Repeat("b", 54), "prefix-" + strings.Repeat("c", 55),
			"prefix-" + strings.Repeat("d", 56), "afoo", "0foo", "aaa.111", "aaa-111"} {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: s(name)}); err != nil {
				t.Fatalf("%q (%d bytes): %v", name, len(name), err)
			}
			if out := ts.bkListV1(t, name, listCase{}); len(out.Contents) != 0 {
				t.Fatalf("%q: not empty", name)
			}
		}
	})
	t.Run("exists", func(t *testing.T) {
		bkObjects(t, c, "again", "mykey1", "mykey2")
		// S3 answers 200 in us-east-1 (test_bucket_recreate_not_overriding)
		// and BucketAlreadyOwnedByYou elsewhere; either way the bucket and
		// its objects are untouched.
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: s("again")}); err != nil {
			t.Fatalf("re-create in us-east-1: %v", err)
		}
		bkWant(t, "after re-create", bkKeys(ts.bkListV1(t, "again", listCase{}).Contents), []string{"mykey1", "mykey2"})
		eu := startServer(t, func(c *Config, _ *engine.Options) { c.Region = "eu-west-1" })
		ec := eu.awsClient(func(o *s3.Options) { o.Region = "eu-west-1" })
		cfg := &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}
		if _, err := ec.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: s("again"), CreateBucketConfiguration: cfg}); err != nil {
			t.Fatal(err)
		}
		_, err := ec.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: s("again"), CreateBucketConfiguration: cfg})
		wantErr(t, "re-create in eu-west-1", err, "BucketAlreadyOwnedByYou", 409)
	})
	t.Run("list_buckets", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		var names []string
		for i := range 5 {
			names = append(names, fmt.Sprintf("listed-%d", i))
			newBucket(t, c, names[i])
		}
		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range out.Buckets {
			got = append(got, aws.ToString(b.Name))
			if ct := aws.ToTime(b.CreationDate); ct.Before(before) || ct.After(time.Now().Add(time.Minute)) {
				t.Fatalf("%s: CreationDate %v", aws.ToString(b.Name), ct)
			}
		}
		for _, n := range names {
			if !slices.Contains(got, n) {
				t.Fatalf("ListBuckets %v lacks %s", got, n)
			}
		}
		if !slices.IsSorted(got) {
			t.Fatalf("ListBuckets not sorted: %v", got)
		}
	})
}

// bkPutMany puts each key, with its name as content, eight at a time.
// Its client's idle connections are closed when it is done: under
// concurrency net/http dials connections that may never carry a request,
// and the server's Shutdown waits (5 s, as net/http's) before it counts
// such a connection as idle.
func (ts *testServer) bkPutMany(t *testing.T, bucket string, keys []string) {
	t.Helper()
	hc := ts.httpClient()
	defer hc.CloseIdleConnections()
	c := ts.awsClient(func(o *s3.Options) { o.HTTPClient = hc })
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)}
			if _, err := c.PutObject(context.Background(), in); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestS3TestsListNotSkipSpecial ports
// test_bucket_list_delimiter_not_skip_special: a thousand keys under one
// common prefix do not hide the keys after it.
func TestS3TestsListNotSkipSpecial(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "special")
	keys := []string{"0/"}
	for i := 1000; i < 1999; i++ {
		keys = append(keys, fmt.Sprintf("0/%d", i))
	}
	tail := []string{"1999", "1999#", "1999+", "2000"}
	ts.bkPutMany(t, "special", append(keys, tail...))
	v1 := ts.bkListV1(t, "special", listCase{delim: aws.String("/")})
	bkWant(t, "v1 keys", bkKeys(v1.Contents), tail)
	bkWant(t, "v1 prefixes", bkPrefixes(v1.CommonPrefixes), []string{"0/"})
	v2 := ts.bkListV2(t, "special", listCase{delim: aws.String("/")}, nil)
	bkWant(t, "v2 keys", bkKeys(v2.Contents), tail)
	bkWant(t, "v2 prefixes", bkPrefixes(v2.CommonPrefixes), []string{"0/"})
}

// TestS3TestsDeleteObjects ports test_multi_object_delete,
// test_multi_objectv2_delete, test_multi_object_delete_key_limit and
// test_multi_objectv2_delete_key_limit (the refusal).
func TestS3TestsDeleteObjects(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String

	keys := []string{"key0", "key1", "key2"}
	bkObjects(t, c, "multi", keys...)
	var ids []types.ObjectIdentifier
	for _, k := range keys {
		ids = append(ids, types.ObjectIdentifier{Key: s(k)})
	}
	// Deleting again reports the keys deleted again, as S3 does.
	for round := range 2 {
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: s("multi"), Delete: &types.Delete{Objects: ids}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Deleted) != 3 || len(out.Errors) != 0 {
			t.Fatalf("round %d: deleted %d, errors %v", round, len(out.Deleted), out.Errors)
		}
		if l := ts.bkListV2(t, "multi", listCase{}, nil); len(l.Contents) != 0 {
			t.Fatalf("round %d: %d keys left", round, len(l.Contents))
		}
	}

	// A DeleteObjects naming 1001 keys is refused with 400 and deletes
	// nothing. (s3-tests also lists the 1001 keys first; listings past
	// 1000 keys are TestS3TestsListNotSkipSpecial's and
	// TestListingThousandsOfKeys'.)
	newBucket(t, c, "limit")
	ids = ids[:0]
	for i := range 1001 {
		ids = append(ids, types.ObjectIdentifier{Key: s(fmt.Sprintf("key-%d", i))})
	}
	ts.bkPutMany(t, "limit", []string{"key-0", "key-1000"})
	_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: s("limit"), Delete: &types.Delete{Objects: ids}})
	wantErr(t, "1001 keys", err, "MalformedXML", 400)
	if l := ts.bkListV2(t, "limit", listCase{}, nil); len(l.Contents) != 2 {
		t.Fatal("the refused DeleteObjects deleted")
	}
}

// bkMultipart uploads data in parts of partSize (as s3-tests'
// _multipart_upload) and returns the upload id and the completed parts;
// resend uploads the listed part indexes a second time.
func bkMultipart(t *testing.T, c *s3.Client, bucket, key string, data []byte, partSize int, resend ...int) (string, []types.CompletedPart) {
	t.Helper()
	id := newUpload(t, c, bucket, key, func(in *s3.CreateMultipartUploadInput) {
		in.ContentType, in.Metadata = aws.String("text/bla"), map[string]string{"foo": "bar"}
	})
	var parts []types.CompletedPart
	for i, p := range split(data, partSize) {
		etag := uploadPart(t, c, bucket, key, id, i+1, p)
		if slices.Contains(resend, i) {
			etag = uploadPart(t, c, bucket, key, id, i+1, p)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(strings.Trim(etag, `"`))})
	}
	return id, parts
}

func bkComplete(c *s3.Client, bucket, key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

// bkCheckRanges reads key in step-sized ranges, as s3-tests'
// _check_content_using_range.
func bkCheckRanges(t *testing.T, c *s3.Client, bucket, key string, data []byte, step int) {
	t.Helper()
	for ofs := 0; ofs < len(data); ofs += step {
		end := min(ofs+step, len(data)) - 1
		got, out := mustGet(t, c, bucket, key, func(in *s3.GetObjectInput) { in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", ofs, end)) })
		if aws.ToInt64(out.ContentLength) != int64(end-ofs+1) || !bytes.Equal(got, data[ofs:end+1]) {
			t.Fatalf("range %d-%d: length %d, content equal %v", ofs, end, aws.ToInt64(out.ContentLength), bytes.Equal(got, data[ofs:end+1]))
		}
	}
}

// TestS3TestsMultipartUpload ports test_multipart_upload,
// test_multipart_upload_resend_part, test_multipart_upload_contents,
// test_multipart_upload_multiple_sizes, test_multipart_upload_empty,
// test_multipart_upload_small, test_multipart_upload_size_too_small,
// test_multipart_upload_overwrite_existing_object,
// test_multipart_upload_missing_part, test_multipart_upload_incorrect_etag
// and test_atomic_multipart_upload_write, with smaller objects.
func TestS3TestsMultipartUpload(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String
	newBucket(t, c, "mpu")

	t.Run("upload_resend_contents", func(t *testing.T) {
		data := randBytes(11, 11*mib+123)
		id, parts := bkMultipart(t, c, "mpu", "mymultipart", data, 5*mib, 1, 2)
		if _, err := bkComplete(c, "mpu", "mymultipart", id, parts); err != nil {
			t.Fatal(err)
		}
		got, out := mustGet(t, c, "mpu", "mymultipart")
		if !bytes.Equal(got, data) || aws.ToString(out.ContentType) != "text/bla" || out.Metadata["foo"] != "bar" || aws.ToInt64(out.ContentLength) != int64(len(data)) {
			t.Fatalf("content equal %v, type %q, metadata %v", bytes.Equal(got, data), aws.ToString(out.ContentType), out.Metadata)
		}
		bkCheckRanges(t, c, "mpu", "mymultipart", data, 3000000)
	})
	t.Run("multiple_sizes", func(t *testing.T) {
		for _, n := range []int{5 * mib, 5*mib + 100<<10} {
			id, parts := bkMultipart(t, c, "mpu", "sizes", randBytes(uint64(n), n), 5*mib)
			if _, err := bkComplete(c, "mpu", "sizes", id, parts); err != nil {
				t.Fatalf("size %d: %v", n, err)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		id := newUpload(t, c, "mpu", "empty")
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: s("mpu"), Key: s("empty"), UploadId: s(id)})
		wantErr(t, "complete without parts", err, "MalformedXML", 400)
	})
	t.Run("small", func(t *testing.T) {
		id, parts := bkMultipart(t, c, "mpu", "small", []byte("x"), 5*mib)
		if _, err := bkComplete(c, "mpu", "small", id, parts); err != nil {
			t.Fatal(err)
		}
		if got, out := mustGet(t, c, "mpu", "small"); string(got) != "x" || aws.ToInt64(out.ContentLength) != 1 {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("size_too_small", func(t *testing.T) {
		id, parts := bkMultipart(t, c, "mpu", "too-small", randBytes(5, 100<<10), 10<<10)
		_, err := bkComplete(c, "mpu", "too-small", id, parts)
		wantErr(t, "10 KiB parts", err, "EntityTooSmall", 400)
	})
	t.Run("overwrite_existing_object", func(t *testing.T) {
		put(t, c, "mpu", "over", []byte("old"))
		data := randBytes(6, 5*mib+1)
		id, parts := bkMultipart(t, c, "mpu", "over", data, 5*mib)
		if got, _ := mustGet(t, c, "mpu", "over"); string(got) != "old" {
			t.Fatal("an unfinished upload changed the object")
		}
		if _, err := bkComplete(c, "mpu", "over", id, parts); err != nil {
			t.Fatal(err)
		}
		if got, _ := mustGet(t, c, "mpu", "over"); !bytes.Equal(got, data) {
			t.Fatal("not overwritten")
		}
	})
	t.Run("missing_part_incorrect_etag", func(t *testing.T) {
		id := newUpload(t, c, "mpu", "bad-parts")
		etag := uploadPart(t, c, "mpu", "bad-parts", id, 1, []byte{0})
		_, err := bkComplete(c, "mpu", "bad-parts", id, []types.CompletedPart{{PartNumber: aws.Int32(9999), ETag: s(etag)}})
		wantErr(t, "missing part", err, "InvalidPart", 400)
		_, err = bkComplete(c, "mpu", "bad-parts", id, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: s("ffffffffffffffffffffffffffffffff")}})
		wantErr(t, "incorrect etag", err, "InvalidPart", 400)
	})
	t.Run("atomic_write_abort", func(t *testing.T) {
		put(t, c, "mpu", "foo", []byte("bar"))
		id := newUpload(t, c, "mpu", "foo")
		if got, _ := mustGet(t, c, "mpu", "foo"); string(got) != "bar" {
			t.Fatalf("during upload: %q", got)
		}
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: s("mpu"), Key: s("foo"), UploadId: s(id)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := mustGet(t, c, "mpu", "foo"); string(got) != "bar" {
			t.Fatalf("after abort: %q", got)
		}
	})
}

// TestS3TestsMultipartAbortAndList ports test_abort_multipart_upload,
// test_abort_multipart_upload_not_found and test_list_multipart_upload.
func TestS3TestsMultipartAbortAndList(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String
	newBucket(t, c, "abt")

	listed := func() []string {
		t.Helper()
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: s("abt")})
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, u := range out.Uploads {
			ids = append(ids, aws.ToString(u.UploadId))
		}
		return ids
	}
	id, _ := bkMultipart(t, c, "abt", "mymultipart", randBytes(7, 6*mib), 5*mib)
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: s("abt"), Key: s("mymultipart"), UploadId: s(id)}); err != nil {
		t.Fatal(err)
	}
	if ids := listed(); len(ids) != 0 {
		t.Fatalf("after abort: uploads %v", ids)
	}
	_, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: s("abt"), Key: s("mymultipart"), UploadId: s(id)})
	wantErr(t, "ListParts after abort", err, "NoSuchUpload", 404)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: s("abt"), Key: s("mymultipart")})
	if httpStatus(err) != 404 {
		t.Fatalf("object after abort: %v", err)
	}
	if l := ts.bkListV2(t, "abt", listCase{}, nil); len(l.Contents) != 0 {
		t.Fatalf("%d objects after abort", len(l.Contents))
	}

	put(t, c, "abt", "mymultipart", nil)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: s("abt"), Key: s("mymultipart"), UploadId: s("56788")})
	wantErr(t, "abort unknown id", err, "NoSuchUpload", 404)

	type up struct{ key, id string }
	var ups []up
	for _, k := range []string{"mymultipart", "mymultipart", "mymultipart2"} {
		id, _ := bkMultipart(t, c, "abt", k, []byte("part"), 5*mib)
		ups = append(ups, up{k, id})
	}
	ids := listed()
	for _, u := range ups {
		if !slices.Contains(ids, u.id) {
			t.Fatalf("ListMultipartUploads %v lacks %s", ids, u.id)
		}
	}
	for _, u := range ups {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: s("abt"), Key: s(u.key), UploadId: s(u.id)}); err != nil {
			t.Fatal(err)
		}
	}
	if ids := listed(); len(ids) != 0 {
		t.Fatalf("after aborting all: %v", ids)
	}
}

// TestS3TestsMultipartCopy ports test_multipart_copy_small,
// test_multipart_copy_invalid_range, test_multipart_copy_improper_range,
// test_multipart_copy_without_range, test_multipart_copy_special_names
// and test_multipart_copy_multiple_sizes (smaller sizes).
//
// test_multipart_copy_invalid_range expects InvalidRange for a range
// that runs past the end of the source; S3 answers 400 InvalidArgument
// ("Range specified is not valid for source object of size: N", recorded
// in shared/reference/s3-sse-spec.md §1.8), which Coffer follows.
func TestS3TestsMultipartCopy(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	s := aws.String
	newBucket(t, c, "src")
	newBucket(t, c, "dst")
	src := randBytes(8, 6*mib+77)
	put(t, c, "src", "foo", src)

	// copyParts is s3-tests' _multipart_copy: size bytes of the source in
	// part-size ranges.
	copyParts := func(t *testing.T, srcKey string, size, partSize int) {
		t.Helper()
		id := newUpload(t, c, "dst", "mymultipart")
		var parts []types.CompletedPart
		for n, ofs := int32(1), 0; ofs < size; n, ofs = n+1, ofs+partSize {
			out, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: s("dst"), Key: s("mymultipart"), UploadId: s(id), PartNumber: aws.Int32(n),
				CopySource: s("src/" + url.PathEscape(srcKey)), CopySourceRange: s(fmt.Sprintf("bytes=%d-%d", ofs, min(ofs+partSize, size)-1))})
			if err != nil {
				t.Fatalf("%q part %d: %v", srcKey, n, err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.CopyPartResult.ETag})
		}
		if _, err := bkComplete(c, "dst", "mymultipart", id, parts); err != nil {
			t.Fatal(err)
		}
		want, _ := mustGet(t, c, "src", srcKey)
		if got, _ := mustGet(t, c, "dst", "mymultipart"); !bytes.Equal(got, want[:size]) {
			t.Fatalf("%q: copy of %d bytes differs (got %d bytes)", srcKey, size, len(got))
		}
	}
	t.Run("small_and_sizes", func(t *testing.T) {
		for _, size := range []int{1, 5 * mib, 5*mib + 100<<10, len(src)} {
			copyParts(t, "foo", size, 5*mib)
		}
	})
	t.Run("special_names", func(t *testing.T) {
		for _, k := range []string{" ", "_", "__", "?versionId"} {
			put(t, c, "src", k, []byte("content of "+k))
			copyParts(t, k, 1, 5*mib)
		}
	})
	t.Run("ranges", func(t *testing.T) {
		put(t, c, "src", "source", []byte("12345"))
		id := newUpload(t, c, "dst", "dest")
		partCopy := func(rng *string) (*s3.UploadPartCopyOutput, error) {
			return c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: s("dst"), Key: s("dest"), UploadId: s(id), PartNumber: aws.Int32(1),
				CopySource: s("src/source"), CopySourceRange: rng})
		}
		_, err := partCopy(s("bytes=0-21"))
		wantErr(t, "range past the end", err, "InvalidArgument", 400)
		for _, rng := range []string{"0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-", "bytes=0-2,3-5"} {
			_, err := partCopy(s(rng))
			wantErr(t, "improper range "+rng, err, "InvalidArgument", 400)
		}
		out, err := partCopy(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bkComplete(c, "dst", "dest", id, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: out.CopyPartResult.ETag}}); err != nil {
			t.Fatal(err)
		}
		if got, out := mustGet(t, c, "dst", "dest"); string(got) != "12345" || aws.ToInt64(out.ContentLength) != 5 {
			t.Fatalf("without range: %q", got)
		}
	})
}
