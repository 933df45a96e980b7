package simulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Poll statistics exist to prove two promises of a fleet of reelvault
// instances sharing one catalog: no task id is polled by two instances at
// the same time, and together they stay under the configured request rate.
// Neither can be seen from inside one instance, but both can be seen here,
// where every poll of the fleet arrives.

// maxPollArrivals bounds the arrival times kept for MaxInWindow: at 8 bytes
// each, 1,000,000 of them hold at most 8 MB. Older arrivals are forgotten
// first; Total still counts them.
const maxPollArrivals = 1_000_000

// defaultPollWindow is the window of PollStats and /_sim/poll-stats when
// none is given.
const defaultPollWindow = time.Second

// PollStats describe the task polls (GET /v1/video/generations/{id}) the
// Server has received, every one of them, whatever its key, its id or the
// fault it met. Times come from Config.Clock: with a fake clock, the
// arrival times, and so MaxInWindow, are in the fake clock's time.
type PollStats struct {
	// Total is the number of polls received.
	Total int `json:"total"`
	// Recorded is the number of arrival times MaxInWindow looked at: the
	// latest 1,000,000 polls. It is below Total only after that many.
	Recorded int `json:"recorded"`
	// InFlight is the number of polls being answered right now.
	InFlight int `json:"in_flight"`
	// MaxConcurrent is the largest number of polls, of any ids, that were
	// ever in flight at once.
	MaxConcurrent int `json:"max_concurrent"`
	// MaxConcurrentPerTask is the largest number of polls of one task id
	// that were ever in flight at once, and MaxConcurrentTaskID the id that
	// first reached it. Anything above 1 means two pollers overlapped on a
	// task.
	MaxConcurrentPerTask int    `json:"max_concurrent_per_task"`
	MaxConcurrentTaskID  string `json:"max_concurrent_task_id,omitempty"`
	// Window is the length of the sliding window, and MaxInWindow the
	// largest number of polls that arrived within any half-open interval
	// [t, t+Window): polls exactly Window apart are in different windows.
	Window      time.Duration `json:"window"`
	MaxInWindow int           `json:"max_in_window"`
	// First and Last are the earliest and the latest arrival (zero when
	// Total is 0).
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// pollStatsFields is PollStats without its JSON methods.
type pollStatsFields PollStats

// MarshalJSON writes Window as a Go duration string ("1s", "1m30s") rather
// than nanoseconds, so the endpoint's reply reads well in curl.
func (p PollStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		pollStatsFields
		Window string `json:"window"`
	}{pollStatsFields(p), p.Window.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *PollStats) UnmarshalJSON(b []byte) error {
	v := struct {
		*pollStatsFields
		Window string `json:"window"`
	}{pollStatsFields: (*pollStatsFields)(p)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.Window = 0
	if v.Window != "" {
		d, err := time.ParseDuration(v.Window)
		if err != nil {
			return fmt.Errorf("poll stats: window: %w", err)
		}
		p.Window = d
	}
	return nil
}

// PollStats returns the statistics of the task polls received so far, with
// MaxInWindow computed for window (0 or less means 1s). It costs a copy and
// a sort of the recorded arrival times: call it at the end of a run, not on
// every request.
func (s *Server) PollStats(window time.Duration) PollStats {
	if window <= 0 {
		window = defaultPollWindow
	}
	st, offsets := s.polls.snapshot()
	st.Window = window
	st.MaxInWindow = maxInWindow(offsets, window)
	return st
}

// ResetPollStats forgets the polls received so far, for a test that wants
// to measure from a later point (after a warm-up, say). Polls in flight
// still end normally and count towards the new maxima.
func (s *Server) ResetPollStats() {
	s.polls.reset()
}

// countPolls wraps the task poll route, outside faults and the key check,
// so that every poll is counted in flight from its first to its last
// instant, including one answered by a fault or cut by a reset (the
// deferred end runs on the panic that aborts it). Config.PollDelay is spent
// here, while counted.
func (s *Server) countPolls(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.polls.begin(id, s.now())
		end := sync.OnceFunc(func() { s.polls.end(id) })
		defer end()
		// A reset fault hijacks the connection: the poll ends there for
		// the client, which may retry at once, before this handler returns.
		w = &hijackEnds{ResponseWriter: w, end: end}
		if d := s.cfg.PollDelay; d > 0 && !waitContext(r, d) {
			// The client has gone, or the simulator is shutting down: a
			// gateway going away answers 503, and a gone client reads
			// nothing anyway.
			writeText(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", "503 Service Unavailable\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// waitContext waits d of wall time and reports false if the request's
// context ends first.
func waitContext(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// handlePollStats answers GET /_sim/poll-stats?window=1s. It is the
// simulator's own test and ops endpoint, not the gateway's: no key, no
// faults, and it is not itself counted.
func (s *Server) handlePollStats(w http.ResponseWriter, r *http.Request) {
	window := defaultPollWindow
	if q := r.URL.Query().Get("window"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error": fmt.Sprintf("window %q: want a positive Go duration such as 1s or 500ms", q)})
			return
		}
		window = d
	}
	writeJSON(w, http.StatusOK, s.PollStats(window))
}

// pollCounter counts polls in flight per task id and keeps their arrival
// times. It has its own lock so that counting does not contend with the
// task state behind Server.mu.
type pollCounter struct {
	mu    sync.Mutex
	limit int // arrival times kept; 0 means maxPollArrivals

	inFlight    map[string]int // by task id; ids with none are deleted
	inFlightAll int

	total, maxAll, maxPerTask int
	maxTaskID                 string
	first, last               time.Time

	// Arrivals are kept as offsets from base, the first arrival since the
	// last reset, which keeps 8 bytes per poll and, with the real clock,
	// the monotonic reading. Once limit is reached, arrivals is a ring
	// whose oldest entry is at next.
	base     time.Time
	arrivals []time.Duration
	next     int
}

func (c *pollCounter) begin(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight == nil {
		c.inFlight = make(map[string]int)
	}
	n := c.inFlight[id] + 1
	c.inFlight[id] = n
	c.inFlightAll++
	if n > c.maxPerTask {
		c.maxPerTask, c.maxTaskID = n, id
	}
	c.maxAll = max(c.maxAll, c.inFlightAll)

	if c.total == 0 {
		c.base, c.first, c.last = at, at, at
	}
	c.first = minTime(c.first, at)
	if at.After(c.last) {
		c.last = at
	}
	c.total++

	limit := c.limit
	if limit <= 0 {
		limit = maxPollArrivals
	}
	off := at.Sub(c.base)
	if len(c.arrivals) < limit {
		c.arrivals = append(c.arrivals, off)
		return
	}
	c.arrivals[c.next] = off
	c.next = (c.next + 1) % limit
}

func (c *pollCounter) end(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.inFlight[id] - 1; n > 0 {
		c.inFlight[id] = n
	} else {
		delete(c.inFlight, id)
	}
	c.inFlightAll--
}

// snapshot returns the statistics other than the window's, and a sorted
// copy of the recorded arrival offsets.
func (c *pollCounter) snapshot() (PollStats, []time.Duration) {
	c.mu.Lock()
	st := PollStats{
		Total:                c.total,
		Recorded:             len(c.arrivals),
		InFlight:             c.inFlightAll,
		MaxConcurrent:        c.maxAll,
		MaxConcurrentPerTask: c.maxPerTask,
		MaxConcurrentTaskID:  c.maxTaskID,
		First:                c.first,
		Last:                 c.last,
	}
	offsets := slices.Clone(c.arrivals)
	c.mu.Unlock()
	// Arrivals are taken under the lock, so they are in order unless a
	// fake clock went backwards or the ring wrapped; sort in any case.
	slices.Sort(offsets)
	return st, offsets
}

func (c *pollCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total, c.next = 0, 0
	c.arrivals = nil
	c.first, c.last, c.base = time.Time{}, time.Time{}, time.Time{}
	// Polls in flight carry on: the maxima restart from them.
	c.maxAll, c.maxPerTask, c.maxTaskID = c.inFlightAll, 0, ""
	for id, n := range c.inFlight {
		if n > c.maxPerTask {
			c.maxPerTask, c.maxTaskID = n, id
		}
	}
}

// maxInWindow returns the largest number of sorted arrivals within any
// half-open interval of length w.
func maxInWindow(sorted []time.Duration, w time.Duration) int {
	best, lo := 0, 0
	for hi, t := range sorted {
		for t-sorted[lo] >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// hijackEnds ends a poll's count when its connection is hijacked.
type hijackEnds struct {
	http.ResponseWriter
	end func()
}

func (h *hijackEnds) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *hijackEnds) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.end()
	return http.NewResponseController(h.ResponseWriter).Hijack()
}
