package loadgen

import (
	"encoding/binary"
	"errors"
	"io"
)

// patternPeriod is the period of the content pattern: a prime just above
// 1 MiB, so that no power-of-two block size a server uses (chunks,
// stripes, shards) divides it, and a server that returns the right bytes
// at the wrong block offset is caught.
const patternPeriod = 1048583

// pattern is the content of every object of a run. The bytes of object
// key at offset i are base[(i+shift(key)) mod patternPeriod], where base is
// a pseudo-random block derived from the seed and shift a 64-bit hash of
// seed and key. Writing and checking content thus costs a memory copy or
// compare, never generation. Two different keys have the same content with
// probability 1/patternPeriod (a swapped object is caught with probability
// 1−1/patternPeriod; a wrong or shifted byte always is).
//
// A pattern is immutable once built and safe for concurrent use.
type pattern struct {
	seed uint64
	buf  []byte // base twice over, so any window up to patternPeriod is contiguous
}

func newPattern(seed uint64) *pattern {
	buf := make([]byte, 2*patternPeriod+8)
	x := seed
	for i := 0; i+8 <= patternPeriod+8; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], splitmix(&x))
	}
	copy(buf[patternPeriod:], buf[:patternPeriod])
	return &pattern{seed: seed, buf: buf[:2*patternPeriod]}
}

// splitmix is the SplitMix64 generator step.
func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// shift is the pattern offset of key.
func (p *pattern) shift(key string) int {
	// FNV-1a over the seed's eight bytes and the key, then one SplitMix
	// step to spread the bits.
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < 8; i++ {
		h = (h ^ (p.seed >> (8 * i) & 0xff)) * prime64
	}
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime64
	}
	return int(splitmix(&h) % patternPeriod)
}

// window returns up to n expected bytes of the object whose shift is sh,
// starting at offset off. The slice is shared and must not be modified.
func (p *pattern) window(sh int, off int64, n int) []byte {
	start := int((int64(sh) + off%patternPeriod) % patternPeriod)
	n = min(n, patternPeriod)
	return p.buf[start : start+n]
}

// fill writes the content of the object with shift sh at offset off into b.
func (p *pattern) fill(b []byte, sh int, off int64) {
	for len(b) > 0 {
		n := copy(b, p.window(sh, off, len(b)))
		b, off = b[n:], off+int64(n)
	}
}

// body is an io.ReadSeeker over one object's content. A worker reuses one
// body for all its PUTs; reset prepares it for the next object.
type body struct {
	p    *pattern
	sh   int
	off  int64
	size int64
}

func (b *body) reset(p *pattern, key string, size int64) {
	*b = body{p: p, sh: p.shift(key), size: size}
}

// Read copies the next bytes of the object into q.
func (b *body) Read(q []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	q = q[:min(int64(len(q)), b.size-b.off)]
	b.p.fill(q, b.sh, b.off)
	b.off += int64(len(q))
	return len(q), nil
}

// WriteTo writes the rest of the object to w straight from the pattern,
// without an intermediate buffer.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.off < b.size {
		win := b.p.window(b.sh, b.off, int(min(b.size-b.off, 1<<20)))
		n, err := w.Write(win)
		b.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Seek sets the offset for the next Read (the SDK rewinds bodies).
func (b *body) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("loadgen: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("loadgen: negative seek")
	}
	b.off = offset
	return offset, nil
}

// Len reports the unread length (net/http uses it for Content-Length).
func (b *body) Len() int { return int(b.size - b.off) }

// verifier checks a stream against one object's content.
type verifier struct {
	p   *pattern
	sh  int
	off int64
	bad int64 // offset of the first wrong byte, -1 if none
}

func (v *verifier) reset(p *pattern, key string) {
	*v = verifier{p: p, sh: p.shift(key), bad: -1}
}

// check compares the next len(got) bytes of the stream.
func (v *verifier) check(got []byte) {
	for len(got) > 0 {
		want := v.p.window(v.sh, v.off, len(got))
		g := got[:len(want)]
		if v.bad < 0 && string(g) != string(want) {
			for i := range g {
				if g[i] != want[i] {
					v.bad = v.off + int64(i)
					break
				}
			}
		}
		got, v.off = got[len(want):], v.off+int64(len(want))
	}
}
