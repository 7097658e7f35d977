package erasure

import (
	"bytes"
	"errors"
	"math/bits"
	"testing"
)

// FuzzReconstruct encodes arbitrary data under an arbitrary layout, loses and
// corrupts an arbitrary set of shards, and checks the decoding contract: the
// checksums flag every corrupted block, up to m lost blocks come back
// exactly, more give ErrTooFewShards.
func FuzzReconstruct(f *testing.F) {
	f.Add([]byte("hello, erasure"), uint8(4), uint8(2), uint64(0b000011), uint64(0))
	f.Add([]byte{0}, uint8(1), uint8(0), uint64(0), uint64(0))
	f.Add(bytes.Repeat([]byte{0xab}, 1000), uint8(3), uint8(3), uint64(0b101010), uint64(0b1))
	f.Add(bytes.Repeat([]byte("abc"), 700), uint8(5), uint8(2), uint64(0b1110000), uint64(0b11))
	f.Fuzz(func(t *testing.T, data []byte, k, m uint8, lostMask, corruptMask uint64) {
		kk, mm := int(k%12)+1, int(m%8)
		if len(data) == 0 || len(data) > 1<<16 {
			return
		}
		c, err := New(kk, mm, len(data))
		if err != nil {
			t.Fatal(err)
		}
		n := kk + mm
		stripe := make([]byte, len(data), c.StripeBufferSize())
		copy(stripe, data)
		shards := make([][]byte, n)
		for j := kk; j < n; j++ {
			shards[j] = make([]byte, c.ShardBlockSize())
		}
		if err := c.Encode(stripe, shards); err != nil {
			t.Fatal(err)
		}
		var id [16]byte
		sums := make([]uint32, n)
		orig := make([][]byte, n)
		for i, sh := range shards {
			sums[i] = Checksum(id, i, 0, sh)
			orig[i] = append([]byte(nil), sh...)
		}
		mask := uint64(1)<<n - 1
		if n == 64 {
			mask = ^uint64(0)
		}
		lostMask &= mask
		corruptMask &= mask &^ lostMask
		for i := range shards {
			if corruptMask&(1<<i) != 0 {
				shards[i][int(lostMask>>8)%len(shards[i])] ^= 0x80
				if Checksum(id, i, 0, shards[i]) == sums[i] {
					t.Fatalf("corrupt shard %d passes its checksum", i)
				}
			}
		}
		// What the reader does: drop every block whose checksum fails.
		for i := range shards {
			if lostMask&(1<<i) != 0 || Checksum(id, i, 0, shards[i]) != sums[i] {
				shards[i] = shards[i][:0]
			}
		}
		bad := bits.OnesCount64(lostMask | corruptMask)
		err = c.Reconstruct(shards, nil)
		if bad > mm {
			if !errors.Is(err, ErrTooFewShards) {
				t.Fatalf("%d of %d+%d shards bad: Reconstruct = %v, want ErrTooFewShards", bad, kk, mm, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d of %d+%d shards bad: %v", bad, kk, mm, err)
		}
		for i := range shards {
			if !bytes.Equal(shards[i], orig[i]) {
				t.Fatalf("shard %d differs after reconstruction", i)
			}
		}
		var got []byte
		for _, sh := range shards[:kk] {
			got = append(got, sh...)
		}
		if !bytes.Equal(got[:len(data)], data) {
			t.Fatal("reconstructed stream differs")
		}
	})
}

// FuzzReconstructInputs feeds Reconstruct shard sets of arbitrary lengths and
// capacities: it must return an error or succeed, never panic, and never
// write past a slice's capacity.
func FuzzReconstructInputs(f *testing.F) {
	f.Add([]byte{4, 2, 10, 10, 0, 10, 10, 10}, []byte{0, 0, 10, 0, 0, 0})
	f.Add([]byte{2, 1, 5, 0, 5}, []byte{5, 0, 5})
	f.Fuzz(func(t *testing.T, lens []byte, caps []byte) {
		if len(lens) < 3 {
			return
		}
		k, m := int(lens[0]%8)+1, int(lens[1]%5)
		c, err := New(k, m, 4096)
		if err != nil {
			t.Fatal(err)
		}
		lens = lens[2:]
		shards := make([][]byte, k+m)
		guards := make([][]byte, k+m)
		for i := range shards {
			l, extra := 0, 0
			if i < len(lens) {
				l = int(lens[i] % 64)
			}
			if i < len(caps) {
				extra = int(caps[i] % 64)
			}
			backing := make([]byte, l+extra+8)
			for j := range backing {
				backing[j] = 0x5a
			}
			shards[i] = backing[: l : l+extra]
			guards[i] = backing[l+extra:]
		}
		_ = c.Reconstruct(shards, nil)
		_ = c.Reconstruct(shards, make([]bool, k))
		_, _ = c.Verify(shards)
		for i, g := range guards {
			if !bytes.Equal(g, bytes.Repeat([]byte{0x5a}, 8)) {
				t.Fatalf("shard %d: bytes past its capacity were written", i)
			}
		}
	})
}
