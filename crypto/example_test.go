package crypto_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/cofferdb/coffer/crypto"
)

// An object is sealed under its own random key, and the key under a KEK
// bound to the object's immutable id; a range is read from whole chunks.
func Example() {
	kek, _ := crypto.GenerateKey(nil) // e.g. DeriveS3KEK(master, objectID)
	defer kek.Zero()
	objectKey, _ := crypto.GenerateKey(nil)
	id := crypto.Identity{ID: [16]byte{0x42}}

	// PUT: seal the key for the index, stream the body through the writer.
	sealedKey, _ := crypto.SealKey(kek, objectKey, id.ID[:], nil)
	var stored bytes.Buffer
	w, _ := crypto.NewEncryptWriter(&stored, objectKey, id)
	objectKey.Zero() // the writer keeps no reference
	body := strings.Repeat("coffer ", 20000)
	if _, err := w.ReadFrom(strings.NewReader(body)); err != nil {
		w.Abort()
		return
	}
	if err := w.Close(); err != nil {
		return
	}
	size := int64(len(body))

	// GET bytes=70000-70012: unseal, map, read only the covering chunks.
	key, err := crypto.UnsealKey(kek, sealedKey, id.ID[:])
	if err != nil {
		return
	}
	defer key.Zero()
	rg, _ := crypto.MapRange(size, 70000, 13)
	src := bytes.NewReader(stored.Bytes()[rg.SealedOffset : rg.SealedOffset+rg.SealedLength])
	d, _ := crypto.NewDecryptReader(src, key, id, rg)
	defer d.Close()
	got, err := io.ReadAll(d)
	fmt.Printf("%q %v\n", got, err)
	fmt.Println(stored.Len() == int(crypto.SealedSize(size)), rg.FirstChunk, rg.SealedLength)
	// Output:
	// "coffer coffer" <nil>
	// true 1 65552
}

// SSE-C: only a salted MAC of the customer key is stored, and a wrong key is
// answered before anything is unsealed.
func ExampleCheckCustomerKey() {
	customer, _ := crypto.NewKey(bytes.Repeat([]byte{9}, 32))
	defer customer.Zero()
	salt, _ := crypto.GenerateSalt(nil)
	mac := crypto.CustomerKeyMAC(salt, customer) // stored with salt

	wrong, _ := crypto.NewKey(bytes.Repeat([]byte{8}, 32))
	defer wrong.Zero()
	fmt.Println(crypto.CheckCustomerKey(salt, mac[:], customer), crypto.CheckCustomerKey(salt, mac[:], wrong))
	// Output: true false
}
