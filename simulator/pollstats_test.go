package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// waitPollStats polls the statistics until cond holds, bounded by the
// test's context, and returns them.
func waitPollStats(tb testing.TB, sim *Server, cond func(PollStats) bool) PollStats {
	tb.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		st := sim.PollStats(0)
		if cond(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-tb.Context().Done():
			tb.Fatalf("poll stats never reached the expected state; last %+v", st)
		}
	}
}

// pollHeld starts a poll of id that the simulator holds (Config.PollDelay)
// until cancel is called. The test's cleanup cancels it too and waits for
// the client to give up.
func pollHeld(tb testing.TB, ts *httptest.Server, id string) (cancel func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/video/generations/"+id, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+defaultAPIKey)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := ts.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel
}

// TestSimulatorPollConcurrency holds polls in flight with a long PollDelay,
// waits until the simulator sees all of them, then lets them go: no timing
// is assumed, so the overlap is certain rather than likely.
func TestSimulatorPollConcurrency(t *testing.T) {
	tests := []struct {
		name        string
		ids         []int // index into the created tasks, one held poll each
		wantPerTask int
		wantTaskIdx int
	}{
		{"three polls of one task", []int{0, 0, 0}, 3, 0},
		{"three tasks, one poll each", []int{0, 1, 2}, 1, 0},
		{"two of one task among others", []int{0, 1, 1, 2}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(newFakeClock())
			cfg.PollDelay = time.Hour // released by cancelling, never by waiting
			sim, ts := mustStartSimulator(t, cfg)
			ids := []string{sim.CreateTask(TaskOptions{}), sim.CreateTask(TaskOptions{}), sim.CreateTask(TaskOptions{})}

			for _, i := range tt.ids {
				pollHeld(t, ts, ids[i])
			}
			held := waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == len(tt.ids) })
			if held.MaxConcurrentPerTask != tt.wantPerTask {
				t.Errorf("MaxConcurrentPerTask %d, want %d", held.MaxConcurrentPerTask, tt.wantPerTask)
			}
			if tt.wantPerTask > 1 && held.MaxConcurrentTaskID != ids[tt.wantTaskIdx] {
				t.Errorf("MaxConcurrentTaskID %q, want %q", held.MaxConcurrentTaskID, ids[tt.wantTaskIdx])
			}
			if held.MaxConcurrent != len(tt.ids) || held.Total != len(tt.ids) {
				t.Errorf("MaxConcurrent %d Total %d, want %d and %d", held.MaxConcurrent, held.Total, len(tt.ids), len(tt.ids))
			}
		})
	}
}

// TestSimulatorPollReleased checks that cancelled held polls leave the
// in-flight count, and that the maxima stay.
func TestSimulatorPollReleased(t *testing.T) {
	cfg := testConfig(newFakeClock())
	cfg.PollDelay = time.Hour
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{})
	var cancels []func()
	for range 3 {
		cancel := pollHeld(t, ts, id)
		cancels = append(cancels, cancel)
	}
	waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 3 })
	for _, cancel := range cancels {
		cancel()
	}
	st := waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 0 })
	if st.MaxConcurrentPerTask != 3 || st.MaxConcurrentTaskID != id || st.Total != 3 {
		t.Errorf("after release: %+v, want 3 polls of %s at once, 3 in all", st, id)
	}
}

// TestSimulatorPollSequential checks that polls one after another, faulty
// or not, with or without a key, count once each and never overlap, and
// that every one leaves the in-flight count, a reset connection included.
func TestSimulatorPollSequential(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		key    string
	}{
		{"clean", Faults{}, defaultAPIKey},
		{"no key", Faults{}, ""},
		{"5xx", Faults{API5xx: 1}, defaultAPIKey},
		{"429", Faults{API429: 1}, defaultAPIKey},
		{"truncated", Faults{APITruncated: 1}, defaultAPIKey},
		{"reset", Faults{APIReset: 1}, defaultAPIKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(newFakeClock())
			cfg.Faults = tt.faults
			sim, ts := mustStartSimulator(t, cfg)
			id := sim.CreateTask(TaskOptions{})
			const n = 5
			for range n {
				try(t, ts, http.MethodGet, ts.URL+"/v1/video/generations/"+id, tt.key)
				// A reset reaches the client before the handler returns.
				waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 0 })
			}
			st := sim.PollStats(time.Second)
			if st.Total != n || st.Recorded != n || st.MaxConcurrentPerTask != 1 || st.MaxConcurrent != 1 ||
				st.MaxConcurrentTaskID != id {
				t.Errorf("got %+v, want %d polls of %s, never two at once", st, n, id)
			}
		})
	}
}

// TestSimulatorPollDelay checks that a held poll is answered in full once
// the delay has passed.
func TestSimulatorPollDelay(t *testing.T) {
	cfg := testConfig(newFakeClock())
	cfg.PollDelay = time.Millisecond
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{})
	code, reply := poll(t, ts, id)
	if code != http.StatusOK || taskData(t, reply)["task_id"] != id {
		t.Fatalf("HTTP %d %v, want the task", code, reply)
	}
	if st := sim.PollStats(0); st.Total != 1 || st.InFlight != 0 {
		t.Errorf("got %+v, want 1 poll, none in flight", st)
	}
}

// TestSimulatorPollWindow moves the fake clock between polls and checks the
// sliding-window maximum against arrivals known in advance.
func TestSimulatorPollWindow(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name     string
		arrivals []time.Duration // since the start, ascending
		window   time.Duration
		want     int
	}{
		{"no polls", nil, time.Second, 0},
		{"one poll", []time.Duration{0}, time.Second, 1},
		{"burst at one instant", []time.Duration{0, 0, 0, 0}, time.Second, 4},
		{"window end is exclusive", []time.Duration{0, ms(1000), ms(2000)}, time.Second, 1},
		{"just inside", []time.Duration{0, ms(999)}, time.Second, 2},
		{"sliding beats aligned seconds", []time.Duration{ms(900), ms(1000), ms(1100), ms(1800), ms(2100)}, time.Second, 4},
		{"steady 10 per second", steady(50, ms(100)), time.Second, 10},
		{"steady 10 per second, 5s", steady(50, ms(100)), 5 * time.Second, 50},
		{"burst after a quiet spell", append(steady(5, time.Second), ms(5000), ms(5001), ms(5002), ms(5999)), time.Second, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			id := sim.CreateTask(TaskOptions{})
			var at time.Duration
			for _, a := range tt.arrivals {
				clock.Advance(a - at)
				at = a
				poll(t, ts, id)
			}
			st := sim.PollStats(tt.window)
			if st.MaxInWindow != tt.want || st.Window != tt.window || st.Total != len(tt.arrivals) {
				t.Errorf("MaxInWindow %d Window %v Total %d, want %d, %v and %d",
					st.MaxInWindow, st.Window, st.Total, tt.want, tt.window, len(tt.arrivals))
			}
			if len(tt.arrivals) == 0 {
				if !st.First.IsZero() || !st.Last.IsZero() {
					t.Errorf("First %v Last %v, want zero times", st.First, st.Last)
				}
				return
			}
			first, last := start.Add(tt.arrivals[0]), start.Add(tt.arrivals[len(tt.arrivals)-1])
			if !st.First.Equal(first) || !st.Last.Equal(last) {
				t.Errorf("First %v Last %v, want %v and %v", st.First, st.Last, first, last)
			}
		})
	}
}

// steady returns n arrivals every step, from 0.
func steady(n int, step time.Duration) []time.Duration {
	var a []time.Duration
	for i := range n {
		a = append(a, time.Duration(i)*step)
	}
	return a
}

// TestSimulatorPollArrivalsBounded checks that only the latest arrivals are
// kept once the limit is reached, while Total counts them all.
func TestSimulatorPollArrivalsBounded(t *testing.T) {
	c := pollCounter{limit: 4}
	base := time.Date(2026, 4, 27, 0, 0, 0, 0, time.UTC)
	// Five polls in the first second, then one a second: the burst is
	// forgotten once the ring wraps.
	arrivals := []time.Duration{0, 1, 2, 3, 4, 10 * time.Second, 11 * time.Second, 12 * time.Second, 13 * time.Second}
	for _, a := range arrivals {
		c.begin("x", base.Add(a))
		c.end("x")
	}
	st, offsets := c.snapshot()
	if st.Total != len(arrivals) || st.Recorded != 4 || len(offsets) != 4 {
		t.Fatalf("Total %d Recorded %d (%d offsets), want %d and 4", st.Total, st.Recorded, len(offsets), len(arrivals))
	}
	if got := maxInWindow(offsets, time.Second); got != 1 {
		t.Errorf("MaxInWindow over the kept arrivals %d, want 1 (offsets %v)", got, offsets)
	}
	if !st.First.Equal(base) || !st.Last.Equal(base.Add(13*time.Second)) {
		t.Errorf("First %v Last %v, want the first and last of all", st.First, st.Last)
	}
}

// TestSimulatorResetPollStats checks that a reset forgets the past but not
// the polls still in flight.
func TestSimulatorResetPollStats(t *testing.T) {
	cfg := testConfig(newFakeClock())
	cfg.PollDelay = time.Hour
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{})
	cancel1 := pollHeld(t, ts, id)
	cancel2 := pollHeld(t, ts, id)
	waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 2 })
	cancel2()
	waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 1 })

	sim.ResetPollStats()
	st := sim.PollStats(0)
	if st.Total != 0 || st.Recorded != 0 || st.InFlight != 1 || st.MaxConcurrentPerTask != 1 || st.MaxConcurrent != 1 {
		t.Errorf("after reset: %+v, want no polls counted and the one in flight kept", st)
	}
	cancel1()
	if st := waitPollStats(t, sim, func(st PollStats) bool { return st.InFlight == 0 }); st.MaxConcurrentPerTask != 1 {
		t.Errorf("after release: %+v, want at most 1 of a task since the reset", st)
	}
}

// TestSimulatorPollStatsEndpoint checks GET /_sim/poll-stats: JSON without
// a key, never faulty, not counted itself, and the window parameter.
func TestSimulatorPollStatsEndpoint(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{})
	for range 3 {
		poll(t, ts, id)
		clock.Advance(2 * time.Second)
	}
	// From now on, every API request fails; the endpoint must not.
	sim.SetFaults(Faults{API5xx: 0.5, APIReset: 1})
	sim.SetAPIKey("")

	tests := []struct {
		query      string
		status     int
		window     time.Duration
		maxInWindw int
	}{
		{"", http.StatusOK, time.Second, 1},
		{"?window=5s", http.StatusOK, 5 * time.Second, 3},
		{"?window=1500ms", http.StatusOK, 1500 * time.Millisecond, 1},
		{"?window=soon", http.StatusBadRequest, 0, 0},
		{"?window=0s", http.StatusBadRequest, 0, 0},
		{"?window=-1s", http.StatusBadRequest, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := get(t, ts, ts.URL+"/_sim/poll-stats"+tt.query, "")
			raw := decodeJSON(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d %v, want %d", resp.StatusCode, raw, tt.status)
			}
			if tt.status != http.StatusOK {
				if raw["error"] == nil {
					t.Errorf("error reply %v has no error", raw)
				}
				return
			}
			for _, k := range []string{"total", "recorded", "in_flight", "max_concurrent", "max_concurrent_per_task",
				"max_concurrent_task_id", "window", "max_in_window", "first", "last"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("reply %v has no %q", raw, k)
				}
			}
			if raw["window"] != tt.window.String() {
				t.Errorf("window %v, want %q", raw["window"], tt.window.String())
			}
			b, _ := json.Marshal(raw)
			var st PollStats
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			want := sim.PollStats(tt.window)
			if st.Total != 3 || st.MaxInWindow != tt.maxInWindw || st.Window != tt.window ||
				st.MaxConcurrentTaskID != id || !st.First.Equal(want.First) || !st.Last.Equal(want.Last) {
				t.Errorf("decoded %+v, want %+v with MaxInWindow %d", st, want, tt.maxInWindw)
			}
		})
	}
}
