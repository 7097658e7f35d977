package chunkstore

import (
	"bytes"
	"slices"
	"testing"
)

func FuzzDecodeLayout(f *testing.F) {
	f.Add(Layout{4, 2, 1 << 20, []int{0, 1, 2, 3, 4, 5}}.AppendBinary(nil))
	f.Add(Layout{1, 0, 1, []int{7}}.AppendBinary(nil))
	f.Add([]byte{1, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, n, err := DecodeLayout(b)
		if err != nil {
			return
		}
		if n < 1 || n > len(b) || n > maxLayoutLen {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if err := l.validate(MaxDrives); err != nil {
			t.Fatalf("decoded an invalid layout: %v", err)
		}
		// Canonical encodings round-trip exactly.
		enc := l.AppendBinary(nil)
		l2, n2, err := DecodeLayout(enc)
		if err != nil || n2 != len(enc) || l2.DataShards != l.DataShards || l2.ParityShards != l.ParityShards ||
			l2.BlockSize != l.BlockSize || !slices.Equal(l2.Drives, l.Drives) {
			t.Fatalf("re-encoding does not round-trip: %+v vs %+v (%v)", l, l2, err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	var b [headerSize]byte
	h := header{k: 4, m: 2, shard: 1, blockSize: 1 << 20, id: ID{1, 2, 3}}
	h.encode(&b)
	f.Add(b[:])
	f.Add([]byte("COFFERSH"))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := parseHeader(p)
		if err != nil {
			return
		}
		var again [headerSize]byte
		h.encode(&again)
		if !bytes.Equal(again[:], p[:headerSize]) {
			t.Fatalf("accepted header does not re-encode to itself")
		}
	})
}

func FuzzParseFooter(f *testing.F) {
	id := ID{0xaa, 0xbb}
	f.Add(appendFooter(nil, id, 2, []byte("trailer"), Layout{4, 2, 1 << 20, []int{0, 1, 2, 3, 4, 5}}, 99), uint8(2))
	f.Add(appendFooter(nil, id, 0, nil, Layout{1, 0, 10, []int{0}}, 0), uint8(0))
	f.Add([]byte("COFFERFT"), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, shard uint8) {
		ft, err := parseFooter(b, id, int(shard))
		if err != nil {
			return
		}
		if len(ft.trailer) > MaxTrailerSize || ft.size < 0 || int(shard) >= len(ft.layout.Drives) {
			t.Fatalf("accepted footer out of bounds: %d-byte trailer, size %d, shard %d of %d", len(ft.trailer), ft.size, shard, len(ft.layout.Drives))
		}
		again := appendFooter(nil, id, int(shard), ft.trailer, ft.layout, ft.size)
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted footer does not re-encode to itself")
		}
	})
}

func FuzzParseShardName(f *testing.F) {
	f.Add(shardName(ID{1}, 5))
	f.Add("README")
	f.Fuzz(func(t *testing.T, name string) {
		id, shard, ok := parseShardName(name)
		if ok && shardName(id, shard) != name {
			t.Fatalf("accepted %q, which is not canonical (%q)", name, shardName(id, shard))
		}
	})
}
