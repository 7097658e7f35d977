package loadgen

import (
	"bytes"
	"io"
	"testing"
)

// TestPatternBodyAndVerifierAgree writes an object larger than the
// pattern period through body and checks it with verifier in odd-sized
// pieces, then flips single bytes at awkward offsets.
func TestPatternBodyAndVerifierAgree(t *testing.T) {
	p := newPattern(42)
	const size = 2*patternPeriod + 12345
	var b body
	b.reset(p, "k/1", size)
	got, err := io.ReadAll(io.LimitReader(&b, size+10))
	if err != nil || len(got) != size {
		t.Fatalf("read %d, %v", len(got), err)
	}
	var w bytes.Buffer
	b.reset(p, "k/1", size)
	if _, err := b.WriteTo(&w); err != nil || !bytes.Equal(w.Bytes(), got) {
		t.Fatal("WriteTo differs from Read")
	}
	check := func(data []byte) int64 {
		var v verifier
		v.reset(p, "k/1")
		for off := 0; off < len(data); {
			n := min(len(data)-off, 1+off%70001)
			v.check(data[off : off+n])
			off += n
		}
		return v.bad
	}
	if bad := check(got); bad != -1 {
		t.Fatalf("intact data flagged at %d", bad)
	}
	for _, at := range []int{0, 1, patternPeriod - 1, patternPeriod, size - 1} {
		c := bytes.Clone(got)
		c[at] ^= 0x80
		if bad := check(c); bad != int64(at) {
			t.Fatalf("flip at %d reported at %d", at, bad)
		}
	}
	// Another key or seed gives other content.
	var o body
	o.reset(p, "k/2", 4096)
	other, _ := io.ReadAll(&o)
	if bytes.Equal(other, got[:4096]) {
		t.Fatal("two keys share content")
	}
	o.reset(newPattern(43), "k/1", 4096)
	other, _ = io.ReadAll(&o)
	if bytes.Equal(other, got[:4096]) {
		t.Fatal("two seeds share content")
	}
}

// TestPatternCatchesBlockSwap: swapping two 1 MiB blocks of an object (a
// server mixing up stripes) changes the bytes, because the period is not
// a power of two.
func TestPatternCatchesBlockSwap(t *testing.T) {
	p := newPattern(1)
	var b body
	b.reset(p, "x", 4<<20)
	data, _ := io.ReadAll(&b)
	sw := bytes.Clone(data)
	copy(sw[1<<20:2<<20], data[2<<20:3<<20])
	copy(sw[2<<20:3<<20], data[1<<20:2<<20])
	var v verifier
	v.reset(p, "x")
	v.check(sw)
	if v.bad != 1<<20 {
		t.Fatalf("swap reported at %d", v.bad)
	}
}

func BenchmarkVerify(b *testing.B) {
	p := newPattern(1)
	var bd body
	bd.reset(p, "x", 1<<20)
	data, _ := io.ReadAll(&bd)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var v verifier
	for b.Loop() {
		v.reset(p, "x")
		for off := 0; off < len(data); off += 256 << 10 {
			v.check(data[off : off+256<<10])
		}
	}
}

func BenchmarkBodyRead(b *testing.B) {
	p := newPattern(1)
	buf := make([]byte, 256<<10)
	var bd body
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		bd.reset(p, "x", 1<<20)
		for {
			if _, err := bd.Read(buf); err != nil {
				break
			}
		}
	}
}
