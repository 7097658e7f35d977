package crypto_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/cofferdb/coffer/crypto"
)

// TestStagesInParallel runs writers and readers on many goroutines at once,
// with an encrypt stage feeding a reader through a pipe as the engine's
// pipeline does, to show (under -race) that stages share no state.
func TestStagesInParallel(t *testing.T) {
	r := newRand(t)
	type job struct {
		key   *crypto.Key
		id    crypto.Identity
		plain []byte
	}
	jobs := make([]job, 16)
	for i := range jobs {
		jobs[i] = job{randKey(t, r), randID(r, uint32(i)), randBytes(r, r.IntN(3*C))}
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(jobs))
	for _, j := range jobs {
		wg.Go(func() {
			pr, pw := io.Pipe()
			go func() {
				w, err := crypto.NewEncryptWriter(pw, j.key, j.id)
				if err == nil {
					_, err = w.ReadFrom(bytes.NewReader(j.plain))
				}
				if err == nil {
					err = w.Close()
				}
				pw.CloseWithError(err)
			}()
			size := int64(len(j.plain))
			rg, _ := crypto.MapRange(size, 0, size)
			d, err := crypto.NewDecryptReader(pr, j.key, j.id, rg)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer d.Close()
			var got bytes.Buffer
			if _, err := d.WriteTo(&got); err != nil || !bytes.Equal(got.Bytes(), j.plain) {
				errs <- "round trip through a pipe failed"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
