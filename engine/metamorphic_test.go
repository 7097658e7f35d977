package engine

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
)

// Metamorphic test of the engine API (reliability-security.md §5.2,
// test 12).
//
// A seeded generator produces a sequence of engine operations: puts of
// many sizes (with conditions, unknown lengths, wrong lengths and wrong
// Content-MD5s), gets with ranges, part numbers, conditions and right,
// missing or wrong customer keys, heads, deletes, batch deletes, listings
// with prefixes, delimiters, start-after and pagination, copies with the
// COPY and REPLACE directives and source and destination conditions,
// multipart uploads (create, upload part, upload part copy, complete with
// good and bad part lists, abort, list parts, list uploads), restarts, and
// on layouts with parity, damage to up to m shard files of an object
// (removed, truncated, bit-flipped, zeroed) followed later by a heal.
//
// The same sequence runs against every configuration in metaConfigs
// (erasure layouts from 1+0 to 6+3, block sizes, inline thresholds,
// encryption modes) on a memory filesystem, and against metaModel, a
// plain in-memory statement of the S3 semantics the engine documents.
// Every result (bytes, sizes, ETags where the mode makes them MD5s and
// their S3 multipart form, metadata, the encryption reported, error
// kinds, every listing page) must equal the model's; the transcripts of
// all configurations must equal each other too, except where the
// encryption mode changes the answer by design: the opaque ETags of
// SSE-KMS, DSSE-KMS and SSE-C objects, the mode itself, reads with a
// missing or wrong customer key, and copying an object onto itself
// without naming its encryption, which every SSE-C request does (the
// SSE-C configuration skips that one operation). After the sequence the
// store is healed and reopened, every object is read back and Check must
// find the store consistent.
//
// Environment:
//
//	COFFER_META_OPS=N   operations per configuration (default 300; 100 with -short)
//	COFFER_META_SEED=S  the seed (default: from the clock, logged)
//
// The seed fixes every operation and payload, so a failure replays from
// it. The engine's own random choices (object ids and so shard placement,
// opaque ETags, upload ids) are not seeded; no result depends on them.

const (
	metaMinPart = 20 << 10   // the engine's minimum part size in this test
	metaMissing = "nobucket" // a bucket that never exists
)

// metaBuckets are the buckets every run creates.
func metaBuckets() []string { return []string{"bk1", "bk2"} }

type metaConfig struct {
	name      string
	drives    int
	k, m      int
	block     int
	inline    int     // Options.InlineThreshold: 0 default (32 KiB), <0 never
	mode      SSEType // the encryption of every write
	sseCWrite bool    // writes carry SSE-C parameters (mode SSEC)
}

// metaConfigs are the configurations every sequence runs against.
func metaConfigs() []metaConfig {
	return []metaConfig{
		{name: "1+0/plain/4k/inline-default", drives: 1, k: 1, m: 0, block: 4 << 10, mode: SSENone},
		{name: "2+1/sse-s3/16k/no-inline", drives: 3, k: 2, m: 1, block: 16 << 10, inline: -1, mode: SSES3},
		{name: "4+2/sse-kms/8k/inline-1k", drives: 6, k: 4, m: 2, block: 8 << 10, inline: 1024, mode: SSEKMS},
		{name: "3+2/dsse-kms/4k/no-inline", drives: 5, k: 3, m: 2, block: 4 << 10, inline: -1, mode: DSSEKMS},
		{name: "6+3/sse-c/4k/inline-default", drives: 9, k: 6, m: 3, block: 4 << 10, mode: SSEC, sseCWrite: true},
		{name: "2+2/plain/64k/inline-4k", drives: 4, k: 2, m: 2, block: 64 << 10, inline: 4096, mode: SSENone},
	}
}

// md5ETags reports whether the mode's ETags are the MD5 of the content.
func (c metaConfig) md5ETags() bool { return c.mode == SSENone || c.mode == SSES3 }

// metaErrors are the sentinels results are compared by.
func metaErrors() []struct {
	name string
	err  error
} {
	return []struct {
		name string
		err  error
	}{
		{"BucketNotFound", ErrBucketNotFound}, {"ObjectNotFound", ErrObjectNotFound},
		{"InvalidObjectName", ErrInvalidObjectName}, {"PreconditionFailed", ErrPreconditionFailed},
		{"NotModified", ErrNotModified}, {"InvalidRange", ErrInvalidRange}, {"BadDigest", ErrBadDigest},
		{"IncompleteBody", ErrIncompleteBody}, {"MetadataTooLarge", ErrMetadataTooLarge},
		{"InvalidArgument", ErrInvalidArgument}, {"InvalidCopy", ErrInvalidCopy},
		{"NoSuchUpload", ErrNoSuchUpload}, {"InvalidPart", ErrInvalidPart}, {"InvalidPartOrder", ErrInvalidPartOrder},
		{"InvalidPartNumber", ErrInvalidPartNumber}, {"EntityTooSmall", ErrEntityTooSmall},
		{"SSECustomerKeyRequired", ErrSSECustomerKeyRequired}, {"SSECustomerKeyMismatch", ErrSSECustomerKeyMismatch},
		{"SSENotApplicable", ErrSSENotApplicable}, {"SSEParametersMismatch", ErrSSEParametersMismatch},
		{"SSEPartParamsRequired", ErrSSEPartParamsRequired},
	}
}

// metaErrName names err by the sentinel it wraps; "ok" for nil.
func metaErrName(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range metaErrors() {
		if errors.Is(err, s.err) {
			return "error " + s.name
		}
	}
	return "unexpected error: " + err.Error()
}

// ---- the model ----

type mObject struct {
	data  []byte
	etag  string
	parts []int // part sizes of a multipart object
	meta  map[string]string
	ctype string
}

type mPart struct {
	data []byte
	etag string
}

type mUpload struct {
	bucket, key, id string
	open            bool
	meta            map[string]string
	ctype           string
	parts           map[int]mPart
}

// metaModel is the reference: buckets of objects and the multipart
// uploads, in creation order (their handles).
type metaModel struct {
	cfg     metaConfig
	objs    map[string]map[string]*mObject
	uploads []*mUpload
}

func newMetaModel(cfg metaConfig) *metaModel {
	m := &metaModel{cfg: cfg, objs: map[string]map[string]*mObject{}}
	for _, b := range metaBuckets() {
		m.objs[b] = map[string]*mObject{}
	}
	return m
}

func (m *metaModel) object(b, k string) (*mObject, error) {
	objs, ok := m.objs[b]
	if !ok {
		return nil, ErrBucketNotFound
	}
	o, ok := objs[k]
	if !ok {
		return nil, ErrObjectNotFound
	}
	return o, nil
}

func (m *metaModel) keys(b string) []string { return slices.Sorted(maps.Keys(m.objs[b])) }

// newETag is the ETag a write of data must get: its MD5 where the mode
// says so, else the opaque one the engine chose, if it looks like one.
func (m *metaModel) newETag(data []byte, got string) string {
	if m.cfg.md5ETags() {
		return md5hex(data)
	}
	if len(got) == 32 && got != md5hex(data) {
		if _, err := hex.DecodeString(got); err == nil {
			return got
		}
	}
	return "an opaque 32-hex-digit ETag, not the MD5"
}

// multipartETag is S3's ETag of a completed upload: the MD5 of the parts'
// binary ETags, a dash and the part count.
func (m *metaModel) multipartETag(etags []string) string {
	var cat []byte
	for _, e := range etags {
		b, _ := hex.DecodeString(e)
		cat = append(cat, b...)
	}
	s := md5.Sum(cat)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(s[:]), len(etags))
}

func metaValidKey(k string) error {
	if k == "" || len(k) > MaxKeyLength {
		return ErrInvalidObjectName
	}
	return nil
}

func metaSize(meta map[string]string) int {
	n := 0
	for k, v := range meta {
		n += len(k) + len(v)
	}
	return n
}

// metaWriteCond applies a write's If-Match / If-None-Match to cur.
func metaWriteCond(c Conditions, cur *mObject) error {
	if c.IfMatch != "" {
		if cur == nil {
			return ErrObjectNotFound
		}
		if c.IfMatch != "*" && strings.Trim(c.IfMatch, `"`) != cur.etag {
			return ErrPreconditionFailed
		}
	}
	if c.IfNoneMatch != "" && cur != nil && (c.IfNoneMatch == "*" || strings.Trim(c.IfNoneMatch, `"`) == cur.etag) {
		return ErrPreconditionFailed
	}
	return nil
}

// metaReadCond applies a read's If-Match / If-None-Match.
func metaReadCond(c Conditions, etag string) error {
	if c.IfMatch != "" && c.IfMatch != "*" && strings.Trim(c.IfMatch, `"`) != etag {
		return ErrPreconditionFailed
	}
	if c.IfNoneMatch != "" && (c.IfNoneMatch == "*" || strings.Trim(c.IfNoneMatch, `"`) == etag) {
		return ErrNotModified
	}
	return nil
}

// mRange is a byte range or part number of a get, in terms the model
// resolves itself (HTTP's rules, as Range.Resolve documents them).
type mRange struct {
	kind string // "", "bytes", "from", "suffix", "part"
	a, b int64
}

func (r mRange) engine() (*Range, int) {
	switch r.kind {
	case "bytes":
		return ByteRange(r.a, r.b), 0
	case "from":
		return FromOffset(r.a), 0
	case "suffix":
		return Suffix(r.a), 0
	case "part":
		return nil, int(r.a)
	}
	return nil, 0
}

func (r mRange) resolve(o *mObject) (off, n int64, err error) {
	size := int64(len(o.data))
	switch r.kind {
	case "bytes":
		if r.a >= size || r.b < r.a {
			return 0, 0, ErrInvalidRange
		}
		return r.a, min(r.b, size-1) - r.a + 1, nil
	case "from":
		if r.a >= size {
			return 0, 0, ErrInvalidRange
		}
		return r.a, size - r.a, nil
	case "suffix":
		if r.a <= 0 {
			return 0, 0, ErrInvalidRange
		}
		n := min(r.a, size)
		return size - n, n, nil
	case "part":
		if len(o.parts) == 0 {
			if r.a != 1 {
				return 0, 0, ErrInvalidPartNumber
			}
			return 0, size, nil
		}
		if r.a < 1 || r.a > int64(len(o.parts)) {
			return 0, 0, ErrInvalidPartNumber
		}
		for _, p := range o.parts[:r.a-1] {
			off += int64(p)
		}
		return off, int64(o.parts[r.a-1]), nil
	}
	return 0, size, nil
}

// ---- canonical results ----

// metaETag wraps ETags in results so that the cross-configuration
// comparison can mask the opaque ones.
func metaETag(e string) string { return "⟨" + e + "⟩" }

var metaETagRE = regexp.MustCompile(`⟨[^⟩]*⟩`)

func metaInfo(size int64, etag string, parts int, ctype string, meta map[string]string) string {
	if len(meta) == 0 {
		meta = nil
	}
	return fmt.Sprintf("size=%d etag=%s parts=%d type=%q meta=%v", size, metaETag(etag), parts, ctype, meta)
}

// info is what a listing shows of o.
func (o *mObject) info() string {
	return metaInfo(int64(len(o.data)), o.etag, len(o.parts), o.ctype, o.meta)
}

// fullInfo is what a write, head or get reports of o: also its
// encryption, marked so that the cross-configuration comparison skips it.
func (m *metaModel) fullInfo(o *mObject) string {
	return o.info() + " sse=«" + m.cfg.mode.String() + "»"
}

func metaEngineInfo(i ObjectInfo) string {
	return metaInfo(i.Size, i.ETag, i.PartsCount, i.ContentType, i.UserMetadata) + " sse=«" + i.SSE.Type.String() + "»"
}

var metaSSERE = regexp.MustCompile(`«[^»]*»`)

func metaBody(off int64, data []byte) string {
	s := sha256.Sum256(data)
	return fmt.Sprintf("range=%d+%d sha=%x", off, len(data), s[:6])
}

// ---- operations ----

// metaOp is one generated operation. It names objects, uploads (by
// handle: their index in creation order) and payloads (by seed) in terms
// that mean the same in every configuration.
type metaOp struct {
	Kind     string
	B, K     string // bucket and key (the source of a copy)
	B2, K2   string // the destination of a copy
	Size     int
	Pay      uint64
	SizeMode string // put: "", "unknown", "wrong", "bad-md5"
	Meta     map[string]string
	CType    string
	Cond     string // "", "inm*", "im", "im-wrong", "inm", "inm-wrong"
	SrcCond  string
	KeyMode  string // reads: "", "no-key", "wrong-key"
	Range    mRange
	Replace  bool
	Keys     []string
	List     ListOptions
	H        int // upload handle
	Part     int
	Variant  string
	Sub      uint64 // damage: seed of the details
	Quote    bool   // complete: quote the part ETags
	Explicit bool   // writes: name the encryption instead of taking the bucket default
}

func (op *metaOp) String() string {
	var sb strings.Builder
	sb.WriteString(op.Kind)
	add := func(name string, v any, zero bool) {
		if !zero {
			fmt.Fprintf(&sb, " %s=%v", name, v)
		}
	}
	add("b", op.B, op.B == "")
	add("k", fmt.Sprintf("%.40q", op.K), op.K == "" && op.Kind != "put")
	add("b2", op.B2, op.B2 == "")
	add("k2", fmt.Sprintf("%q", op.K2), op.K2 == "")
	add("size", op.Size, op.Size == 0)
	add("sizemode", op.SizeMode, op.SizeMode == "")
	add("meta", op.Meta, op.Meta == nil)
	add("type", op.CType, op.CType == "")
	add("cond", op.Cond, op.Cond == "")
	add("srccond", op.SrcCond, op.SrcCond == "")
	add("keymode", op.KeyMode, op.KeyMode == "")
	add("range", op.Range, op.Range.kind == "")
	add("replace", op.Replace, !op.Replace)
	add("keys", fmt.Sprintf("%q", op.Keys), op.Keys == nil)
	add("list", fmt.Sprintf("%+v", op.List), op.Kind != "list" && op.Kind != "list-uploads")
	add("upload", op.H, !strings.HasPrefix(op.Kind, "mp-"))
	add("part", op.Part, op.Part == 0)
	add("variant", op.Variant, op.Variant == "")
	add("explicit-sse", op.Explicit, !op.Explicit)
	return sb.String()
}

// metaGen generates operations from the model's configuration-independent
// state: which keys and uploads exist, sizes and part numbers; never
// ETags or ids.
type metaGen struct {
	r *rand.Rand
	m *metaModel
	n uint64
}

// metaKeySegs are what generated keys are made of.
func metaKeySegs() []string { return []string{"a", "b", "dir", "é", "x-y"} }

func (g *metaGen) randKey() string {
	var sb strings.Builder
	for i := range 1 + g.r.IntN(3) {
		if i > 0 {
			sb.WriteString([]string{"/", "-"}[g.r.IntN(2)])
		}
		sb.WriteString(metaKeySegs()[g.r.IntN(5)])
	}
	return sb.String()
}

func (g *metaGen) bucket() string {
	switch x := g.r.IntN(100); {
	case x < 3:
		return metaMissing
	case x < 65:
		return "bk1"
	}
	return "bk2"
}

// key picks an existing key of b most of the time.
func (g *metaGen) key(b string) string {
	if keys := g.m.keys(b); len(keys) > 0 && g.r.IntN(10) < 6 {
		return keys[g.r.IntN(len(keys))]
	}
	return g.randKey()
}

// writeKey is key, now and then an invalid one.
func (g *metaGen) writeKey(b string) string {
	if b != metaMissing && g.r.IntN(40) == 0 {
		return []string{"", strings.Repeat("k", MaxKeyLength+1)}[g.r.IntN(2)]
	}
	return g.key(b)
}

func (g *metaGen) size() int {
	switch g.r.IntN(9) {
	case 0:
		return 0
	case 1:
		return 1 + g.r.IntN(100)
	case 2:
		return 1020 + g.r.IntN(8) // the 1 KiB inline threshold
	case 3:
		return 4092 + g.r.IntN(8) // 4 KiB: threshold and block
	case 4:
		return 8188 + g.r.IntN(8)
	case 5:
		return 32764 + g.r.IntN(8) // the default inline threshold
	default:
		return g.r.IntN(100 << 10)
	}
}

func (g *metaGen) meta() (map[string]string, string) {
	var meta map[string]string
	switch g.r.IntN(6) {
	case 0:
		meta = map[string]string{"Color": "blue", "n": fmt.Sprint(g.r.IntN(100))}
	case 1:
		meta = map[string]string{"a": "1"}
	case 2:
		if g.r.IntN(8) == 0 {
			meta = map[string]string{"big": strings.Repeat("v", MaxUserMetadata)}
		}
	}
	return meta, []string{"", "text/plain", "application/x-test"}[g.r.IntN(3)]
}

func (g *metaGen) payload() uint64 { g.n++; return g.n }

// handle picks an upload, usually an open one; -1 if there is none.
func (g *metaGen) handle() int {
	var open []int
	for i, u := range g.m.uploads {
		if u.open {
			open = append(open, i)
		}
	}
	if len(open) > 0 && g.r.IntN(10) < 9 {
		return open[g.r.IntN(len(open))]
	}
	if len(g.m.uploads) == 0 {
		return -1
	}
	return g.r.IntN(len(g.m.uploads))
}

func (g *metaGen) rng(o *mObject) mRange {
	var size int64
	if o != nil {
		size = int64(len(o.data))
	}
	n := func(max int64) int64 { return g.r.Int64N(max + 1) }
	switch g.r.IntN(6) {
	case 0:
		a := n(size + 2)
		return mRange{kind: "bytes", a: a, b: a - 1 + n(size+5-a+1)}
	case 1:
		return mRange{kind: "from", a: n(size + 1)}
	case 2:
		return mRange{kind: "suffix", a: n(size + 3)}
	case 3:
		return mRange{kind: "part", a: 1 + n(3)} // 0 means no part number
	}
	return mRange{}
}

// readCond picks the conditions of a read.
func (g *metaGen) readCond() string {
	return []string{"", "", "", "", "im", "im-wrong", "inm", "inm-wrong"}[g.r.IntN(8)]
}

func (g *metaGen) next() *metaOp {
	r := g.r
	op := &metaOp{}
	switch x := r.IntN(100); {
	case x < 18:
		op.Kind, op.B = "put", g.bucket()
		op.K, op.Size, op.Pay = g.writeKey(op.B), g.size(), g.payload()
		op.Meta, op.CType = g.meta()
		op.SizeMode = []string{"", "", "", "", "", "", "unknown", "unknown", "wrong", "bad-md5"}[r.IntN(10)]
		op.Explicit = r.IntN(4) == 0
		op.Cond = []string{"", "", "", "", "", "", "inm*", "im", "im-wrong", "inm"}[r.IntN(10)]
	case x < 32, x < 37:
		op.Kind = "get"
		if x >= 32 {
			op.Kind = "head"
		}
		op.B = g.bucket()
		op.K = g.key(op.B)
		o, _ := g.m.object(op.B, op.K)
		if op.Kind == "get" {
			op.Range = g.rng(o)
		}
		op.Cond = g.readCond()
		if r.IntN(12) == 0 {
			op.KeyMode = []string{"no-key", "wrong-key"}[r.IntN(2)]
		}
	case x < 43:
		op.Kind, op.B = "delete", g.bucket()
		op.K = g.writeKey(op.B)
	case x < 46:
		op.Kind, op.B = "delete-many", g.bucket()
		for range 1 + r.IntN(4) {
			op.Keys = append(op.Keys, g.writeKey(op.B))
		}
	case x < 54:
		op.Kind, op.B = "list", g.bucket()
		op.List = ListOptions{MaxKeys: 1 + r.IntN(6)}
		if r.IntN(2) == 0 {
			k := []rune(g.randKey())
			op.List.Prefix = string(k[:1+r.IntN(len(k))])
		}
		op.List.Delimiter = []string{"", "", "/", "-", "b"}[r.IntN(5)]
		if r.IntN(3) == 0 {
			op.List.StartAfter = g.key(op.B)
		}
	case x < 61:
		op.Kind, op.B = "copy", g.bucket()
		op.K = g.key(op.B)
		op.B2, op.K2 = op.B, op.K
		if r.IntN(4) != 0 {
			op.B2 = g.bucket()
			op.K2 = g.writeKey(op.B2)
		}
		op.Replace = r.IntN(2) == 0
		if op.Replace {
			op.Meta, op.CType = g.meta()
		}
		op.SrcCond = []string{"", "", "", "im", "im-wrong", "inm"}[r.IntN(6)]
		op.Explicit = r.IntN(3) == 0
		op.Cond = []string{"", "", "", "inm*"}[r.IntN(4)]
	case x < 65:
		op.Kind, op.B = "mp-create", g.bucket()
		op.K = g.writeKey(op.B)
		op.Meta, op.CType = g.meta()
		op.H = len(g.m.uploads) // the handle it gets if it succeeds
		op.Explicit = r.IntN(4) == 0
	case x < 76:
		op.Kind, op.H = "mp-upload", g.handle()
		if op.H < 0 {
			return g.next()
		}
		op.Part = 1 + r.IntN(5)
		if r.IntN(40) == 0 {
			op.Part = []int{0, MaxParts + 1}[r.IntN(2)]
		}
		op.Size, op.Pay = metaMinPart+r.IntN(10<<10), g.payload()
		if r.IntN(4) == 0 {
			op.Size = r.IntN(metaMinPart)
		}
		if x >= 74 {
			// Upload part copy from an object.
			op.Kind, op.Size, op.Pay = "mp-upload-copy", 0, 0
			op.B = g.bucket()
			op.K = g.key(op.B)
			if o, _ := g.m.object(op.B, op.K); o != nil && r.IntN(2) == 0 {
				if n := int64(len(o.data)); n > 0 {
					a := r.Int64N(n)
					op.Range = mRange{kind: "bytes", a: a, b: a + r.Int64N(n-a)}
				}
			}
		}
	case x < 80:
		op.Kind, op.H = "mp-complete", g.handle()
		if op.H < 0 {
			return g.next()
		}
		if u := g.m.uploads[op.H]; u.open && len(u.parts) == 0 && r.IntN(4) != 0 {
			return g.next() // mostly complete uploads that have parts
		}
		op.Variant = []string{"all", "all", "all", "all", "all", "subset", "subset", "wrong-etag", "unordered", "missing", "empty"}[r.IntN(11)]
		op.Sub, op.Quote = r.Uint64(), r.IntN(2) == 0
	case x < 82:
		op.Kind, op.H = "mp-abort", g.handle()
		if op.H < 0 {
			return g.next()
		}
	case x < 85:
		op.Kind, op.H = "mp-list-parts", g.handle()
		if op.H < 0 {
			return g.next()
		}
		op.Part, op.List.MaxKeys = r.IntN(3), 1+r.IntN(3)
	case x < 87:
		op.Kind, op.B = "list-uploads", g.bucket()
		op.List = ListOptions{MaxKeys: 1 + r.IntN(4)}
		if r.IntN(3) == 0 {
			op.List.Prefix = string([]rune(metaKeySegs()[r.IntN(5)])[:1])
		}
		op.List.Delimiter = []string{"", "", "/", "-"}[r.IntN(4)]
	case x < 89:
		op.Kind = "restart"
	case x < 94:
		op.Kind = "damage"
		op.B = metaBuckets()[r.IntN(2)]
		keys := g.m.keys(op.B)
		if len(keys) == 0 {
			return g.next()
		}
		op.K, op.Sub = keys[r.IntN(len(keys))], r.Uint64()
	case x < 96:
		op.Kind = "heal"
	default:
		return g.next()
	}
	return op
}

// ---- running a configuration ----

// metaRun is one configuration's engine and model, driven by one test
// goroutine.
type metaRun struct {
	cfg     metaConfig
	seed    uint64
	opts    *Options
	fs      vfs.FS
	e       *Engine
	m       *metaModel
	damaged map[chunkstore.ID]bool // streams with damage not yet healed
	log     []string               // what damage did, for failure reports
}

// metaLine is one operation's outcome: its description and its result
// as a canonical string. sseDependent marks results the encryption mode
// decides by design.
type metaLine struct {
	op           string
	result       string
	sseDependent bool
}

// sse is the encryption a write asks for: SSE-C parameters in the SSE-C
// configuration; else the configuration's mode, explicitly if the
// operation says so, or implicitly as the bucket default.
func (r *metaRun) sse(op *metaOp) *SSE {
	switch {
	case r.cfg.sseCWrite:
		return &SSE{Type: SSEC, CustomerKey: customerKey(7)}
	case op.Explicit:
		return &SSE{Type: r.cfg.mode}
	}
	return nil
}

func (r *metaRun) ck() []byte {
	if r.cfg.mode == SSEC {
		return customerKey(7)
	}
	return nil
}

func (r *metaRun) open() error {
	e, err := Open("", r.opts)
	if err != nil {
		return err
	}
	e.minPartSize = metaMinPart
	r.e = e
	return nil
}

// data is the payload of an operation.
func (r *metaRun) data(pay uint64, n int) []byte { return chachaPayload(r.seed, pay, n) }

// chachaPayload returns n pseudo-random bytes determined by (seed, n1). It
// is cheap under the race detector, unlike a byte-at-a-time loop.
func chachaPayload(seed, n1 uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], n1)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// metaCond turns a generated condition into Conditions against cur.
func metaCond(c string, cur *mObject) Conditions {
	etag := "0123456789abcdef0123456789abcdef"
	if cur != nil {
		etag = cur.etag
	}
	switch c {
	case "inm*":
		return Conditions{IfNoneMatch: "*"}
	case "im":
		return Conditions{IfMatch: `"` + etag + `"`}
	case "im-wrong":
		return Conditions{IfMatch: "0123456789abcdef0123456789abcdef"}
	case "inm":
		return Conditions{IfNoneMatch: etag}
	case "inm-wrong":
		return Conditions{IfNoneMatch: `"0123456789abcdef0123456789abcdef"`}
	}
	return Conditions{}
}

// step runs op on the engine and the model and returns the engine's
// result; it fails if the model's differs.
func (r *metaRun) step(op *metaOp) (metaLine, error) {
	got, want, dep, err := r.apply(op)
	if err != nil {
		return metaLine{}, err
	}
	if got != want {
		return metaLine{}, fmt.Errorf("engine and model disagree:\n  engine: %s\n  model:  %s", got, want)
	}
	return metaLine{op: op.String(), result: got, sseDependent: dep}, nil
}

func (r *metaRun) apply(op *metaOp) (got, want string, sseDependent bool, err error) {
	m := r.m
	switch op.Kind {
	case "put":
		return r.put(op)
	case "get", "head":
		return r.get(op)
	case "delete":
		err := r.e.DeleteObject(ctx, op.B, op.K)
		werr := m.delete(op.B, op.K)
		return metaErrName(err), metaErrName(werr), false, nil
	case "delete-many":
		res, err := r.e.DeleteObjects(ctx, op.B, op.Keys)
		got = metaErrName(err)
		for _, d := range res {
			got += fmt.Sprintf(" %q:%s", d.Key, metaErrName(d.Err))
		}
		if _, ok := m.objs[op.B]; !ok {
			return got, metaErrName(ErrBucketNotFound), false, nil
		}
		want = "ok"
		for _, k := range op.Keys {
			want += fmt.Sprintf(" %q:%s", k, metaErrName(m.delete(op.B, k)))
		}
		return got, want, false, nil
	case "list":
		got, want := r.list(op)
		return got, want, false, nil
	case "copy":
		return r.copy(op)
	case "mp-create":
		return r.create(op)
	case "mp-upload", "mp-upload-copy":
		return r.uploadPart(op)
	case "mp-complete":
		return r.complete(op)
	case "mp-abort":
		u := m.uploads[op.H]
		err := r.e.AbortMultipartUpload(ctx, u.bucket, u.key, u.id)
		werr := error(ErrNoSuchUpload)
		if u.open {
			u.open, werr = false, nil
		}
		return metaErrName(err), metaErrName(werr), false, nil
	case "mp-list-parts":
		got, want := r.listParts(op)
		return got, want, false, nil
	case "list-uploads":
		got, want := r.listUploads(op)
		return got, want, false, nil
	case "restart":
		if err := r.e.Close(); err != nil {
			return "", "", false, fmt.Errorf("close: %w", err)
		}
		if err := r.open(); err != nil {
			return "", "", false, fmt.Errorf("reopen: %w", err)
		}
		return "ok", "ok", false, nil
	case "damage":
		return "ok", "ok", false, r.damage(op)
	case "heal":
		rep, err := r.e.Heal(ctx, HealOptions{})
		if err != nil || rep.Unrecoverable != 0 {
			return "", "", false, fmt.Errorf("heal: %+v, %v", rep, err)
		}
		r.damaged = map[chunkstore.ID]bool{}
		return "ok", "ok", false, nil
	}
	return "", "", false, fmt.Errorf("unknown op %q", op.Kind)
}

func (m *metaModel) delete(b, k string) error {
	if _, ok := m.objs[b]; !ok {
		return ErrBucketNotFound
	}
	if err := metaValidKey(k); err != nil {
		return err
	}
	delete(m.objs[b], k)
	return nil
}

func (r *metaRun) put(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	data := r.data(op.Pay, op.Size)
	cur, _ := m.object(op.B, op.K)
	opts := &PutOptions{Size: int64(len(data)), UserMetadata: op.Meta, SSE: r.sse(op), Conditions: metaCond(op.Cond, cur)}
	opts.ContentType = op.CType
	switch op.SizeMode {
	case "unknown":
		opts.Size = -1
	case "wrong":
		opts.Size = int64(len(data)) + 1
	case "bad-md5":
		opts.ContentMD5 = make([]byte, md5.Size)
	}
	info, err := r.e.PutObject(ctx, op.B, op.K, bytes.NewReader(data), opts)
	got = metaErrName(err)
	if err == nil {
		got += " " + metaEngineInfo(info)
	}
	// The model, in the engine's documented order: key and metadata,
	// bucket, body, conditions.
	switch {
	case metaValidKey(op.K) != nil:
		return got, metaErrName(ErrInvalidObjectName), false, nil
	case metaSize(op.Meta) > MaxUserMetadata:
		return got, metaErrName(ErrMetadataTooLarge), false, nil
	}
	if _, ok := m.objs[op.B]; !ok {
		return got, metaErrName(ErrBucketNotFound), false, nil
	}
	if werr := metaWriteCond(opts.Conditions, cur); werr != nil {
		return got, metaErrName(werr), false, nil
	}
	switch op.SizeMode {
	case "wrong":
		return got, metaErrName(ErrIncompleteBody), false, nil
	case "bad-md5":
		return got, metaErrName(ErrBadDigest), false, nil
	}
	o := &mObject{data: data, etag: m.newETag(data, info.ETag), meta: metaLower(op.Meta), ctype: op.CType}
	m.objs[op.B][op.K] = o
	return got, "ok " + m.fullInfo(o), false, nil
}

func metaLower(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range meta {
		out[strings.ToLower(k)] = v
	}
	return out
}

func (r *metaRun) get(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	cur, _ := m.object(op.B, op.K)
	opts := &GetOptions{Conditions: metaCond(op.Cond, cur), CustomerKey: r.ck()}
	opts.Range, opts.PartNumber = op.Range.engine()
	switch op.KeyMode {
	case "no-key":
		opts.CustomerKey = nil
	case "wrong-key":
		opts.CustomerKey = customerKey(9)
	}
	if op.Kind == "head" {
		info, err := r.e.HeadObject(ctx, op.B, op.K, opts)
		got = metaErrName(err)
		if err == nil {
			got += " " + metaEngineInfo(info)
		}
	} else {
		obj, err := r.e.GetObject(ctx, op.B, op.K, opts)
		got = metaErrName(err)
		if err == nil {
			var buf bytes.Buffer
			_, rerr := obj.WriteTo(&buf)
			cerr := obj.Close()
			if err := errors.Join(rerr, cerr); err != nil {
				return "", "", false, fmt.Errorf("reading the body: %w", err)
			}
			if int64(buf.Len()) != obj.Length {
				return "", "", false, fmt.Errorf("body of %d bytes, Length %d", buf.Len(), obj.Length)
			}
			got += " " + metaEngineInfo(obj.Info) + " " + metaBody(obj.Offset, buf.Bytes())
		}
	}
	dep = op.KeyMode != ""
	o, werr := m.object(op.B, op.K)
	if werr != nil {
		return got, metaErrName(werr), dep, nil
	}
	switch {
	case r.cfg.mode == SSEC && opts.CustomerKey == nil:
		return got, metaErrName(ErrSSECustomerKeyRequired), dep, nil
	case r.cfg.mode == SSEC && op.KeyMode == "wrong-key":
		return got, metaErrName(ErrSSECustomerKeyMismatch), dep, nil
	case r.cfg.mode != SSEC && opts.CustomerKey != nil:
		return got, metaErrName(ErrSSENotApplicable), dep, nil
	}
	if werr := metaReadCond(opts.Conditions, o.etag); werr != nil {
		return got, metaErrName(werr), dep, nil
	}
	off, n, werr := op.Range.resolve(o)
	if werr != nil {
		return got, metaErrName(werr), dep, nil
	}
	want = "ok " + m.fullInfo(o)
	if op.Kind == "get" {
		want += " " + metaBody(off, o.data[off:off+n])
	}
	return got, want, dep, nil
}

// metaModelPage is one page of a listing as the model has it: the entries
// (keys and common prefixes) in order.
func metaModelPage(keys []string, o ListOptions) (objs, cps []string, truncated bool, next string) {
	objs, cps, truncated = modelList(keys, o)
	if truncated {
		next = max(slices.Max(append([]string{""}, objs...)), slices.Max(append([]string{""}, cps...)))
	}
	return objs, cps, truncated, next
}

func (r *metaRun) list(op *metaOp) (got, want string) {
	var g, w strings.Builder
	o := op.List
	for page := 0; page < 200; page++ {
		res, err := r.e.ListObjects(ctx, op.B, o)
		fmt.Fprintf(&g, "[page %d %s", page, metaErrName(err))
		for _, oi := range res.Objects {
			fmt.Fprintf(&g, " %q %s", oi.Key, metaInfo(oi.Size, oi.ETag, oi.PartsCount, oi.ContentType, oi.UserMetadata))
		}
		fmt.Fprintf(&g, " prefixes=%q truncated=%v next=%q]", res.CommonPrefixes, res.IsTruncated, res.Next)

		fmt.Fprintf(&w, "[page %d ", page)
		if _, ok := r.m.objs[op.B]; !ok {
			fmt.Fprintf(&w, "%s prefixes=[] truncated=false next=\"\"]", metaErrName(ErrBucketNotFound))
		} else {
			objs, cps, trunc, next := metaModelPage(r.m.keys(op.B), o)
			w.WriteString("ok")
			for _, k := range objs {
				fmt.Fprintf(&w, " %q %s", k, r.m.objs[op.B][k].info())
			}
			if cps == nil {
				cps = []string{}
			}
			fmt.Fprintf(&w, " prefixes=%q truncated=%v next=%q]", cps, trunc, next)
		}
		if err != nil || !res.IsTruncated || g.String() != w.String() {
			break
		}
		o.StartAfter = res.Next
	}
	return g.String(), w.String()
}

func (r *metaRun) copy(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	src, _ := m.object(op.B, op.K)
	dst, _ := m.object(op.B2, op.K2)
	opts := &CopyOptions{ReplaceMetadata: op.Replace, UserMetadata: op.Meta, SSE: r.sse(op), SourceCustomerKey: r.ck(),
		SourceConditions: metaCond(op.SrcCond, src), Conditions: metaCond(op.Cond, dst)}
	opts.ContentType = op.CType
	// Copying an object onto itself with the COPY directive is legal only
	// if the request changes something, here its explicit encryption.
	// An SSE-C copy always names its encryption, so where the other
	// configurations ask for none the SSE-C one skips the operation (a
	// copy that succeeded there alone would make the states diverge).
	inPlace := op.B == op.B2 && op.K == op.K2 && !op.Replace
	if inPlace && !op.Explicit && r.cfg.sseCWrite {
		return "skipped", "skipped", true, nil
	}
	info, err := r.e.CopyObject(ctx, op.B, op.K, op.B2, op.K2, opts)
	got = metaErrName(err)
	if err == nil {
		got += " " + metaEngineInfo(info)
	}
	src, werr := m.object(op.B, op.K)
	if werr != nil {
		return got, metaErrName(werr), dep, nil
	}
	if werr := metaReadCond(opts.SourceConditions, src.etag); werr != nil {
		return got, metaErrName(ErrPreconditionFailed), dep, nil
	}
	if inPlace && !op.Explicit {
		// The bucket default, asked for implicitly, is the object's
		// encryption already: nothing would change.
		return got, metaErrName(ErrInvalidCopy), dep, nil
	}
	meta, ctype := src.meta, src.ctype
	if op.Replace {
		meta, ctype = metaLower(op.Meta), op.CType
	}
	switch {
	case metaValidKey(op.K2) != nil:
		return got, metaErrName(ErrInvalidObjectName), dep, nil
	case metaSize(meta) > MaxUserMetadata:
		return got, metaErrName(ErrMetadataTooLarge), dep, nil
	}
	if _, ok := m.objs[op.B2]; !ok {
		return got, metaErrName(ErrBucketNotFound), dep, nil
	}
	if werr := metaWriteCond(opts.Conditions, dst); werr != nil {
		return got, metaErrName(werr), dep, nil
	}
	o := &mObject{data: src.data, etag: m.newETag(src.data, info.ETag), meta: meta, ctype: ctype}
	m.objs[op.B2][op.K2] = o
	return got, "ok " + m.fullInfo(o), dep, nil
}

func (r *metaRun) create(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	up, err := r.e.CreateMultipartUpload(ctx, op.B, op.K, &MultipartOptions{Headers: Headers{ContentType: op.CType},
		UserMetadata: op.Meta, SSE: r.sse(op)})
	got = metaErrName(err)
	switch {
	case metaValidKey(op.K) != nil:
		return got, metaErrName(ErrInvalidObjectName), false, nil
	case metaSize(op.Meta) > MaxUserMetadata:
		return got, metaErrName(ErrMetadataTooLarge), false, nil
	}
	if _, ok := m.objs[op.B]; !ok {
		return got, metaErrName(ErrBucketNotFound), false, nil
	}
	if err != nil {
		return got, "ok", false, nil
	}
	m.uploads = append(m.uploads, &mUpload{bucket: op.B, key: op.K, id: up.UploadID, open: true,
		meta: metaLower(op.Meta), ctype: op.CType, parts: map[int]mPart{}})
	return got, "ok", false, nil
}

func (r *metaRun) uploadPart(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	u := m.uploads[op.H]
	var info PartInfo
	var data []byte
	if op.Kind == "mp-upload" {
		data = r.data(op.Pay, op.Size)
		info, err = r.e.UploadPart(ctx, u.bucket, u.key, u.id, op.Part, bytes.NewReader(data),
			&PartOptions{Size: int64(len(data)), CustomerKey: r.ck()})
	} else {
		rng, _ := op.Range.engine()
		info, err = r.e.UploadPartCopy(ctx, u.bucket, u.key, u.id, op.Part, op.B, op.K,
			&PartCopyOptions{Range: rng, SourceCustomerKey: r.ck(), CustomerKey: r.ck()})
	}
	got = metaErrName(err)
	if err == nil {
		got += fmt.Sprintf(" part=%d size=%d etag=%s", info.PartNumber, info.Size, metaETag(info.ETag))
	}
	if op.Kind == "mp-upload" {
		if op.Part < 1 || op.Part > MaxParts {
			return got, metaErrName(ErrInvalidPartNumber), false, nil
		}
		if !u.open {
			return got, metaErrName(ErrNoSuchUpload), false, nil
		}
	} else {
		if !u.open {
			return got, metaErrName(ErrNoSuchUpload), false, nil
		}
		src, werr := m.object(op.B, op.K)
		if werr != nil {
			return got, metaErrName(werr), false, nil
		}
		off, n, werr := op.Range.resolve(src)
		if werr != nil {
			return got, metaErrName(werr), false, nil
		}
		if op.Part < 1 || op.Part > MaxParts {
			return got, metaErrName(ErrInvalidPartNumber), false, nil
		}
		data = src.data[off : off+n]
	}
	p := mPart{data: data, etag: m.newETag(data, info.ETag)}
	u.parts[op.Part] = p
	return got, fmt.Sprintf("ok part=%d size=%d etag=%s", op.Part, len(data), metaETag(p.etag)), false, nil
}

func (r *metaRun) complete(op *metaOp) (got, want string, dep bool, err error) {
	m := r.m
	u := m.uploads[op.H]
	sub := rand.New(rand.NewPCG(op.Sub, 1))
	nums := slices.Sorted(maps.Keys(u.parts))
	if len(nums) == 0 {
		nums = []int{1}
	}
	switch op.Variant {
	case "subset":
		nums = slices.DeleteFunc(nums, func(int) bool { return sub.IntN(3) == 0 })
		if len(nums) == 0 {
			nums = []int{1}
		}
	case "unordered":
		if len(nums) >= 2 {
			i := sub.IntN(len(nums) - 1)
			nums[i], nums[i+1] = nums[i+1], nums[i]
		} else {
			nums = append(nums, nums[0]) // a repeated number is out of order too
		}
	case "missing":
		nums = append(nums, nums[len(nums)-1]+1+sub.IntN(3))
	case "empty":
		nums = nil
	}
	wrong := -1
	if op.Variant == "wrong-etag" {
		wrong = sub.IntN(len(nums))
	}
	var list []CompletePart
	for i, n := range nums {
		etag := "ffffffffffffffffffffffffffffffff"
		if p, ok := u.parts[n]; ok && i != wrong {
			etag = p.etag
		}
		if op.Quote {
			etag = `"` + etag + `"`
		}
		list = append(list, CompletePart{PartNumber: n, ETag: etag})
	}
	info, err := r.e.CompleteMultipartUpload(ctx, u.bucket, u.key, u.id, list, nil)
	got = metaErrName(err)
	if err == nil {
		got += " " + metaEngineInfo(info)
	}
	// The model, in the engine's order: an empty list, the upload, then
	// each named part in turn, then part sizes.
	if len(list) == 0 {
		return got, metaErrName(ErrInvalidArgument), false, nil
	}
	if !u.open {
		return got, metaErrName(ErrNoSuchUpload), false, nil
	}
	var etags []string
	var data []byte
	var sizes []int
	for i, cp := range list {
		if i > 0 && cp.PartNumber <= list[i-1].PartNumber {
			return got, metaErrName(ErrInvalidPartOrder), false, nil
		}
		p, ok := u.parts[cp.PartNumber]
		if !ok || strings.Trim(cp.ETag, `"`) != p.etag {
			return got, metaErrName(ErrInvalidPart), false, nil
		}
		etags, data, sizes = append(etags, p.etag), append(data, p.data...), append(sizes, len(p.data))
	}
	for _, s := range sizes[:len(sizes)-1] {
		if s < metaMinPart {
			return got, metaErrName(ErrEntityTooSmall), false, nil
		}
	}
	o := &mObject{data: data, etag: m.multipartETag(etags), parts: sizes, meta: u.meta, ctype: u.ctype}
	m.objs[u.bucket][u.key] = o
	u.open = false
	return got, "ok " + m.fullInfo(o), false, nil
}

func (r *metaRun) listParts(op *metaOp) (got, want string) {
	u := r.m.uploads[op.H]
	var g, w strings.Builder
	o := ListPartsOptions{PartNumberMarker: op.Part, MaxParts: op.List.MaxKeys}
	nums := slices.Sorted(maps.Keys(u.parts))
	for page := 0; page < 100; page++ {
		res, err := r.e.ListParts(ctx, u.bucket, u.key, u.id, o)
		fmt.Fprintf(&g, "[page %d %s", page, metaErrName(err))
		for _, p := range res.Parts {
			fmt.Fprintf(&g, " %d:%d:%s", p.PartNumber, p.Size, metaETag(p.ETag))
		}
		fmt.Fprintf(&g, " truncated=%v next=%d]", res.IsTruncated, res.NextPartNumberMarker)

		fmt.Fprintf(&w, "[page %d ", page)
		if !u.open {
			fmt.Fprintf(&w, "%s truncated=false next=0]", metaErrName(ErrNoSuchUpload))
		} else {
			w.WriteString("ok")
			next, n, trunc := 0, 0, false
			for _, num := range nums {
				if num <= o.PartNumberMarker {
					continue
				}
				if n == o.MaxParts {
					trunc = true
					break
				}
				p := u.parts[num]
				fmt.Fprintf(&w, " %d:%d:%s", num, len(p.data), metaETag(p.etag))
				next, n = num, n+1
			}
			fmt.Fprintf(&w, " truncated=%v next=%d]", trunc, next)
		}
		if err != nil || !res.IsTruncated || g.String() != w.String() {
			break
		}
		o.PartNumberMarker = res.NextPartNumberMarker
	}
	return g.String(), w.String()
}

// modelUploads is one page of ListMultipartUploads over the open uploads
// of bucket, in key order and then creation order.
func (m *metaModel) modelUploads(bucket string, o ListUploadsOptions) (ups []*mUpload, cps []string, trunc bool, nextKey, nextID string) {
	var all []*mUpload
	for _, u := range m.uploads { // creation order
		if u.open && u.bucket == bucket && strings.HasPrefix(u.key, o.Prefix) {
			all = append(all, u)
		}
	}
	slices.SortStableFunc(all, func(a, b *mUpload) int { return strings.Compare(a.key, b.key) })
	markerSeq := -1
	for i, u := range m.uploads {
		if u.id == o.UploadIDMarker {
			markerSeq = i
		}
	}
	seq := func(u *mUpload) int { return slices.Index(m.uploads, u) }
	seen := map[string]bool{}
	count := 0
	for _, u := range all {
		if o.KeyMarker != "" {
			if u.key < o.KeyMarker || (u.key == o.KeyMarker && (o.UploadIDMarker == "" || seq(u) <= markerSeq)) {
				continue
			}
		}
		if o.Delimiter != "" {
			if i := strings.Index(u.key[len(o.Prefix):], o.Delimiter); i >= 0 {
				cp := u.key[:len(o.Prefix)+i+len(o.Delimiter)]
				if seen[cp] || cp <= o.KeyMarker {
					continue
				}
				if count == o.MaxUploads {
					return ups, cps, true, nextKey, nextID
				}
				seen[cp] = true
				cps = append(cps, cp)
				nextKey, nextID = cp, ""
				count++
				continue
			}
		}
		if count == o.MaxUploads {
			return ups, cps, true, nextKey, nextID
		}
		ups = append(ups, u)
		nextKey, nextID = u.key, u.id
		count++
	}
	return ups, cps, false, "", ""
}

func (r *metaRun) listUploads(op *metaOp) (got, want string) {
	var g, w strings.Builder
	handle := func(id string) int {
		for i, u := range r.m.uploads {
			if u.id == id {
				return i
			}
		}
		return -1
	}
	o := ListUploadsOptions{Prefix: op.List.Prefix, Delimiter: op.List.Delimiter, MaxUploads: op.List.MaxKeys}
	for page := 0; page < 100; page++ {
		res, err := r.e.ListMultipartUploads(ctx, op.B, o)
		fmt.Fprintf(&g, "[page %d %s", page, metaErrName(err))
		for _, u := range res.Uploads {
			fmt.Fprintf(&g, " %q:#%d", u.Key, handle(u.UploadID))
		}
		fmt.Fprintf(&g, " prefixes=%q truncated=%v next=%q:#%d]", res.CommonPrefixes, res.IsTruncated, res.NextKeyMarker, handle(res.NextUploadIDMarker))

		fmt.Fprintf(&w, "[page %d ", page)
		if _, ok := r.m.objs[op.B]; !ok {
			fmt.Fprintf(&w, "%s prefixes=[] truncated=false next=\"\":#-1]", metaErrName(ErrBucketNotFound))
		} else {
			ups, cps, trunc, nk, nid := r.m.modelUploads(op.B, o)
			w.WriteString("ok")
			for _, u := range ups {
				fmt.Fprintf(&w, " %q:#%d", u.key, handle(u.id))
			}
			if cps == nil {
				cps = []string{}
			}
			fmt.Fprintf(&w, " prefixes=%q truncated=%v next=%q:#%d]", cps, trunc, nk, handle(nid))
		}
		if err != nil || !res.IsTruncated || g.String() != w.String() {
			break
		}
		o.KeyMarker, o.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	return g.String(), w.String()
}

// damage hurts up to m shard files of one stored stream of an object
// that has no unhealed damage yet: removed, truncated, a flipped bit or
// zeroed. Reads must not notice.
func (r *metaRun) damage(op *metaOp) error {
	if r.cfg.m == 0 {
		return nil
	}
	rec, err := r.e.lookup(op.B, op.K)
	if err != nil {
		return fmt.Errorf("damage: lookup: %w", err)
	}
	ss := streams(&rec)
	if len(ss) == 0 {
		return nil // inline
	}
	sub := rand.New(rand.NewPCG(op.Sub, 2))
	id := ss[sub.IntN(len(ss))].id
	if r.damaged[id] {
		return nil
	}
	var files []string
	for _, d := range r.opts.Drives {
		dir := r.fs.PathJoin(d, "shards", id.String()[:2])
		names, _ := r.fs.List(dir)
		slices.Sort(names)
		for _, n := range names {
			if strings.HasPrefix(n, id.String()+".") {
				files = append(files, r.fs.PathJoin(dir, n))
			}
		}
	}
	if len(files) != r.cfg.k+r.cfg.m {
		return fmt.Errorf("damage: stream %s has %d shard files, want %d", id, len(files), r.cfg.k+r.cfg.m)
	}
	r.damaged[id] = true
	for _, i := range sub.Perm(len(files))[:1+sub.IntN(r.cfg.m)] {
		f := files[i]
		b, err := metaReadFile(r.fs, f)
		if err != nil {
			return err
		}
		how := []string{"remove", "truncate", "bitflip", "zero"}[sub.IntN(4)]
		switch how {
		case "remove":
			err = r.fs.Remove(f)
		case "truncate":
			err = metaWriteFile(r.fs, f, b[:sub.IntN(len(b)+1)])
		case "bitflip":
			if len(b) > 0 {
				b[sub.IntN(len(b))] ^= 1 << sub.IntN(8)
			}
			err = metaWriteFile(r.fs, f, b)
		case "zero":
			err = metaWriteFile(r.fs, f, make([]byte, len(b)))
		}
		if err != nil {
			return fmt.Errorf("damage %s: %w", f, err)
		}
		r.log = append(r.log, fmt.Sprintf("%s %s (%d bytes) of %s/%s", how, f, len(b), op.B, op.K))
	}
	return nil
}

func metaReadFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// metaWriteFile replaces name with b, synced.
func metaWriteFile(fs vfs.FS, name string, b []byte) error {
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Sync(), f.Close())
}

// finish reads every object back, heals, reopens the store and checks it.
func (r *metaRun) finish() error {
	if rep, err := r.e.Heal(ctx, HealOptions{}); err != nil || rep.Unrecoverable != 0 {
		return fmt.Errorf("final heal: %+v, %v", rep, err)
	}
	if err := r.e.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := r.open(); err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	n := 0
	for _, b := range metaBuckets() {
		for _, k := range r.m.keys(b) {
			n++
			if _, err := r.step(&metaOp{Kind: "get", B: b, K: k}); err != nil {
				return fmt.Errorf("final read of %s/%s: %w", b, k, err)
			}
		}
	}
	rep, err := r.e.Check(ctx, false)
	if err != nil || !rep.OK() || rep.Objects != n {
		return fmt.Errorf("final check: %+v, %v; want OK with %d objects", rep, err, n)
	}
	return nil
}

// runMeta runs ops operations of seed against one configuration and
// returns its transcript.
func runMeta(t *testing.T, cfg metaConfig, seed uint64, ops int) ([]metaLine, error) {
	km := newTestKMS("k1")
	r := &metaRun{cfg: cfg, seed: seed, fs: vfs.NewMem(), m: newMetaModel(cfg), damaged: map[chunkstore.ID]bool{}}
	def := cfg.mode
	if cfg.sseCWrite {
		def = SSES3
	}
	parity := cfg.m
	if parity == 0 {
		parity = NoParity
	}
	r.opts = &Options{DataShards: cfg.k, ParityShards: parity, BlockSize: cfg.block, InlineThreshold: cfg.inline,
		DefaultEncryption: def, KeyManager: km, ScrubInterval: -1, FS: r.fs}
	for i := range cfg.drives {
		r.opts.Drives = append(r.opts.Drives, fmt.Sprintf("/d%d", i))
	}
	if err := r.open(); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer func() {
		if r.e != nil {
			r.e.Close()
		}
	}()
	for _, b := range metaBuckets() {
		if err := r.e.CreateBucket(ctx, b); err != nil {
			return nil, err
		}
	}
	g := &metaGen{r: rand.New(rand.NewPCG(seed, 0x6d657461)), m: r.m}
	var lines []metaLine
	for i := range ops {
		op := g.next()
		line, err := r.step(op)
		if err != nil {
			var hist strings.Builder
			for j, l := range lines[max(0, len(lines)-30):] {
				fmt.Fprintf(&hist, "\n  %4d %s -> %.300s", max(0, len(lines)-30)+j, l.op, l.result)
			}
			for _, l := range r.log {
				fmt.Fprintf(&hist, "\n  damage: %s", l)
			}
			return lines, fmt.Errorf("op %d %s: %w\nlast operations:%s", i, op, err, hist.String())
		}
		lines = append(lines, line)
	}
	if err := r.finish(); err != nil {
		return lines, err
	}
	if len(r.log) > 0 {
		t.Logf("%d shard files damaged along the way", len(r.log))
	}
	return lines, nil
}

// metaSameResult compares one operation's results in two configurations.
func metaSameResult(a, b metaLine, md5Both bool) bool {
	if a.sseDependent || b.sseDependent {
		return true
	}
	a.result, b.result = metaSSERE.ReplaceAllString(a.result, "«*»"), metaSSERE.ReplaceAllString(b.result, "«*»")
	if md5Both {
		return a.result == b.result
	}
	return metaETagRE.ReplaceAllString(a.result, "⟨*⟩") == metaETagRE.ReplaceAllString(b.result, "⟨*⟩")
}

func TestMetamorphic(t *testing.T) {
	ops := 300
	if testing.Short() {
		ops = 100
	}
	ops = plEnvInt(t, "COFFER_META_OPS", ops)
	seed := plEnvSeed(t, "COFFER_META_SEED")
	rerun := fmt.Sprintf("rerun with COFFER_META_SEED=%d COFFER_META_OPS=%d", seed, ops)
	t.Logf("seed %d, %d operations per configuration (%s)", seed, ops, rerun)
	cfgs := metaConfigs()
	transcripts := make([][]metaLine, len(cfgs))
	for i, cfg := range cfgs {
		t.Run(cfg.name, func(t *testing.T) {
			lines, err := runMeta(t, cfg, seed, ops)
			if err != nil {
				t.Fatalf("seed %d, %s: %v\n%s", seed, cfg.name, err, rerun)
			}
			transcripts[i] = lines
		})
	}
	if t.Failed() {
		return
	}
	ref := transcripts[0]
	t.Logf("outcomes in %s: %s", cfgs[0].name, metaOutcomes(ref))
	for i, lines := range transcripts[1:] {
		cfg := cfgs[i+1]
		md5Both := cfg.md5ETags() && cfgs[0].md5ETags()
		for j := range ref {
			if ref[j].op != lines[j].op {
				t.Fatalf("seed %d: op %d differs between %s and %s:\n  %s\n  %s\n%s", seed, j, cfgs[0].name, cfg.name, ref[j].op, lines[j].op, rerun)
			}
			if !metaSameResult(ref[j], lines[j], md5Both) {
				t.Fatalf("seed %d: op %d (%s) answers differ:\n  %s: %s\n  %s: %s\n%s", seed, j, ref[j].op,
					cfgs[0].name, ref[j].result, cfg.name, lines[j].result, rerun)
			}
		}
	}
}

// metaOutcomes counts the results of a transcript by operation and outcome,
// to show what a seed covered.
func metaOutcomes(lines []metaLine) string {
	n := map[string]int{}
	for _, l := range lines {
		kind, _, _ := strings.Cut(l.op, " ")
		res := l.result
		if strings.HasPrefix(res, "[") { // listings: the first page's outcome
			res = strings.TrimPrefix(res, "[page 0 ")
		}
		if strings.HasPrefix(res, "error ") {
			res = strings.Fields(res)[1]
		} else {
			res, _, _ = strings.Cut(res, " ")
		}
		n[kind+":"+res]++
	}
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(n)) {
		fmt.Fprintf(&sb, " %s=%d", k, n[k])
	}
	return sb.String()
}
