package catalog

import (
	"context"
	"fmt"
	"time"
)

// SharedLimiter is a token bucket kept in the Postgres catalog, so that
// every instance on the catalog draws from one request budget: the
// gateway's rate limit is per API key, not per machine. Each Wait reserves
// one token in one UPDATE, timed by the database's clock (machines' clocks
// may differ), and sleeps until the token is due, as rate.Limiter's
// reservations do; N instances together never exceed the rate plus the
// burst.
type SharedLimiter struct {
	c     *DB
	name  string
	rate  float64 // tokens per second
	burst float64
}

// SharedLimiter returns the budget called name, of rate requests per
// second with bursts of burst. It is for a Postgres catalog; on SQLite one
// run holds the catalog, and a rate.Limiter in memory does the same work.
func (c *DB) SharedLimiter(name string, rate float64, burst int) *SharedLimiter {
	return &SharedLimiter{c: c, name: name, rate: rate, burst: float64(max(burst, 1))}
}

// Wait blocks until the caller may send one request, or ctx ends. A token
// reserved by a caller whose ctx then ends is not given back: the budget
// errs on the side of fewer requests.
func (l *SharedLimiter) Wait(ctx context.Context) error {
	var tokens float64
	// The bucket refills at rate from updated_ms; tokens may go negative,
	// which is the queue of reservations not yet due.
	err := l.c.db.QueryRowContext(ctx, `INSERT INTO rate_buckets AS b (name, tokens, updated_ms)
		VALUES (?, CAST(? AS DOUBLE PRECISION) - 1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)
		ON CONFLICT (name) DO UPDATE SET
			tokens = LEAST(CAST(? AS DOUBLE PRECISION),
				b.tokens + GREATEST(0, EXCLUDED.updated_ms - b.updated_ms) * CAST(? AS DOUBLE PRECISION) / 1000.0) - 1,
			updated_ms = GREATEST(b.updated_ms, EXCLUDED.updated_ms)
		RETURNING tokens`, l.name, l.burst, l.burst, l.rate).Scan(&tokens)
	if err != nil {
		return fmt.Errorf("take from the shared request budget: %w", err)
	}
	if tokens >= 0 {
		return nil
	}
	wait := time.Duration(-tokens / l.rate * float64(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
