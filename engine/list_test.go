package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// modelList is the reference implementation of ListObjects over a sorted
// key set.
func modelList(keys []string, o ListOptions) (objs, cps []string, truncated bool) {
	maxKeys := o.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) || k <= o.StartAfter {
			continue
		}
		entry, isCP := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				entry, isCP = k[:len(o.Prefix)+i+len(o.Delimiter)], true
				if seen[entry] || entry <= o.StartAfter {
					continue
				}
			}
		}
		if len(objs)+len(cps) == maxKeys {
			return objs, cps, true
		}
		if isCP {
			seen[entry] = true
			cps = append(cps, entry)
		} else {
			objs = append(objs, entry)
		}
	}
	return objs, cps, false
}

func seed(t *testing.T) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("COFFER_TEST_SEED"); v != "" {
		s, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (rerun with COFFER_TEST_SEED=%d)", s, s)
	return s
}

func TestListAgainstModel(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	mustBucket(t, e, "bkt2") // a neighbour bucket must never leak into listings
	put(t, e, "bkt2", "a", []byte("x"))
	s := seed(t)
	r := rand.New(rand.NewPCG(s, 2))
	alphabet := []string{"a", "b", "/", "-", "é", "z", "a/", "b/c/"}
	randKey := func() string {
		var sb strings.Builder
		for range 1 + r.IntN(5) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	live := map[string]bool{}
	for op := range 400 {
		k := randKey()
		if r.IntN(4) == 0 {
			if err := e.DeleteObject(ctx, "bkt", k); err != nil {
				t.Fatal(err)
			}
			delete(live, k)
		} else {
			put(t, e, "bkt", k, []byte(k))
			live[k] = true
		}
		if op%20 != 0 {
			continue
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range live {
				if !yield(k) {
					return
				}
			}
		})
		for range 10 {
			o := ListOptions{MaxKeys: 1 + r.IntN(6)}
			if r.IntN(2) == 0 {
				o.Prefix = randKey()[:1]
			}
			if r.IntN(2) == 0 {
				o.Delimiter = []string{"/", "-", "b"}[r.IntN(3)]
			}
			if r.IntN(3) == 0 {
				o.StartAfter = randKey()
			}
			// Walk every page and compare with the model page by page.
			for page := 0; ; page++ {
				wantObjs, wantCPs, wantTrunc := modelList(keys, o)
				res, err := e.ListObjects(ctx, "bkt", o)
				if err != nil {
					t.Fatal(err)
				}
				var gotObjs []string
				for _, oi := range res.Objects {
					gotObjs = append(gotObjs, oi.Key)
					if oi.Size != int64(len(oi.Key)) {
						t.Fatalf("object %q size %d", oi.Key, oi.Size)
					}
				}
				if fmt.Sprint(gotObjs) != fmt.Sprint(wantObjs) || fmt.Sprint(res.CommonPrefixes) != fmt.Sprint(wantCPs) || res.IsTruncated != wantTrunc {
					t.Fatalf("seed %d op %d page %d %+v:\n got %q %q %v\nwant %q %q %v", s, op, page, o,
						gotObjs, res.CommonPrefixes, res.IsTruncated, wantObjs, wantCPs, wantTrunc)
				}
				if !res.IsTruncated {
					break
				}
				o.StartAfter = res.Next
			}
		}
	}
}

// TestListSkipsRolledUpPrefixes lists a bucket whose one prefix holds many
// keys: with a delimiter the prefix is one entry and the listing stays
// complete and ordered.
func TestListSkipsRolledUpPrefixes(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	for i := range 2000 {
		put(t, e, "bkt", fmt.Sprintf("logs/%05d", i), nil)
	}
	put(t, e, "bkt", "a.txt", []byte("a"))
	put(t, e, "bkt", "z.txt", []byte("z"))
	res, err := e.ListObjects(ctx, "bkt", ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 2 || res.Objects[0].Key != "a.txt" || res.Objects[1].Key != "z.txt" ||
		len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "logs/" || res.IsTruncated {
		t.Fatalf("got %+v", res)
	}
	// Paging through the prefix itself returns all 2000 keys in order.
	var all []string
	o := ListOptions{Prefix: "logs/", MaxKeys: 333}
	for {
		res, err := e.ListObjects(ctx, "bkt", o)
		if err != nil {
			t.Fatal(err)
		}
		for _, oi := range res.Objects {
			all = append(all, oi.Key)
		}
		if !res.IsTruncated {
			break
		}
		o.StartAfter = res.Next
	}
	if len(all) != 2000 || !slices.IsSorted(all) || !bytes.Equal([]byte(all[0]), []byte("logs/00000")) {
		t.Fatalf("paged %d keys", len(all))
	}
}
