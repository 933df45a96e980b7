package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// attempt is what a client observed on one request.
type attempt struct {
	status      int
	header      http.Header
	body        []byte
	declared    int64 // Content-Length
	err         error // from Do or from reading the body
	contentType string
}

func try(tb testing.TB, ts *httptest.Server, method, url, key string) attempt {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		return attempt{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return attempt{status: resp.StatusCode, header: resp.Header, body: b, declared: resp.ContentLength, err: err,
		contentType: resp.Header.Get("Content-Type")}
}

func TestFaults(t *testing.T) {
	const requests = 16
	tests := []struct {
		name   string
		faults Faults
		media  bool
		check  func(t *testing.T, a attempt, good attempt)
	}{
		{"API5xx", Faults{API5xx: 1}, false, func(t *testing.T, a, _ attempt) {
			if a.err != nil || a.status < 500 || a.status > 503 || a.status == 501 {
				t.Errorf("HTTP %d err %v, want 500, 502 or 503", a.status, a.err)
			}
		}},
		{"API429", Faults{API429: 1, RetryAfter: 1500 * time.Millisecond}, false, func(t *testing.T, a, _ attempt) {
			if ra := a.header.Get("Retry-After"); a.status != http.StatusTooManyRequests || (ra != "" && ra != "2") {
				t.Errorf("HTTP %d Retry-After %q, want 429 with 2 or nothing", a.status, ra)
			}
		}},
		{"APIHTML", Faults{APIHTML: 1}, false, func(t *testing.T, a, _ attempt) {
			if a.status != http.StatusOK || !strings.HasPrefix(a.contentType, "text/html") || json.Valid(a.body) {
				t.Errorf("HTTP %d %q, want 200 text/html", a.status, a.contentType)
			}
		}},
		{"APITruncated", Faults{APITruncated: 1}, false, func(t *testing.T, a, good attempt) {
			if a.err != nil || a.status != http.StatusOK || json.Valid(a.body) ||
				len(a.body) != len(good.body)/2 || !strings.HasPrefix(string(good.body), string(a.body)) {
				t.Errorf("HTTP %d err %v body %q, want the first half of %q", a.status, a.err, a.body, good.body)
			}
		}},
		{"APIReset", Faults{APIReset: 1}, false, func(t *testing.T, a, _ attempt) {
			if a.err == nil {
				t.Errorf("HTTP %d, want a connection error", a.status)
			}
		}},
		{"Media5xx", Faults{Media5xx: 1}, true, func(t *testing.T, a, _ attempt) {
			if a.err != nil || a.status < 500 || a.status > 503 || a.status == 501 {
				t.Errorf("HTTP %d err %v, want 500, 502 or 503", a.status, a.err)
			}
		}},
		{"MediaTruncated", Faults{MediaTruncated: 1}, true, func(t *testing.T, a, good attempt) {
			if a.status != http.StatusOK || a.declared != int64(len(good.body)) || !errors.Is(a.err, io.ErrUnexpectedEOF) ||
				len(a.body) == 0 || !strings.HasPrefix(string(good.body), string(a.body)) {
				t.Errorf("HTTP %d declared %d got %d err %v, want a short prefix ending in unexpected EOF",
					a.status, a.declared, len(a.body), a.err)
			}
		}},
		{"MediaReset", Faults{MediaReset: 1}, true, func(t *testing.T, a, good attempt) {
			if a.err == nil || len(a.body) >= len(good.body) {
				t.Errorf("HTTP %d got %d bytes err %v, want a connection error", a.status, len(a.body), a.err)
			}
		}},
		{"MediaHTML", Faults{MediaHTML: 1}, true, func(t *testing.T, a, _ attempt) {
			if a.status != http.StatusOK || !strings.HasPrefix(a.contentType, "text/html") {
				t.Errorf("HTTP %d %q, want 200 text/html", a.status, a.contentType)
			}
		}},
		{"MediaSlow", Faults{MediaSlow: 1, SlowChunkDelay: time.Nanosecond}, true, func(t *testing.T, a, good attempt) {
			if a.err != nil || string(a.body) != string(good.body) {
				t.Errorf("HTTP %d err %v: a slow body must still be whole", a.status, a.err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
			clock.Advance(finishedLater)
			url := ts.URL + "/v1/video/generations/" + id
			if tt.media {
				url, _ = successURLs(t, ts, id)
			}
			good := try(t, ts, http.MethodGet, url, defaultAPIKey)
			if good.err != nil || good.status != http.StatusOK {
				t.Fatalf("without faults: HTTP %d err %v", good.status, good.err)
			}

			sim.SetFaults(tt.faults)
			seen := map[string]bool{}
			for range requests {
				a := try(t, ts, http.MethodGet, url, defaultAPIKey)
				tt.check(t, a, good)
				seen["retry-after:"+a.header.Get("Retry-After")] = true
				seen["type:"+a.contentType] = true
			}
			if tt.name == "API429" && (!seen["retry-after:2"] || !seen["retry-after:"]) {
				t.Errorf("429s with and without Retry-After: saw %v", seen)
			}
			if tt.name == "API5xx" && (!seen["type:application/json; charset=utf-8"] || !seen["type:text/plain; charset=utf-8"]) {
				t.Errorf("5xx with JSON and plain bodies: saw %v", seen)
			}

			// Faults are per request: switched off, everything works again.
			sim.SetFaults(Faults{})
			if a := try(t, ts, http.MethodGet, url, defaultAPIKey); a.err != nil || a.status != http.StatusOK {
				t.Errorf("after faults: HTTP %d err %v", a.status, a.err)
			}
		})
	}
}

// TestFaultsAreTransient checks that a retrying client gets through at
// moderate fault rates, and that both outcomes occur.
func TestFaultsAreTransient(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.Faults = Faults{API5xx: 0.2, API429: 0.2, APIHTML: 0.2, APIReset: 0.2}
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{})
	var ok, failed int
	for range 40 {
		a := try(t, ts, http.MethodGet, ts.URL+"/v1/video/generations/"+id, defaultAPIKey)
		if a.err == nil && a.status == http.StatusOK && json.Valid(a.body) && strings.Contains(string(a.body), id) {
			ok++
		} else {
			failed++
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d good and %d faulty replies, want both", ok, failed)
	}
}

// TestSlowBodyStopsOnCancel checks that a slow body is really paced (the
// second chunk does not come while the client holds the first) and that the
// handler gives up as soon as the client goes away, instead of sleeping on.
func TestSlowBodyStopsOnCancel(t *testing.T) {
	clock := newFakeClock()
	sim := New(testConfig(clock))
	ts := httptest.NewServer(sim)
	id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	clock.Advance(finishedLater)
	url, _ := successURLs(t, ts, id)
	sim.SetFaults(Faults{MediaSlow: 1, SlowChunkDelay: time.Hour})

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, slowChunk)); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("body completed despite an hour between chunks")
	}
	resp.Body.Close()
	ts.Close() // waits for the handler: hangs (and the test times out) if it ignores the cancel
}

// TestConcurrentClients drives creation, polling, downloads, fault and key
// changes and the clock from many goroutines at once; run it with -race.
func TestConcurrentClients(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.Faults = Faults{API5xx: 0.1, APITruncated: 0.1, Media5xx: 0.1, MediaTruncated: 0.1}
	sim, ts := mustStartSimulator(t, cfg)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(w%2 == 0)})
			for range 10 {
				a := try(t, ts, http.MethodGet, ts.URL+"/v1/video/generations/"+id, defaultAPIKey)
				var reply struct {
					Data struct {
						ResultURL string `json:"result_url"`
					} `json:"data"`
				}
				if a.err != nil || json.Unmarshal(a.body, &reply) != nil || reply.Data.ResultURL == "" {
					continue
				}
				try(t, ts, http.MethodGet, reply.Data.ResultURL, "")
				sim.Expected(id)
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			clock.Advance(time.Second)
			sim.SetFaults(Faults{API429: float64(i%2) / 4})
			sim.TaskIDs()
		}
		sim.SetAPIKey(defaultAPIKey)
	})
	wg.Wait()
	if n := len(sim.TaskIDs()); n != 16 {
		t.Errorf("%d tasks, want 16", n)
	}
}
