package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 4, 27, 11, 15, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testConfig is a config with the default phase lengths and a fake clock.
func testConfig(clock *fakeClock) Config {
	return Config{Seed: 42, Clock: clock.Now, VideoBytes: 64 << 10}
}

// mustStartSimulator serves a simulator configured by cfg over loopback.
func mustStartSimulator(tb testing.TB, cfg Config) (*Server, *httptest.Server) {
	tb.Helper()
	sim := New(cfg)
	ts := httptest.NewServer(sim)
	tb.Cleanup(ts.Close)
	return sim, ts
}

// finishedLater is how long after creation a default-config task is done.
const finishedLater = defaultNotStartFor + defaultQueuedFor + defaultRunFor

func ptr[T any](v T) *T { return &v }

// get sends GET url with the Bearer key ("" for none).
func get(tb testing.TB, ts *httptest.Server, url, key string) *http.Response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// poll fetches task id and decodes the reply leniently.
func poll(tb testing.TB, ts *httptest.Server, id string) (int, map[string]any) {
	tb.Helper()
	resp := get(tb, ts, ts.URL+"/v1/video/generations/"+id, defaultAPIKey)
	return resp.StatusCode, decodeJSON(tb, resp)
}

func decodeJSON(tb testing.TB, resp *http.Response) map[string]any {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("Content-Type %q, want application/json; body %s", ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// taskData is the data object of a poll reply.
func taskData(tb testing.TB, reply map[string]any) map[string]any {
	tb.Helper()
	d, ok := reply["data"].(map[string]any)
	if !ok {
		tb.Fatalf("reply has no data object: %v", reply)
	}
	return d
}

// successURLs finishes task id and returns its result and original URLs.
func successURLs(tb testing.TB, ts *httptest.Server, id string) (result, original string) {
	tb.Helper()
	code, reply := poll(tb, ts, id)
	d := taskData(tb, reply)
	if code != http.StatusOK || d["status"] != statusSuccess {
		tb.Fatalf("task %s: HTTP %d status %v, want SUCCESS", id, code, d["status"])
	}
	original, _ = d["original_result_url"].(string)
	return d["result_url"].(string), original
}

// keys returns the keys of m, for exact field-set comparisons.
func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
