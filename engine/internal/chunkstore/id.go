package chunkstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// ID identifies one stored stream (an object's data, later a part's). IDs
// must be unique within a Store; NewID draws them at random.
type ID [16]byte

// NewID returns a random ID from crypto/rand.
func NewID() ID {
	var id ID
	rand.Read(id[:]) // never fails (crypto/rand, Go 1.24+)
	return id
}

// String returns the ID as 32 lowercase hex characters, the form used in
// file names.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses the 32 lowercase hex characters String produces.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) || !isLowerHex(s) {
		return ID{}, fmt.Errorf("chunkstore: malformed id %q", s)
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
