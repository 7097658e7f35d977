package index

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openTest(t *testing.T, fs vfs.FS, dirs ...string) *DB {
	t.Helper()
	db, err := Open(Options{FS: fs, Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func set(t *testing.T, db *DB, k, v string) {
	t.Helper()
	if err := db.Update(func(tx *Txn) error { tx.Set([]byte(k), []byte(v)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateGetAndRollback(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, vfs.Default, filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	defer db.Close()
	set(t, db, "k1", "v1")
	boom := errors.New("boom")
	err := db.Update(func(tx *Txn) error {
		tx.Set([]byte("k2"), []byte("v2"))
		tx.Delete([]byte("k1"))
		if v, err := tx.Get([]byte("k2")); err != nil || string(v) != "v2" {
			t.Errorf("txn does not read its own write: %q %v", v, err)
		}
		if _, err := tx.Get([]byte("k1")); !errors.Is(err, ErrNotFound) {
			t.Errorf("txn does not see its own delete: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want boom", err)
	}
	if v, err := db.Get([]byte("k1")); err != nil || string(v) != "v1" {
		t.Fatalf("rolled-back delete took effect: %q %v", v, err)
	}
	if _, err := db.Get([]byte("k2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back set took effect: %v", err)
	}
}

// TestConditionalWritersOneWins runs many concurrent check-and-set
// transactions on one key: exactly one may win.
func TestConditionalWritersOneWins(t *testing.T) {
	db := openTest(t, vfs.Default, t.TempDir())
	defer db.Close()
	exists := errors.New("exists")
	var wg sync.WaitGroup
	wins := make(chan int, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Update(func(tx *Txn) error {
				if _, err := tx.Get([]byte("k")); err == nil {
					return exists
				}
				tx.Set([]byte("k"), fmt.Appendf(nil, "%d", i))
				return nil
			})
			if err == nil {
				wins <- i
			} else if !errors.Is(err, exists) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	var got []int
	for w := range wins {
		got = append(got, w)
	}
	if len(got) != 1 {
		t.Fatalf("%d winners, want exactly 1", len(got))
	}
	v, _ := db.Get([]byte("k"))
	if string(v) != fmt.Sprint(got[0]) {
		t.Fatalf("value %q is not the winner's %d", v, got[0])
	}
}

// TestReplicaLevelling loses and rolls back replicas between runs: the
// most recent replica always wins and the others are levelled.
func TestReplicaLevelling(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	db := openTest(t, vfs.Default, a, b, c)
	set(t, db, "x", "1")
	set(t, db, "y", "1")
	db.Close()

	// Only b is reachable: it advances alone.
	db = openTest(t, vfs.Default, b)
	set(t, db, "x", "2")
	if err := db.Update(func(tx *Txn) error { tx.Delete([]byte("y")); return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// All three again: b is the most recent and a, c are levelled.
	db = openTest(t, vfs.Default, a, b, c)
	db.Close()
	for _, dir := range []string{a, c} {
		d := openTest(t, vfs.Default, dir)
		if v, err := d.Get([]byte("x")); err != nil || string(v) != "2" {
			t.Errorf("%s: x = %q %v, want 2", dir, v, err)
		}
		if _, err := d.Get([]byte("y")); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: deleted y is back: %v", dir, err)
		}
		d.Close()
	}
}

func TestReplicaDirectoryLost(t *testing.T) {
	fs := vfs.NewMem()
	db := openTest(t, fs, "a", "b")
	for i := range 100 {
		set(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	db.Close()
	if err := fs.RemoveAll("a"); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, fs, "a", "b")
	db.Close()
	d := openTest(t, fs, "a")
	defer d.Close()
	it, err := d.NewIter([]byte("k"), []byte("l"))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if n != 100 {
		t.Fatalf("re-created replica holds %d keys, want 100", n)
	}
}

func TestAnyWithPrefixSeesGroupAndDeletes(t *testing.T) {
	db := openTest(t, vfs.Default, t.TempDir())
	defer db.Close()
	set(t, db, "o/b/1", "v")
	err := db.Update(func(tx *Txn) error {
		if ok, _ := tx.AnyWithPrefix([]byte("o/b/")); !ok {
			t.Error("committed key not seen")
		}
		tx.Delete([]byte("o/b/1"))
		if ok, _ := tx.AnyWithPrefix([]byte("o/b/")); ok {
			t.Error("deleted key still seen")
		}
		tx.Set([]byte("o/b/2"), nil)
		if ok, _ := tx.AnyWithPrefix([]byte("o/b/")); !ok {
			t.Error("own write not seen")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("\xff\xff"), nil},
		{[]byte("o/b/"), []byte("o/b0")},
	} {
		if got := PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestObjectCodecRoundTrip(t *testing.T) {
	in := Object{
		DataID: [16]byte{1, 2, 3}, Size: 1 << 40, ETag: "abc-3", ModTime: -5,
		ContentType: "text/plain", Expires: "x", UserMeta: [][2]string{{"a", "1"}, {"b", ""}},
		StoredSize: 7, Inline: []byte{}, InlineSum: 42, Crypto: []byte{9}, Parts: []Part{{Number: 1, Size: 5, ETag: "x", Layout: []byte{}}, {Number: 2}}, ChecksumAlgorithm: "CRC32", ChecksumValue: "AAAA",
	}
	var out Object
	if err := out.Unmarshal(in.Marshal(nil)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", in) != fmt.Sprintf("%+v", out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	if out.Inline == nil {
		t.Fatal("empty inline data decoded as absent")
	}
}

func FuzzObjectUnmarshal(f *testing.F) {
	f.Add((&Object{ETag: "e", UserMeta: [][2]string{{"k", "v"}}, Layout: []byte{1}}).Marshal(nil))
	f.Add([]byte{1, 1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Object
		if o.Unmarshal(b) != nil {
			return
		}
		var again Object
		if err := again.Unmarshal(o.Marshal(nil)); err != nil {
			t.Fatalf("re-encoding a decoded record fails: %v", err)
		}
	})
}
