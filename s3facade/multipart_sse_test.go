package s3facade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestMultipartEveryEncryptionMode uploads with aws-sdk-go-v2's upload
// manager (parallel parts) in every encryption mode over TLS, then checks
// content by hash, ranges across part boundaries, part-number reads, and
// the encryption headers of Complete and GET.
func TestMultipartEveryEncryptionMode(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	c := ss.awsClient()
	ctx := context.Background()
	mustBucket(t, c, "mpenc")
	const partSize = 5 << 20
	data := make([]byte, 2*partSize+12345)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	_, keyB64, keyMD5 := ssecKey(42)
	modes := []struct {
		name string
		put  func(*s3.PutObjectInput)
		get  func(*s3.GetObjectInput)
		want types.ServerSideEncryption
	}{
		{"default", func(*s3.PutObjectInput) {}, func(*s3.GetObjectInput) {}, types.ServerSideEncryptionAes256},
		{"kms", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms },
			func(*s3.GetObjectInput) {}, types.ServerSideEncryptionAwsKms},
		{"kms-bucket-key", func(in *s3.PutObjectInput) {
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			in.BucketKeyEnabled = aws.Bool(true)
		}, func(*s3.GetObjectInput) {}, types.ServerSideEncryptionAwsKms},
		{"dsse", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKmsDsse },
			func(*s3.GetObjectInput) {}, types.ServerSideEncryptionAwsKmsDsse},
		{"sse-c", func(in *s3.PutObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(keyB64), aws.String(keyMD5)
		}, func(in *s3.GetObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(keyB64), aws.String(keyMD5)
		}, ""},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			//lint:ignore SA1019 the upload manager is what the issue asks to test with
			up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = partSize; u.Concurrency = 3 })
			in := &s3.PutObjectInput{Bucket: aws.String("mpenc"), Key: aws.String(m.name), Body: io.MultiReader(bytes.NewReader(data))}
			m.put(in)
			//lint:ignore SA1019 as above
			out, err := up.Upload(ctx, in)
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			if m.want != "" && out.ServerSideEncryption != m.want {
				t.Fatalf("complete reports %q, want %q", out.ServerSideEncryption, m.want)
			}
			gin := &s3.GetObjectInput{Bucket: aws.String("mpenc"), Key: aws.String(m.name)}
			m.get(gin)
			g, err := c.GetObject(ctx, gin)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil || sha256.Sum256(body) != sum {
				t.Fatalf("content differs: %v", err)
			}
			if m.want != "" && g.ServerSideEncryption != m.want {
				t.Fatalf("GET reports %q", g.ServerSideEncryption)
			}
			if aws.ToInt32(g.PartsCount) != 0 && aws.ToInt32(g.PartsCount) != 3 {
				t.Fatalf("parts count %d", aws.ToInt32(g.PartsCount))
			}
			for _, off := range []int{partSize - 7, 2*partSize - 1} {
				rin := *gin
				rin.Range = aws.String("bytes=" + itoa(int64(off)) + "-" + itoa(int64(off+20)))
				rg, err := c.GetObject(ctx, &rin)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rg.Body)
				rg.Body.Close()
				if !bytes.Equal(b, data[off:off+21]) {
					t.Fatalf("range at %d differs", off)
				}
			}
			pin := *gin
			pin.PartNumber = aws.Int32(2)
			pg, err := c.GetObject(ctx, &pin)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(pg.Body)
			pg.Body.Close()
			if !bytes.Equal(b, data[partSize:2*partSize]) || aws.ToInt32(pg.PartsCount) != 3 {
				t.Fatalf("part 2: %d bytes, parts count %d", len(b), aws.ToInt32(pg.PartsCount))
			}
		})
	}
}
