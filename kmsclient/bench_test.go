package kmsclient

import "testing"

func BenchmarkKeyringGenerateDataKey(b *testing.B) {
	k := openTestKeyring(b)
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"}
	if _, err := k.GenerateDataKey(bg, "", ec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		dk, err := k.GenerateDataKey(bg, "", ec)
		if err != nil {
			b.Fatal(err)
		}
		dk.Zero()
	}
}

func BenchmarkKeyringDecrypt(b *testing.B) {
	k := openTestKeyring(b)
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"}
	dk, err := k.GenerateDataKey(bg, "", ec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pt, err := k.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
		if err != nil {
			b.Fatal(err)
		}
		clear(pt)
	}
}

func BenchmarkCacheDecryptHit(b *testing.B) {
	k := openTestKeyring(b)
	c, err := NewCache(k, CacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket"}
	dk, err := c.GenerateDataKey(bg, "", ec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pt, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
		if err != nil {
			b.Fatal(err)
		}
		clear(pt)
	}
}
