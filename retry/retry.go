// Package retry classifies errors as permanent or transient, carries a
// server's Retry-After hint on the error, and computes capped exponential
// backoff. Every layer that talks to the network classifies its errors once,
// at its boundary, with these wrappers; loops decide with ShouldRetry.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type afterError struct {
	err   error
	after time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// After marks err as transient and asks the caller to wait at least d before
// the next attempt (an HTTP Retry-After header, typically).
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err: err, after: d}
}

// AfterOf returns the wait carried by After, if any.
func AfterOf(err error) (time.Duration, bool) {
	var a *afterError
	if errors.As(err, &a) {
		return a.after, true
	}
	return 0, false
}

// ShouldRetry reports whether another attempt may succeed. The context is
// checked first: a cancelled or expired context is never retried.
func ShouldRetry(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return !IsPermanent(err)
}

// Backoff is capped exponential backoff with full jitter on the upper half.
type Backoff struct {
	Base time.Duration // wait after the first failure
	Max  time.Duration // cap
}

// Delay returns the wait before attempt number attempt (1 = after the first
// failure). A Retry-After carried by err raises the delay, capped at Max.
func (b Backoff) Delay(attempt int, err error) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	// Jitter in [d/2, d) spreads retries of many tasks apart.
	if d > 1 {
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
	if after, ok := AfterOf(err); ok && after > d {
		d = min(after, b.Max)
	}
	return d
}
