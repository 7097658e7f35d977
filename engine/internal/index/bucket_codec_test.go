package index

import (
	"bytes"
	"testing"
)

// TestBucketCodecOwner pins the bucket record's encoding: records without
// an owner are byte for byte what versions before owners wrote (so either
// version reads the other's), and the owner is field 3.
func TestBucketCodecOwner(t *testing.T) {
	legacy := []byte{recordVersion, 1, 1, 2, 2, 2, '{', '}'} // Created 1, Config "{}"
	if got := (&Bucket{Created: 1, Config: []byte("{}")}).Marshal(); !bytes.Equal(got, legacy) {
		t.Fatalf("record without owner = %x, want the legacy encoding %x", got, legacy)
	}
	var r Bucket
	if err := r.Unmarshal(legacy); err != nil || r.Owner != "" || r.Created != 1 || string(r.Config) != "{}" {
		t.Fatalf("legacy record decoded as %+v, %v", r, err)
	}

	withOwner := append(bytes.Clone(legacy), 3, 5, 'a', 'l', 'i', 'c', 'e')
	if got := (&Bucket{Created: 1, Config: []byte("{}"), Owner: "alice"}).Marshal(); !bytes.Equal(got, withOwner) {
		t.Fatalf("record with owner = %x, want %x", got, withOwner)
	}
	if err := r.Unmarshal(withOwner); err != nil || r.Owner != "alice" || r.Created != 1 || string(r.Config) != "{}" {
		t.Fatalf("record with owner decoded as %+v, %v", r, err)
	}
	// Decoding resets the previous value: no owner leaks between records.
	if err := r.Unmarshal(legacy); err != nil || r.Owner != "" {
		t.Fatalf("owner survived decoding a record without one: %+v", r)
	}
	// A later field this version does not know is skipped.
	future := append(bytes.Clone(withOwner), 9, 1, 'x')
	if err := r.Unmarshal(future); err != nil || r.Owner != "alice" {
		t.Fatalf("record with an unknown field: %+v, %v", r, err)
	}
	// A truncated owner field is corruption, not a short owner.
	if err := r.Unmarshal(withOwner[:len(withOwner)-1]); err == nil {
		t.Fatal("truncated owner field decoded without error")
	}
	// The decoded owner does not alias the input.
	buf := bytes.Clone(withOwner)
	if err := r.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	buf[len(buf)-1] = 'X'
	if r.Owner != "alice" {
		t.Fatalf("owner aliases the decoded bytes: %q", r.Owner)
	}
}
