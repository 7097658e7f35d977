package crypto

// Stream format constants (FORMAT.md, "Stream format v1").
const (
	// FormatVersion is the version of the sealed stream format this package
	// writes. It is bound into every chunk's associated data, so a stream can
	// only be opened as the version it was written with. The stream itself
	// carries no header: callers record the version next to the sealed key.
	FormatVersion = 1

	// ChunkSize is the plaintext size of every chunk except the final one.
	ChunkSize = 64 << 10

	// TagSize is the AES-GCM tag appended to every chunk.
	TagSize = 16

	// SealedChunkSize is the sealed size of every chunk except the final one.
	SealedChunkSize = ChunkSize + TagSize

	// MaxChunks bounds the number of chunks in one stream.
	MaxChunks = 1 << 32

	// MaxPlainSize is the largest plaintext one stream can carry (256 TiB).
	MaxPlainSize = MaxChunks * ChunkSize
)

// numChunks returns how many chunks a stream of plain bytes has. The empty
// stream has one (empty, final) chunk.
func numChunks(plain int64) int64 {
	if plain == 0 {
		return 1
	}
	return (plain + ChunkSize - 1) / ChunkSize
}

// SealedSize returns the exact sealed size of a stream of plain plaintext
// bytes, or -1 if plain is negative or larger than MaxPlainSize.
func SealedSize(plain int64) int64 {
	if plain < 0 || plain > MaxPlainSize {
		return -1
	}
	return plain + numChunks(plain)*TagSize
}

// PlainSize returns the plaintext size of a sealed stream of sealed bytes.
// It is the inverse of SealedSize and fails with ErrSealedSize for every
// length SealedSize does not produce.
func PlainSize(sealed int64) (int64, error) {
	if sealed < TagSize {
		return 0, ErrSealedSize
	}
	full, rem := sealed/SealedChunkSize, sealed%SealedChunkSize
	var plain int64
	switch {
	case rem == 0:
		plain = full * ChunkSize
	case rem < TagSize, rem == TagSize && full > 0:
		// A tail shorter than a tag, or an empty final chunk after full
		// chunks: the writer never produces either.
		return 0, ErrSealedSize
	default:
		plain = full*ChunkSize + rem - TagSize
	}
	if plain > MaxPlainSize {
		return 0, ErrSealedSize
	}
	return plain, nil
}

// Range says which sealed bytes cover a plaintext range and how to cut the
// requested plaintext out of them. It is a plain value produced by MapRange;
// NewDecryptReader accepts only a Range equal to what MapRange returns for
// its PlainSize, Offset and Length.
type Range struct {
	PlainSize int64 // plaintext size of the whole stream
	Offset    int64 // first plaintext byte wanted
	Length    int64 // plaintext bytes wanted

	FirstChunk   int64 // index of the first chunk to read
	Skip         int64 // plaintext bytes to discard from the first chunk
	SealedOffset int64 // offset of FirstChunk in the sealed stream
	SealedLength int64 // sealed bytes to read: whole chunks
}

// MapRange maps the plaintext range [off, off+n) of a stream of plainSize
// bytes onto the whole sealed chunks that cover it. A zero-length range maps
// to the one chunk holding off (the final chunk when off == plainSize), so
// that reading it still authenticates data: an empty stream's range is its
// final chunk.
func MapRange(plainSize, off, n int64) (Range, error) {
	if plainSize < 0 || plainSize > MaxPlainSize || off < 0 || n < 0 || off > plainSize || n > plainSize-off {
		return Range{}, ErrRange
	}
	last := numChunks(plainSize) - 1
	first := min(off/ChunkSize, last)
	end := first
	if n > 0 {
		end = (off + n - 1) / ChunkSize
	}
	sealedOff := first * SealedChunkSize
	sealedEnd := min((end+1)*SealedChunkSize, SealedSize(plainSize))
	return Range{
		PlainSize:    plainSize,
		Offset:       off,
		Length:       n,
		FirstChunk:   first,
		Skip:         off - first*ChunkSize,
		SealedOffset: sealedOff,
		SealedLength: sealedEnd - sealedOff,
	}, nil
}

// lastChunk returns the index of the last chunk the range reads.
func (r Range) lastChunk() int64 {
	return r.FirstChunk + (r.SealedLength+SealedChunkSize-1)/SealedChunkSize - 1
}
