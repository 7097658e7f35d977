package crypto_test

// A stand-alone implementation of FORMAT.md on the standard library, used to
// check that the package and the written specification agree. It shares no
// code with the package.

import (
	stdaes "crypto/aes"
	stdcipher "crypto/cipher"
	stdhkdf "crypto/hkdf"
	stdhmac "crypto/hmac"
	stdsha256 "crypto/sha256"
	"encoding/binary"
)

func refHKDF(secret, salt []byte, info []byte, n int) []byte {
	out, err := stdhkdf.Key(stdsha256.New, secret, salt, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func refInfo(label string, fields ...[]byte) []byte {
	b := append([]byte(label), 0)
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func refGCM(key []byte) stdcipher.AEAD {
	b, err := stdaes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	g, err := stdcipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

func refIdent(id [16]byte, part uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), id[:]...), part)
}

// refStreamKey returns the stream key and nonce prefix of FORMAT.md.
func refStreamKey(k []byte, id [16]byte, part uint32) (key, prefix []byte) {
	okm := refHKDF(k, nil, refInfo("coffer stream v1", refIdent(id, part)), 36)
	return okm[:32], okm[32:]
}

func refNonce(prefix []byte, i uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), i)
}

func refAAD(id [16]byte, part uint32, final bool) []byte {
	flags := byte(0)
	if final {
		flags = 1
	}
	return append([]byte{1, flags}, refIdent(id, part)...)
}

// refSealStream seals plain as FORMAT.md says.
func refSealStream(k []byte, id [16]byte, part uint32, plain []byte) []byte {
	key, prefix := refStreamKey(k, id, part)
	g := refGCM(key)
	const c = 65536
	n := (len(plain) + c - 1) / c
	if n == 0 {
		n = 1
	}
	var out []byte
	for i := 0; i < n; i++ {
		chunk := plain[i*c : min((i+1)*c, len(plain))]
		out = g.Seal(out, refNonce(prefix, uint64(i)), chunk, refAAD(id, part, i == n-1))
	}
	return out
}

func refSealKey(kek, key, binding, salt []byte) []byte {
	okm := refHKDF(kek, salt, refInfo("coffer sealed key v1"), 44)
	aad := append(refInfo("coffer sealed key v1"), 1)
	aad = append(aad, binding...)
	out := append([]byte{1}, salt...)
	return refGCM(okm[:32]).Seal(out, okm[32:], key, aad)
}

func refPartKey(uploadKey, uploadID []byte, part uint32, salt []byte) []byte {
	return refHKDF(uploadKey, salt, refInfo("coffer part key v1", binary.BigEndian.AppendUint32(nil, part), uploadID), 32)
}

func refS3KEK(master, objectID []byte) []byte {
	return refHKDF(master, nil, refInfo("coffer sse-s3 kek v1", objectID), 32)
}

func refBucketKEK(bucketKey, salt, info []byte) []byte {
	return refHKDF(bucketKey, salt, refInfo("coffer bucket kek v1", info), 32)
}

func refCustomerMAC(salt, key []byte) []byte {
	m := stdhmac.New(stdsha256.New, key)
	m.Write(refInfo("coffer sse-c key mac v1", salt))
	return m.Sum(nil)
}
