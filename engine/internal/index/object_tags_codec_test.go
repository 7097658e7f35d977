package index

import (
	"bytes"
	"slices"
	"testing"
)

// TestObjectCodecTags pins field 20 of the object record: a record
// without tags is what versions before tags wrote, and tags round-trip in
// order, empty values included.
func TestObjectCodecTags(t *testing.T) {
	base := Object{DataID: [16]byte{1}, Size: 3, ETag: "e", ModTime: 7, Inline: []byte("abc"), InlineSum: 9}
	legacy := base.Marshal(nil)
	var r Object
	if err := r.Unmarshal(legacy); err != nil || r.Tags != nil {
		t.Fatalf("legacy record decoded with tags %v, %v", r.Tags, err)
	}

	tagged := base
	tagged.Tags = [][2]string{{"a", ""}, {"b", "2"}}
	enc := tagged.Marshal(nil)
	// Field 20 of each tag is appended after what the legacy record holds.
	want := append(bytes.Clone(legacy), 20, 3, 1, 1, 'a', 20, 6, 1, 1, 'b', 2, 1, '2')
	if !bytes.Equal(enc, want) {
		t.Fatalf("tagged record = %x, want %x", enc, want)
	}
	if err := r.Unmarshal(enc); err != nil || !slices.Equal(r.Tags, tagged.Tags) || string(r.Inline) != "abc" {
		t.Fatalf("tagged record decoded as %+v, %v", r, err)
	}
	if err := r.Unmarshal(legacy); err != nil || r.Tags != nil {
		t.Fatalf("tags survived decoding a record without them: %v", r.Tags)
	}
	// A truncated tag field is corruption.
	if err := r.Unmarshal(enc[:len(enc)-1]); err == nil {
		t.Fatal("truncated tag field decoded without error")
	}
}
