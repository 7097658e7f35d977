package kmsserver_test

import (
	"testing"

	"github.com/cofferdb/coffer/kmsclient"
)

// BenchmarkAWSClientGenerateDecrypt is one GenerateDataKey plus one Decrypt
// through our client, SigV4 and the handler over loopback HTTP.
func BenchmarkAWSClientGenerateDecrypt(b *testing.B) {
	e := startB(b)
	ec := kmsclient.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket"}
	b.ReportAllocs()
	for b.Loop() {
		dk, err := e.client.GenerateDataKey(bg, "", ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.client.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec); err != nil {
			b.Fatal(err)
		}
	}
}
