package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// seeded returns a random source and logs its seed if the test fails.
func seeded(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: %d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randBytes(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

var layouts = []struct{ k, m int }{
	{1, 0}, {1, 1}, {1, 3}, {2, 0}, {2, 1}, {2, 2}, {3, 2}, {4, 2}, {5, 3}, {6, 3}, {8, 4}, {12, 4}, {10, 6},
}

// encodeStream encodes a whole stream stripe by stripe and returns, for each
// stripe, its k+m shard blocks (copied out of the reused buffers).
func encodeStream(t *testing.T, c *Codec, data []byte) [][][]byte {
	t.Helper()
	stripe := make([]byte, 0, c.StripeBufferSize())
	shards := make([][]byte, c.TotalShards())
	parity := make([][]byte, c.ParityShards())
	for j := range parity {
		parity[j] = make([]byte, c.ShardBlockSize())
	}
	var out [][][]byte
	for off := 0; off < len(data); off += c.BlockSize() {
		n := min(c.BlockSize(), len(data)-off)
		stripe = append(stripe[:0], data[off:off+n]...)
		copy(shards[c.DataShards():], parity)
		if err := c.Encode(stripe, shards); err != nil {
			t.Fatalf("Encode(stripe at %d, %d bytes): %v", off, n, err)
		}
		blocks := make([][]byte, len(shards))
		for i, sh := range shards {
			if len(sh) != c.ShardLen(n) {
				t.Fatalf("shard %d has %d bytes, want %d", i, len(sh), c.ShardLen(n))
			}
			blocks[i] = append([]byte(nil), sh...)
		}
		out = append(out, blocks)
	}
	return out
}

// join concatenates the data shard blocks of every stripe and trims the
// padding, the way a reader rebuilds the stream.
func join(c *Codec, stripes [][][]byte, size int64) []byte {
	var out []byte
	for b, blocks := range stripes {
		n := c.StripeLen(size, int64(b))
		start := len(out)
		for _, sh := range blocks[:c.DataShards()] {
			out = append(out, sh...)
		}
		out = out[:start+n]
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	r := seeded(t)
	const bs = 4096 + 3
	for _, l := range layouts {
		c, err := New(l.k, l.m, bs)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{0, 1, l.k - 1, l.k, l.k + 1, bs - 1, bs, bs + 1, 3*bs - 1, 3 * bs, 3*bs + 7} {
			if size < 0 {
				continue
			}
			t.Run(fmt.Sprintf("%d+%d/%d", l.k, l.m, size), func(t *testing.T) {
				data := randBytes(r, size)
				stripes := encodeStream(t, c, data)
				if got := int64(len(stripes)); got != c.Stripes(int64(size)) {
					t.Fatalf("%d stripes, Stripes says %d", got, c.Stripes(int64(size)))
				}
				var shardBytes int64
				for _, blocks := range stripes {
					shardBytes += int64(len(blocks[0]))
				}
				if shardBytes != c.ShardSize(int64(size)) {
					t.Fatalf("shard holds %d bytes, ShardSize says %d", shardBytes, c.ShardSize(int64(size)))
				}
				if got := join(c, stripes, int64(size)); !bytes.Equal(got, data) {
					t.Fatal("joined data shards differ from the stream")
				}
				for _, blocks := range stripes {
					if ok, err := c.Verify(blocks); err != nil || !ok {
						t.Fatalf("Verify = %v, %v on freshly encoded stripe", ok, err)
					}
				}
			})
		}
	}
}

// TestEncodeZeroesPadding checks that garbage left in a reused stripe buffer
// beyond the stream bytes never reaches the shards.
func TestEncodeZeroesPadding(t *testing.T) {
	c, err := New(4, 2, 1000)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789") // 10 bytes: shard blocks of 3, 2 padding bytes
	clean := make([]byte, len(data), c.StripeBufferSize())
	copy(clean, data)
	dirty := make([]byte, len(data), c.StripeBufferSize())
	copy(dirty, data)
	for i := len(data); i < cap(dirty); i++ {
		dirty[:cap(dirty)][i] = 0xff
	}
	shardsOf := func(stripe []byte) [][]byte {
		sh := make([][]byte, 6)
		sh[4], sh[5] = make([]byte, c.ShardBlockSize()), make([]byte, c.ShardBlockSize())
		if err := c.Encode(stripe, sh); err != nil {
			t.Fatal(err)
		}
		return sh
	}
	a, b := shardsOf(clean), shardsOf(dirty)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("shard %d depends on bytes past the stripe: %x vs %x", i, a[i], b[i])
		}
	}
	if !bytes.Equal(a[3], []byte{'9', 0, 0}) {
		t.Fatalf("last data shard = %q, want \"9\\x00\\x00\"", a[3])
	}
}

func TestEncodeErrors(t *testing.T) {
	c, err := New(4, 2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	parity := func(n int) [][]byte {
		sh := make([][]byte, 6)
		sh[4], sh[5] = make([]byte, n), make([]byte, n)
		return sh
	}
	cases := []struct {
		name   string
		stripe []byte
		shards [][]byte
		want   error
	}{
		{"empty", make([]byte, 0, 1024), parity(256), ErrEmptyStripe},
		{"longer than block", make([]byte, 1025), parity(257), ErrBlockSize},
		{"stripe capacity", make([]byte, 1023), parity(256), ErrShortBuffer},
		{"parity capacity", make([]byte, 1024), parity(255), ErrShortBuffer},
		{"shard count", make([]byte, 1024), make([][]byte, 5), ErrShardSize},
	}
	for _, tc := range cases {
		if err := c.Encode(tc.stripe, tc.shards); !errors.Is(err, tc.want) {
			t.Errorf("%s: Encode = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		k, m, bs   int
		wantShards bool
		wantBlock  bool
	}{
		{0, 2, 1024, true, false},
		{4, -1, 1024, true, false},
		{200, 57, 1024, true, false},
		{4, 2, 0, false, true},
		{4, 2, MaxBlockSize + 1, false, true},
		{0, 0, -5, true, true},
	} {
		_, err := New(tc.k, tc.m, tc.bs)
		if errors.Is(err, ErrShardCount) != tc.wantShards || errors.Is(err, ErrBlockSize) != tc.wantBlock {
			t.Errorf("New(%d, %d, %d) = %v; want shard-count error %v, block-size error %v",
				tc.k, tc.m, tc.bs, err, tc.wantShards, tc.wantBlock)
		}
	}
	if _, err := New(200, 56, MaxBlockSize); err != nil {
		t.Errorf("New(200, 56, MaxBlockSize) = %v, want success at the limits", err)
	}
}

// forEachSubset calls fn with every subset of {0..n-1} of at most max elements.
func forEachSubset(n, max int, fn func(lost []int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		fn(cur)
		if len(cur) == max {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func TestReconstructEveryCombination(t *testing.T) {
	r := seeded(t)
	for _, l := range []struct{ k, m int }{{1, 1}, {1, 3}, {2, 1}, {2, 2}, {3, 2}, {4, 2}, {5, 3}, {6, 3}, {8, 4}} {
		c, err := New(l.k, l.m, 64*l.k+5)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 64*l.k + 5, 64*l.k - 9} {
			if size < 1 {
				continue
			}
			data := randBytes(r, size)
			orig := encodeStream(t, c, data)[0]
			s := len(orig[0])
			var id [16]byte
			sums := make([]uint32, len(orig))
			for i, sh := range orig {
				sums[i] = Checksum(id, i, 0, sh)
			}
			combos := 0
			forEachSubset(l.k+l.m, l.m, func(lost []int) {
				combos++
				for _, dataOnly := range []bool{false, true} {
					work := make([][]byte, len(orig))
					for i := range orig {
						work[i] = append(make([]byte, 0, s+8), orig[i]...)
					}
					// Every other lost shard is corrupt rather than missing:
					// its checksum must catch it, as a reader would.
					for n, i := range lost {
						if n%2 == 1 {
							work[i][r.IntN(s)] ^= byte(1 + r.IntN(255))
						}
					}
					for n, i := range lost {
						if n%2 == 1 && Checksum(id, i, 0, work[i]) == sums[i] {
							t.Fatalf("corrupt shard %d passes its checksum", i)
						}
						work[i] = work[i][:0]
						// stale bytes in the capacity must be overwritten
						for j := range work[i][:s] {
							work[i][:s][j] = 0xee
						}
					}
					var req []bool
					if dataOnly {
						req = make([]bool, l.k)
						for i := range req {
							req[i] = true
						}
					}
					if err := c.Reconstruct(work, req); err != nil {
						t.Fatalf("%d+%d size %d lost %v dataOnly=%v: %v", l.k, l.m, size, lost, dataOnly, err)
					}
					for i := range orig {
						if dataOnly && i >= l.k {
							continue
						}
						if !bytes.Equal(work[i], orig[i]) {
							t.Fatalf("%d+%d size %d lost %v dataOnly=%v: shard %d wrong", l.k, l.m, size, lost, dataOnly, i)
						}
					}
				}
			})
			if combos < 1<<min(l.m, 3) {
				t.Fatalf("only %d combinations tried", combos)
			}
		}
	}
}

func TestReconstructTooMany(t *testing.T) {
	r := seeded(t)
	for _, l := range []struct{ k, m int }{{1, 0}, {2, 1}, {4, 2}, {6, 3}} {
		c, err := New(l.k, l.m, 1000)
		if err != nil {
			t.Fatal(err)
		}
		orig := encodeStream(t, c, randBytes(r, 1000))[0]
		forEachSubset(l.k+l.m, l.m+1, func(lost []int) {
			if len(lost) != l.m+1 {
				return
			}
			work := make([][]byte, len(orig))
			for i := range orig {
				work[i] = append([]byte(nil), orig[i]...)
			}
			for _, i := range lost {
				work[i] = work[i][:0]
			}
			if err := c.Reconstruct(work, nil); !errors.Is(err, ErrTooFewShards) {
				t.Fatalf("%d+%d lost %v: Reconstruct = %v, want ErrTooFewShards", l.k, l.m, lost, err)
			}
			for i := range orig {
				if len(work[i]) != 0 && !bytes.Equal(work[i], orig[i]) {
					t.Fatalf("%d+%d lost %v: present shard %d modified", l.k, l.m, lost, i)
				}
			}
		})
	}
}

func TestReconstructBadArguments(t *testing.T) {
	c, err := New(4, 2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := func() [][]byte {
		sh := make([][]byte, 6)
		for i := range sh {
			sh[i] = make([]byte, 256)
		}
		return sh
	}
	sh := good()
	sh[1] = sh[1][:100]
	if err := c.Reconstruct(sh, nil); !errors.Is(err, ErrShardSize) {
		t.Errorf("unequal shard lengths: %v", err)
	}
	sh = good()
	sh[0] = make([]byte, 0, 255)
	if err := c.Reconstruct(sh, nil); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("missing shard without capacity: %v", err)
	}
	sh = good()
	sh[0] = nil
	if err := c.Reconstruct(sh, []bool{false, true, true, true}); err != nil {
		t.Errorf("unrequired missing shard without capacity: %v", err)
	}
	if sh[0] != nil {
		t.Errorf("unrequired shard was filled")
	}
	if err := c.Reconstruct(good()[:5], nil); !errors.Is(err, ErrShardSize) {
		t.Errorf("5 shards: %v", err)
	}
	if err := c.Reconstruct(good(), []bool{true}); !errors.Is(err, ErrShardSize) {
		t.Errorf("required of length 1: %v", err)
	}
	if err := c.Reconstruct(make([][]byte, 6), nil); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("all missing: %v", err)
	}
}

func TestVerifyDetectsBadParity(t *testing.T) {
	r := seeded(t)
	c, err := New(4, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	blocks := encodeStream(t, c, randBytes(r, 4096))[0]
	blocks[5][r.IntN(len(blocks[5]))] ^= 1 << r.IntN(8)
	if ok, err := c.Verify(blocks); err != nil || ok {
		t.Fatalf("Verify = %v, %v on a stripe with a flipped parity bit", ok, err)
	}
}

func TestSizes(t *testing.T) {
	c, err := New(3, 2, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.ShardBlockSize() != 334 || c.StripeBufferSize() != 1002 {
		t.Fatalf("ShardBlockSize %d StripeBufferSize %d, want 334 1002", c.ShardBlockSize(), c.StripeBufferSize())
	}
	for _, tc := range []struct {
		size            int64
		stripes, shard  int64
		last, lastShard int
	}{
		{0, 0, 0, 0, 0},
		{1, 1, 1, 1, 1},
		{999, 1, 333, 999, 333},
		{1000, 1, 334, 1000, 334},
		{1001, 2, 335, 1, 1},
		{2500, 3, 334*2 + 167, 500, 167},
	} {
		if got := c.Stripes(tc.size); got != tc.stripes {
			t.Errorf("Stripes(%d) = %d, want %d", tc.size, got, tc.stripes)
		}
		if got := c.ShardSize(tc.size); got != tc.shard {
			t.Errorf("ShardSize(%d) = %d, want %d", tc.size, got, tc.shard)
		}
		if tc.stripes > 0 {
			n := c.StripeLen(tc.size, tc.stripes-1)
			if n != tc.last || c.ShardLen(n) != tc.lastShard {
				t.Errorf("size %d: last stripe %d bytes, shard block %d; want %d, %d", tc.size, n, c.ShardLen(n), tc.last, tc.lastShard)
			}
		}
		if got := c.StripeLen(tc.size, tc.stripes); got != 0 {
			t.Errorf("StripeLen past the end of %d = %d", tc.size, got)
		}
	}
}

// TestEncodeDoesNotAllocate checks that Encode and Checksum add no
// allocation to what the Reed-Solomon library itself does for one stripe
// (zero on GFNI CPUs; on AVX2-only CPUs the library boxes a pooled scratch
// slice once per call).
func TestEncodeDoesNotAllocate(t *testing.T) {
	c, err := New(4, 2, DefaultBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	stripe := make([]byte, DefaultBlockSize, c.StripeBufferSize())
	shards := make([][]byte, 6)
	parity := [][]byte{make([]byte, c.ShardBlockSize()), make([]byte, c.ShardBlockSize())}
	var id [16]byte
	ours := testing.AllocsPerRun(20, func() {
		copy(shards[4:], parity)
		if err := c.Encode(stripe, shards); err != nil {
			t.Fatal(err)
		}
		for i, sh := range shards {
			_ = Checksum(id, i, 7, sh)
		}
	})
	lib := testing.AllocsPerRun(20, func() {
		if err := c.enc.Encode(shards); err != nil {
			t.Fatal(err)
		}
	})
	if ours > lib {
		t.Fatalf("Encode+Checksum allocate %.1f times per stripe, the library alone %.1f", ours, lib)
	}
	if a := testing.AllocsPerRun(20, func() { _ = Checksum(id, 1, 2, stripe) }); a != 0 {
		t.Fatalf("Checksum allocates %.1f times", a)
	}
	t.Logf("allocations per stripe: ours %.1f, library %.1f", ours, lib)
}

func TestConcurrentUse(t *testing.T) {
	r := seeded(t)
	c, err := New(4, 2, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(r, 64<<10)
	want := encodeStream(t, c, data)[0]
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for it := 0; it < 20; it++ {
				work := make([][]byte, 6)
				for i := range work {
					work[i] = append([]byte(nil), want[i]...)
				}
				work[(g+it)%6] = work[(g+it)%6][:0]
				work[(g+it+3)%6] = work[(g+it+3)%6][:0]
				if err := c.Reconstruct(work, nil); err != nil {
					done <- err
					return
				}
				for i := range work {
					if !bytes.Equal(work[i], want[i]) {
						done <- fmt.Errorf("goroutine %d: shard %d wrong", g, i)
						return
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
