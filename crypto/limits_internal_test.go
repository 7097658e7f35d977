package crypto

import (
	"bytes"
	"errors"
	"testing"
)

// TestStreamLimit drives a writer to the last chunk index the format allows
// (by starting its counter there) and checks that it seals the final chunk
// and refuses one more, and that a reader opens that chunk at that index.
func TestStreamLimit(t *testing.T) {
	key := &Key{1}
	id := Identity{Part: 1}
	plain := bytes.Repeat([]byte{7}, ChunkSize)

	var buf bytes.Buffer
	w, err := NewEncryptWriter(&buf, key, id)
	if err != nil {
		t.Fatal(err)
	}
	w.index = MaxChunks - 1
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("chunk beyond MaxChunks: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Close after the limit: %v", err)
	}

	buf.Reset()
	w, _ = NewEncryptWriter(&buf, key, id)
	w.index = MaxChunks - 1
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatalf("final chunk at the last index: %v", err)
	}
	rg, err := MapRange(MaxPlainSize, MaxPlainSize-10, 10)
	if err != nil {
		t.Fatal(err)
	}
	if rg.FirstChunk != MaxChunks-1 || rg.SealedLength != SealedChunkSize {
		t.Fatalf("range %+v", rg)
	}
	d, err := NewDecryptReader(bytes.NewReader(buf.Bytes()), key, id, rg)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := d.Read(got); err != nil || !bytes.Equal(got, plain[:10]) {
		t.Fatalf("last chunk of a maximal stream: %v", err)
	}
}
