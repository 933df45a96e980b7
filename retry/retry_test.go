package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		err   error
		retry bool
	}{
		{"plain error is transient", context.Background(), base, true},
		{"permanent", context.Background(), Permanent(base), false},
		{"permanent wrapped further", context.Background(), fmt.Errorf("put x: %w", Permanent(base)), false},
		{"retry-after is transient", context.Background(), After(base, time.Second), true},
		{"cancelled context never retries", cancelled, base, false},
		{"context.Canceled error", context.Background(), fmt.Errorf("get: %w", context.Canceled), false},
		{"nil", context.Background(), nil, false},
	} {
		if got := ShouldRetry(tc.ctx, tc.err); got != tc.retry {
			t.Errorf("%s: ShouldRetry = %v, want %v", tc.name, got, tc.retry)
		}
	}
	if !errors.Is(Permanent(base), base) || !errors.Is(After(base, 1), base) {
		t.Error("wrappers must keep errors.Is working")
	}
	if Permanent(nil) != nil || After(nil, 1) != nil {
		t.Error("wrapping nil must give nil")
	}
}

func TestBackoffGrowsCapsAndHonoursRetryAfter(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for attempt, upper := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		for range 50 {
			d := b.Delay(attempt, nil)
			if d < upper/2 || d > upper {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, upper/2, upper)
			}
		}
	}
	if d := b.Delay(1, After(errors.New("429"), 700*time.Millisecond)); d != 700*time.Millisecond {
		t.Errorf("Retry-After 700ms: delay %v, want 700ms", d)
	}
	if d := b.Delay(1, After(errors.New("429"), time.Hour)); d != time.Second {
		t.Errorf("Retry-After 1h: delay %v, want the 1s cap", d)
	}
}
