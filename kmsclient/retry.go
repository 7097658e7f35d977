package kmsclient

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// retryPolicy is exponential backoff with full jitter on retryable *Errors.
type retryPolicy struct {
	attempts  int
	base, max time.Duration
}

// do runs try until it succeeds, fails with a non-retryable error, the
// context ends, or the attempts are used up.
func (p retryPolicy) do(ctx context.Context, backend, op, keyID string, try func() error) error {
	var last error
	for attempt := 0; attempt < max(p.attempts, 1); attempt++ {
		if attempt > 0 {
			d := p.base << (attempt - 1)
			if d > p.max || d <= 0 {
				d = p.max
			}
			t := time.NewTimer(rand.N(d) + 1)
			select {
			case <-ctx.Done():
				t.Stop()
				return unavailable(backend, op, keyID, ctx.Err())
			case <-t.C:
			}
		}
		last = try()
		var e *Error
		if last == nil || !errors.As(last, &e) || !e.Retryable || ctx.Err() != nil {
			return last
		}
	}
	return last
}

func (p retryPolicy) withDefaults() retryPolicy {
	if p.attempts == 0 {
		p.attempts = defaultMaxAttempts
	}
	if p.base == 0 {
		p.base = defaultRetryBase
	}
	if p.max == 0 {
		p.max = defaultRetryMax
	}
	return p
}
