package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGetCatchesCorruptedByte proves that one flipped byte in an object
// read back is counted as a content error, and that intact reads are not.
func TestGetCatchesCorruptedByte(t *testing.T) {
	for _, client := range []ClientKind{ClientRaw, ClientSDK} {
		t.Run(string(client), func(t *testing.T) {
			f := newFakeS3(t)
			o := f.options(Get)
			o.Client, o.Count, o.Objects, o.Duration = client, 40, 8, 10*time.Second

			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Mismatches != 0 || res.Ops != 40 || res.Keys != 40 {
				t.Fatalf("intact objects: ops %d keys %d errors %d mismatches %d %v", res.Ops, res.Keys, res.Errors, res.Mismatches, res.ErrorSamples)
			}

			for _, at := range []int64{0, 1234, o.Size - 1} {
				f.mu.Lock()
				f.flipAt, f.flipped = at, 0
				f.mu.Unlock()
				res, err = Run(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				f.mu.Lock()
				flipped := f.flipped
				f.mu.Unlock()
				if flipped == 0 || res.Mismatches != int64(flipped) || res.Errors != res.Mismatches || res.Keys != 0 {
					t.Fatalf("byte %d flipped in %d GETs: mismatches %d errors %d good %d", at, flipped, res.Mismatches, res.Errors, res.Keys)
				}
				if len(res.ErrorSamples) == 0 {
					t.Fatal("no error sample")
				}
			}
		})
	}
}

// TestGetCatchesShortBody: a body one byte short is a content error.
func TestGetCatchesShortBody(t *testing.T) {
	f := newFakeS3(t)
	f.cut = true
	o := f.options(Get)
	o.Count, o.Objects = 10, 4
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mismatches != 10 {
		t.Fatalf("mismatches %d, want 10 (%v)", res.Mismatches, res.ErrorSamples)
	}
}

// TestNotImplementedIsReported: a server that refuses an SSE mode yields
// a Result marked unsupported, not an error or a crash.
func TestNotImplementedIsReported(t *testing.T) {
	f := newFakeS3(t)
	f.refuse = "aws:kms:dsse"
	for _, s := range []Scenario{Put, Get} {
		o := f.options(s)
		o.SSE, o.Count = SSEDSSE, 20
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if res.Unsupported == "" || res.Keys != 0 {
			t.Fatalf("%s: unsupported %q keys %d", s, res.Unsupported, res.Keys)
		}
	}
	o := f.options(Put)
	o.SSE, o.Count = SSES3, 5
	if res, err := Run(context.Background(), o); err != nil || res.Unsupported != "" || res.Keys != 5 {
		t.Fatalf("supported mode: %v %+v", err, res)
	}
}

// TestScenariosAgainstFake runs every scenario briefly and checks what
// each reports, and that the run cleans up after itself.
func TestScenariosAgainstFake(t *testing.T) {
	f := newFakeS3(t)
	for _, s := range Scenarios {
		o := f.options(s)
		o.Count, o.Objects, o.Seed = 30, 12, 7
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if res.Errors != 0 {
			t.Fatalf("%s: errors %v", s, res.ErrorSamples)
		}
		want := int64(30)
		switch s {
		case Delete:
			want = 12
		case List:
			want = 30 * 12
		}
		if res.Keys != want || res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || len(res.Timeline) == 0 {
			t.Fatalf("%s: keys %d (want %d), latency %+v, timeline %d", s, res.Keys, want, res.Latency, len(res.Timeline))
		}
		f.mu.Lock()
		left := len(f.objs)
		f.mu.Unlock()
		if left != 0 {
			t.Fatalf("%s: %d objects left behind", s, left)
		}
	}
}

// TestRunIsBoundedByDuration: a run with only a duration stops near it.
func TestRunIsBoundedByDuration(t *testing.T) {
	f := newFakeS3(t)
	o := f.options(Put)
	o.Duration = 300 * time.Millisecond
	start := time.Now()
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second || res.Elapsed > 1 {
		t.Fatalf("run took %v (measured %.2fs)", el, res.Elapsed)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := Options{Endpoint: "ftp://x", Bucket: "B", Scenario: "poke", Size: -1, Concurrency: -2, SSE: "rot13", Duration: -time.Second}
	err := o.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("got %v", err)
	}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.Is(e, ErrInvalidOptions) {
			n++
		}
	}
	if n < 8 {
		t.Fatalf("%d problems reported, want at least 8: %v", n, err)
	}
}
