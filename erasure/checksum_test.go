package erasure

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// bitwiseCRC32C is an independent, table-free CRC-32C (reflected polynomial
// 0x82F63B78) to check the stdlib-accelerated one and our position prefix.
func bitwiseCRC32C(p []byte) uint32 {
	crc := ^uint32(0)
	for _, b := range p {
		crc ^= uint32(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82f63b78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestChecksumDefinition(t *testing.T) {
	if got := bitwiseCRC32C([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("reference CRC-32C check value = %#x, want 0xe3069283", got)
	}
	r := seeded(t)
	for _, n := range []int{0, 1, 15, 64, 1000, 4099} {
		var id [16]byte
		copy(id[:], randBytes(r, 16))
		shard, block := r.IntN(256), r.Uint64()
		p := randBytes(r, n)
		msg := append([]byte(nil), id[:]...)
		msg = binary.LittleEndian.AppendUint32(msg, uint32(shard))
		msg = binary.LittleEndian.AppendUint64(msg, block)
		msg = append(msg, p...)
		if got, want := Checksum(id, shard, block, p), bitwiseCRC32C(msg); got != want {
			t.Fatalf("Checksum(len %d) = %#x, want CRC-32C(id|shard|block|data) = %#x", n, got, want)
		}
	}
}

// TestChecksumBindsPosition moves intact blocks between shards, stripes and
// streams, the way a misplaced or swapped file would, and expects every move
// to be detected.
func TestChecksumBindsPosition(t *testing.T) {
	r := seeded(t)
	c, err := New(4, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	var idA, idB [16]byte
	copy(idA[:], randBytes(r, 16))
	copy(idB[:], idA[:])
	idB[15] ^= 1
	stripes := encodeStream(t, c, randBytes(r, 3*4096))
	sums := make([][]uint32, len(stripes))
	for b, blocks := range stripes {
		sums[b] = make([]uint32, len(blocks))
		for i, sh := range blocks {
			sums[b][i] = Checksum(idA, i, uint64(b), sh)
		}
	}
	for b, blocks := range stripes {
		for i, sh := range blocks {
			if Checksum(idB, i, uint64(b), sh) == sums[b][i] {
				t.Errorf("block %d/%d verifies under another stream id", b, i)
			}
			for b2 := range stripes {
				for i2 := range blocks {
					if b2 == b && i2 == i {
						continue
					}
					// The block of (b, i) read where (b2, i2) was expected.
					if Checksum(idA, i2, uint64(b2), sh) == sums[b2][i2] {
						t.Errorf("block %d/%d verifies in place of %d/%d", b, i, b2, i2)
					}
				}
			}
		}
	}
}

func TestChecksumDetectsBitrot(t *testing.T) {
	r := seeded(t)
	var id [16]byte
	p := randBytes(r, 256<<10)
	want := Checksum(id, 3, 9, p)
	for range 200 {
		q := append([]byte(nil), p...)
		switch r.IntN(3) {
		case 0: // single bit
			q[r.IntN(len(q))] ^= 1 << r.IntN(8)
		case 1: // a burst of up to 32 bits
			at := r.IntN(len(q) - 4)
			v := binary.LittleEndian.Uint32(q[at:]) ^ (r.Uint32() | 1)
			binary.LittleEndian.PutUint32(q[at:], v)
		case 2: // a zeroed sector
			at := r.IntN(len(q)/512) * 512
			if allZero(q[at : at+512]) {
				continue
			}
			clear(q[at : at+512])
		}
		if Checksum(id, 3, 9, q) == want {
			t.Fatal("corruption not detected")
		}
	}
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

func TestSelfTest(t *testing.T) {
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
}

// TestSelfTestGeneric recomputes the known answer with the library's portable
// kernels, so the checked-in digest is not merely what this CPU's SIMD path
// happens to produce.
func TestSelfTestGeneric(t *testing.T) {
	d, err := selfTestDigest(reedsolomon.WithSSSE3(false), reedsolomon.WithAVX2(false),
		reedsolomon.WithSSE2(false), reedsolomon.WithAVX512(false), reedsolomon.WithGFNI(false),
		reedsolomon.WithAVXGFNI(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(d[:]); got != selfTestWant {
		t.Fatalf("generic digest %s, want %s", got, selfTestWant)
	}
}

// TestSelfTestDetectsWrongCode shows that the self-test fails when the coding
// differs: a codec with another (valid) matrix yields another digest.
func TestSelfTestDetectsWrongCode(t *testing.T) {
	d, err := selfTestDigest(reedsolomon.WithCauchyMatrix())
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(d[:]) == selfTestWant {
		t.Fatal("a different coding matrix produced the known answer")
	}
}
