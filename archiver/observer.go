package archiver

import "time"

// Observer learns what the archiver does, as it happens, for metrics. Its
// methods must be quick and safe for concurrent use.
type Observer interface {
	// Polled reports one gateway poll: outcome is "ok", "not_found",
	// "key_rejected" or "error".
	Polled(outcome string)
	// Archived reports a verified video: its size, how long the transfer
	// took, and how long its URL had left to live.
	Archived(kind string, bytes int64, took, urlLifeLeft time.Duration)
	// Lost reports a video that can no longer be archived; state is
	// "expired" or "error".
	Lost(kind, state string)
}

type nopObserver struct{}

func (nopObserver) Polled(string)                                        {}
func (nopObserver) Archived(string, int64, time.Duration, time.Duration) {}
func (nopObserver) Lost(string, string)                                  {}
