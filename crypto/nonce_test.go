package crypto_test

import (
	"bytes"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

// pairLog records every (stream key, nonce) pair that sealed a chunk. The
// pair is not taken from the package: each sealed chunk is opened with the
// FORMAT.md reference, which proves which key and nonce sealed it.
type pairLog struct {
	t      *testing.T
	seen   map[[32 + 12]byte]string
	repeat int
	chunks int
}

func newPairLog(t *testing.T) *pairLog {
	return &pairLog{t: t, seen: make(map[[44]byte]string)}
}

// record seals plain with the package and logs the pairs of its chunks.
func (l *pairLog) record(what string, key *crypto.Key, id crypto.Identity, plain []byte) []byte {
	l.t.Helper()
	sealed := sealStream(l.t, key, id, plain)
	l.log(what, key, id, sealed)
	return sealed
}

func (l *pairLog) log(what string, key *crypto.Key, id crypto.Identity, sealed []byte) {
	l.t.Helper()
	sk, prefix := refStreamKey(key[:], id.ID, id.Part)
	g := refGCM(sk)
	n := (len(sealed) + crypto.SealedChunkSize - 1) / crypto.SealedChunkSize
	for i := 0; i < n; i++ {
		chunk := chunkOf(sealed, i)
		nonce := refNonce(prefix, uint64(i))
		if _, err := g.Open(nil, nonce, chunk, refAAD(id.ID, id.Part, i == n-1)); err != nil {
			l.t.Fatalf("%s chunk %d was not sealed with the FORMAT.md key and nonce", what, i)
		}
		var pair [44]byte
		copy(pair[:], sk)
		copy(pair[32:], nonce)
		if prev, dup := l.seen[pair]; dup {
			l.repeat++
			if l.repeat == 1 {
				l.t.Logf("(key, nonce) of %s chunk %d repeats %s", what, i, prev)
			}
		}
		l.seen[pair] = what
		l.chunks++
	}
}

// TestNonceUniqueness seals many objects, multipart uploads with re-uploaded
// parts, copies and DSSE layers, and checks that no (key, nonce) pair is
// used twice. It also shows the check can fail: reusing a part salt repeats
// pairs, which is why DerivePartKey requires a fresh salt per attempt.
func TestNonceUniqueness(t *testing.T) {
	r := newRand(t)
	log := newPairLog(t)
	sizes := []int{0, 1, 100, C, C + 1, 2*C + 3}
	size := func(i int) []byte {
		n := 10
		if i%200 == 0 {
			n = sizes[r.IntN(len(sizes))]
		}
		return randBytes(r, n)
	}

	// Objects, overwrites of the same id, retries: a new key each time.
	objects := 80000
	if testing.Short() {
		objects = 5000
	}
	for i := range objects {
		id := randID(r, 0)
		key, err := crypto.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		log.record("object", key, id, size(i))
		if i%10 == 0 {
			over, _ := crypto.GenerateKey(nil)
			log.record("overwrite", over, id, size(i))
		}
	}
	// Multipart uploads: every part re-uploaded twice, each attempt with a
	// fresh salt; plus a copy of each completed part into a new upload.
	for u := range 40 {
		uploadKey, _ := crypto.GenerateKey(nil)
		uid := randID(r, 0).ID
		for part := uint32(1); part <= 25; part++ {
			for attempt := range 3 {
				salt, err := crypto.GenerateSalt(nil)
				if err != nil {
					t.Fatal(err)
				}
				pk, err := crypto.DerivePartKey(uploadKey, uid[:], part, salt)
				if err != nil {
					t.Fatal(err)
				}
				log.record("part", pk, crypto.Identity{ID: uid, Part: part}, size(u*100+int(part)*3+attempt))
				pk.Zero()
			}
		}
	}
	// DSSE: two independent layers per object.
	for range 300 {
		id := randID(r, 0)
		inner, _ := crypto.GenerateKey(nil)
		outer, _ := crypto.GenerateKey(nil)
		innerSealed := log.record("dsse inner", inner, id, randBytes(r, 50))
		log.record("dsse outer", outer, id, innerSealed)
	}
	if log.repeat != 0 {
		t.Fatalf("%d of %d chunks reused a (key, nonce) pair", log.repeat, log.chunks)
	}
	t.Logf("%d chunks, no (key, nonce) pair repeated", log.chunks)

	// The check has teeth: a re-uploaded part with a reused salt repeats.
	bad := newPairLog(t)
	uploadKey, _ := crypto.GenerateKey(nil)
	salt, _ := crypto.GenerateSalt(nil)
	for attempt := range 2 {
		pk, _ := crypto.DerivePartKey(uploadKey, []byte("u"), 1, salt)
		bad.record("reused-salt part", pk, crypto.Identity{Part: 1}, bytes.Repeat([]byte{byte(attempt)}, 10))
	}
	if bad.repeat == 0 {
		t.Fatal("a reused part salt did not show up as a repeated (key, nonce) pair")
	}
}
