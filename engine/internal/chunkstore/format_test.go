package chunkstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOptionsValidate(t *testing.T) {
	o := Options{
		Drives:       []string{"a", "", "a"},
		DataShards:   0,
		ParityShards: -1,
		BlockSize:    -5,
	}
	err := o.Validate()
	for _, want := range []string{"FS is required", "drive 1 has an empty path", `drives 0 and 2 are both "a"`,
		"DataShards is 0", "ParityShards is -1", "BlockSize is -5"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, missing %q", err, want)
		}
	}
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Validate() does not wrap ErrInvalidOptions")
	}
	o = Options{FS: vfs.NewMem(), Drives: []string{"a", "b"}, DataShards: 2, ParityShards: 1}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "need 3 drives, have 2") {
		t.Errorf("too few drives: %v", err)
	}
	o.ParityShards = 0
	if err := o.Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestIDString(t *testing.T) {
	id := ID{0x01, 0xab, 0xff}
	if got := id.String(); got != "01abff00000000000000000000000000" {
		t.Fatalf("String() = %s", got)
	}
	back, err := ParseID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseID(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "01ABFF00000000000000000000000000", "01abff0000000000000000000000000", "01abff00000000000000000000000000 "} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	if a, b := NewID(), NewID(); a == b {
		t.Fatal("NewID repeats")
	}
}

func TestLayoutEncoding(t *testing.T) {
	for _, l := range []Layout{
		{1, 0, 1, []int{0}},
		{4, 2, 1 << 20, []int{3, 4, 5, 0, 1, 2}},
		{12, 4, 16 << 20, []int{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1023}},
	} {
		b := l.AppendBinary([]byte("prefix"))
		got, n, err := DecodeLayout(append(b[6:], "suffix"...))
		if err != nil || n != len(b)-6 || got.DataShards != l.DataShards || got.ParityShards != l.ParityShards ||
			got.BlockSize != l.BlockSize || !slices.Equal(got.Drives, l.Drives) {
			t.Fatalf("round trip of %+v: %+v, %d, %v", l, got, n, err)
		}
		if n > maxLayoutLen {
			t.Fatalf("encoded layout of %d bytes exceeds maxLayoutLen", n)
		}
		for cut := 0; cut < n; cut++ {
			if _, _, err := DecodeLayout(b[6 : 6+cut]); !errors.Is(err, ErrInvalidLayout) {
				t.Fatalf("truncated to %d bytes: %v", cut, err)
			}
		}
	}
	for name, b := range map[string][]byte{
		"version":        {2, 1, 0, 1, 0},
		"zero k":         {1, 0, 0, 1},
		"too many":       {1, 200, 57, 1},
		"zero block":     {1, 1, 0, 0, 0},
		"huge block":     binary.AppendUvarint([]byte{1, 1, 0}, 1<<40),
		"duplicate":      {1, 2, 0, 1, 3, 3},
		"drive too high": binary.AppendUvarint([]byte{1, 1, 0, 1}, MaxDrives),
		"overlong":       {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	} {
		if _, _, err := DecodeLayout(b); !errors.Is(err, ErrInvalidLayout) {
			t.Errorf("%s: DecodeLayout = %v, want ErrInvalidLayout", name, err)
		}
	}
}

func TestHeaderAndFooter(t *testing.T) {
	id := ID{9, 8, 7}
	h := header{k: 4, m: 2, shard: 5, blockSize: 1 << 20, id: id}
	var b [headerSize]byte
	h.encode(&b)
	got, err := parseHeader(b[:])
	if err != nil || got != h {
		t.Fatalf("header round trip: %+v, %v", got, err)
	}
	for i := range b {
		c := b
		c[i] ^= 0x04
		if _, err := parseHeader(c[:]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("header with byte %d flipped: %v", i, err)
		}
	}

	l := Layout{4, 2, 1 << 20, []int{0, 1, 2, 3, 4, 5}}
	ft := appendFooter(nil, id, 3, []byte("the trailer"), l, 12345)
	f, err := parseFooter(ft, id, 3)
	if err != nil || string(f.trailer) != "the trailer" || f.size != 12345 || !slices.Equal(f.layout.Drives, l.Drives) {
		t.Fatalf("footer round trip: %+v, %v", f, err)
	}
	if _, err := parseFooter(ft, id, 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("footer of shard 3 accepted as shard 2: %v", err)
	}
	if _, err := parseFooter(ft, ID{1}, 3); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("footer accepted for another stream: %v", err)
	}
	for i := range ft {
		c := bytes.Clone(ft)
		c[i] ^= 0x01
		if _, err := parseFooter(c, id, 3); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("footer with byte %d flipped: %v", i, err)
		}
	}
}

func TestShardNames(t *testing.T) {
	id := ID{0xab, 1}
	for _, shard := range []int{0, 9, 10, 255} {
		gotID, gotShard, ok := parseShardName(shardName(id, shard))
		if !ok || gotID != id || gotShard != shard {
			t.Fatalf("shard name round trip for %d: %v %d %v", shard, gotID, gotShard, ok)
		}
	}
	for _, bad := range []string{
		id.String(), id.String() + ".", id.String() + ".256", id.String() + ".01", id.String() + ".-1",
		id.String() + ".+1", id.String() + ".1a", strings.ToUpper(id.String()) + ".1", "README",
	} {
		if _, _, ok := parseShardName(bad); ok {
			t.Errorf("parseShardName(%q) accepted", bad)
		}
	}
}

// TestShardFileSize checks the size formula against real files.
func TestShardFileSize(t *testing.T) {
	r := seeded(t)
	s, _, _ := openTestStore(t, storeConfig{drives: 3, k: 2, m: 1, blockSize: 333, fs: vfs.NewMem()})
	for _, size := range []int{0, 1, 332, 333, 334, 1000} {
		id := randID(r)
		tr := randBytes(r, size%17)
		l, _ := writeStream(t, r, s, id, randBytes(r, size), tr)
		for i, d := range l.Drives {
			fi, err := s.fs.Stat(s.shardPath(d, id, i))
			if err != nil {
				t.Fatal(err)
			}
			if want := shardFileSize(2, 333, int64(size), len(tr), len(l.AppendBinary(nil))); fi.Size() != want {
				t.Fatalf("size %d shard %d: file is %d bytes, formula says %d", size, i, fi.Size(), want)
			}
		}
	}
}
