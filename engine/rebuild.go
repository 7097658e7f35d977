package engine

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// RebuildIndex re-derives object records from the self-description in the
// shard files on the drives and restores every record the index lacks or
// holds in an older version, and every bucket named by a drive's bucket
// markers. It never removes a record. It returns how many records it
// restored. Open runs it by itself when every index replica is gone.
//
// Objects small enough to live inline in the index have no shard files:
// they survive through the index replicas (ParityShards+1 of them, at least
// two), not through a rebuild.
func (e *Engine) RebuildIndex(ctx context.Context) (int, error) {
	done, err := e.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	return e.rebuild(ctx)
}

func (e *Engine) rebuild(ctx context.Context) (int, error) {
	type found struct {
		bucket, key string
		rec         index.Object
	}
	newest := map[string]*found{}
	buckets := map[string][]byte{}
	var stale []index.Object
	err := e.store.WalkStreams(func(st chunkstore.Stream) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, tr := st.ID, st.Trailer
		t, err := decodeTrailer(tr)
		if err == nil && t.kind == trailerPart {
			return nil // parts come back through their object's part table
		}
		if err != nil || t.rec.DataID != [16]byte(id) {
			e.log.Warn("shard files without a readable self-description; left in place", "id", id.String())
			return nil
		}
		t.rec.Layout = st.Layout.AppendBinary(nil)
		k := string(index.ObjectKey(t.bucket, t.key))
		if cur, ok := newest[k]; ok {
			if cur.rec.ModTime > t.rec.ModTime || (cur.rec.ModTime == t.rec.ModTime && bytes.Compare(cur.rec.DataID[:], t.rec.DataID[:]) > 0) {
				stale = append(stale, t.rec)
				return nil
			}
			stale = append(stale, cur.rec)
		}
		newest[k] = &found{bucket: t.bucket, key: t.key, rec: t.rec}
		if _, ok := buckets[t.bucket]; !ok {
			buckets[t.bucket] = (&index.Bucket{Created: t.rec.ModTime}).Marshal()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, d := range e.usableDrives() {
		names, err := e.fs.List(filepath.Join(d, bucketDir))
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") || ValidateBucketName(n) != nil {
				continue
			}
			if v, err := readSmallFile(e, filepath.Join(d, bucketDir, n)); err == nil {
				var b index.Bucket
				if b.Unmarshal(v) == nil {
					buckets[n] = v
				}
			}
		}
	}
	restored := 0
	const batch = 512
	pending := make([]*found, 0, batch)
	flush := func() error {
		err := e.idx.Update(func(t *index.Txn) error {
			for _, f := range pending {
				if _, err := t.Get(index.BucketKey(f.bucket)); errors.Is(err, index.ErrNotFound) {
					t.Set(index.BucketKey(f.bucket), buckets[f.bucket])
				}
				okey := index.ObjectKey(f.bucket, f.key)
				if v, err := t.Get(okey); err == nil {
					var cur index.Object
					if cur.Unmarshal(v) == nil && cur.ModTime >= f.rec.ModTime {
						continue
					}
				}
				t.Set(okey, f.rec.Marshal(nil))
				restored++
			}
			return nil
		})
		pending = pending[:0]
		return mapIndexErr(err)
	}
	for _, f := range newest {
		pending = append(pending, f)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return restored, err
			}
		}
	}
	if err := flush(); err != nil {
		return restored, err
	}
	err = e.idx.Update(func(t *index.Txn) error {
		for name, v := range buckets {
			if _, err := t.Get(index.BucketKey(name)); errors.Is(err, index.ErrNotFound) {
				t.Set(index.BucketKey(name), v)
			}
		}
		return nil
	})
	for i := range stale { // older versions of an overwritten key
		for _, r := range streams(&stale[i]) {
			_ = e.store.RemoveAny(r.id)
		}
	}
	return restored, mapIndexErr(err)
}

func readSmallFile(e *Engine, path string) ([]byte, error) {
	f, err := e.fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(&limitedFile{f: f, n: 64 << 10})
	return buf.Bytes(), err
}

type limitedFile struct {
	f interface{ Read([]byte) (int, error) }
	n int
}

func (l *limitedFile) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("engine: file too large")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= n
	return n, err
}
