package discovery_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/discovery"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/simulator"
)

const (
	accessToken = "sim-dash-token-0123456789"
	userID      = 7
)

// clock is a test clock moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func openCatalog(t *testing.T) *catalog.DB {
	t.Helper()
	cat, _ := catalogtest.Open(t, t.TempDir())
	return cat
}

func newSimulator(t *testing.T, c *clock, mutate func(*simulator.Config)) (*simulator.Server, *httptest.Server) {
	t.Helper()
	cfg := simulator.Config{Seed: 9, Clock: c.Now, AccessToken: accessToken, UserID: userID}
	if mutate != nil {
		mutate(&cfg)
	}
	sim := simulator.New(cfg)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, ts
}

func TestPassTracksExactlyTheWindow(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	sim, ts := newSimulator(t, c, nil)
	var before, inside []string
	for range 3 {
		before = append(before, sim.CreateTask(simulator.TaskOptions{}))
		c.Advance(time.Minute)
	}
	c.Advance(time.Hour)
	from := c.Now()
	for range 250 { // three pages of 100
		inside = append(inside, sim.CreateTask(simulator.TaskOptions{}))
		c.Advance(time.Second)
	}
	cat := openCatalog(t)
	d := discovery.New(gateway.NewDashboard(ts.URL, accessToken, userID, nil), cat, discovery.Options{Clock: c.Now})
	res, err := d.Pass(t.Context(), from, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := trackedIDs(res)
	slices.Sort(got)
	want := slices.Clone(inside)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("tracked %d ids, want the %d of the window (first missing or extra differs)", len(got), len(want))
	}
	for _, id := range before {
		if _, err := cat.Get(t.Context(), id); err == nil {
			t.Errorf("task %s, submitted before the window, was tracked", id)
		}
	}
	// A second pass over the same window tracks nothing new.
	again, err := d.Pass(t.Context(), from, c.Now())
	if err != nil || len(again.Tracked) != 0 || again.Listed != len(inside) {
		t.Fatalf("second pass: tracked %d, listed %d, err %v; want 0, %d, nil", len(again.Tracked), again.Listed, err, len(inside))
	}
}

// createBetweenPages creates a task on the simulator after every listing
// reply, as a busy account does while reelvault pages.
type createBetweenPages struct {
	sim     *simulator.Server
	created []string
}

func (c *createBetweenPages) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasPrefix(r.URL.Path, "/api/task/self") {
		c.created = append(c.created, c.sim.CreateTask(simulator.TaskOptions{}))
	}
	return resp, err
}

func TestPassLosesNoIDWhenRowsShiftWhilePaging(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	sim, ts := newSimulator(t, c, nil)
	from := c.Now()
	var existing []string
	for range 230 {
		existing = append(existing, sim.CreateTask(simulator.TaskOptions{}))
	}
	// Every task carries the same submit second as the window's end, so
	// the rows created between page reads fall inside the window and push
	// every later page down by one.
	shift := &createBetweenPages{sim: sim}
	cat := openCatalog(t)
	d := discovery.New(gateway.NewDashboard(ts.URL, accessToken, userID, &http.Client{Transport: shift}),
		cat, discovery.Options{Clock: c.Now})
	res, err := d.Pass(t.Context(), from, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(shift.created) < 2 {
		t.Fatalf("only %d tasks were created between page reads; the test does not shift pages", len(shift.created))
	}
	tracked := map[string]bool{}
	for _, id := range trackedIDs(res) {
		tracked[id] = true
	}
	for _, id := range existing {
		if !tracked[id] {
			t.Fatalf("task %s, in the window before the pass began, was lost while rows shifted (%d tracked of %d)",
				id, len(res.Tracked), len(existing))
		}
	}
}

func TestPassSkipsTasksThatAreNotVideos(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true,"message":"","data":{"page":1,"page_size":100,"total":4,"items":[
			{"task_id":"asyntask_video1","platform":"54","action":"generate","status":"SUCCESS","submit_time":"1764583200"},
			{"task_id":"suno-song-1","platform":"suno","action":"MUSIC","status":"SUCCESS","submit_time":1764583200},
			{"task_id":"../../etc","platform":"54","action":"generate","submit_time":1764583200},
			{"task_id":"asyntask_video2","platform":"kling","action":"omniGenerate","status":"IN_PROGRESS","submit_time":1764583201}]}}`))
	}))
	defer gw.Close()
	cat := openCatalog(t)
	d := discovery.New(gateway.NewDashboard(gw.URL, accessToken, userID, nil), cat, discovery.Options{
		ValidID: func(id string) bool { return !strings.ContainsAny(id, "./") },
	})
	res, err := d.Pass(t.Context(), time.Unix(1764583000, 0), time.Unix(1764583300, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := trackedIDs(res)
	slices.Sort(got)
	if want := []string{"asyntask_video1", "asyntask_video2"}; !slices.Equal(got, want) || res.Skipped != 2 {
		t.Fatalf("tracked %v, skipped %d; want %v and 2 skipped", got, res.Skipped, want)
	}
}

func TestListingErrorsAreClearAndNeverCarryTheToken(t *testing.T) {
	const token = "tok-SECRET-4242"
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"401", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"success":false,"message":"无权进行此操作，未提供 New-Api-User"}`))
		}, gateway.ErrTokenRejected},
		{"200 with success false, echoing the token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"success":false,"message":"access token ` + token + ` 无效"}`))
		}, gateway.ErrTokenRejected},
		{"404 page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`<html><body>Not Found ` + token + `</body></html>`))
		}, gateway.ErrNoListing},
		{"404 JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid URL (GET /api/task/self)","type":"invalid_request_error"}}`))
		}, gateway.ErrNoListing},
		{"200 HTML (the web UI's index)", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><html><head><title>Gateway</title></head><body><div id=root></div></body></html>`))
		}, gateway.ErrBadReply},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gw := httptest.NewServer(tc.handler)
			defer gw.Close()
			var logs bytes.Buffer
			d := discovery.New(gateway.NewDashboard(gw.URL, token, userID, nil), openCatalog(t),
				discovery.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
					Backoff: retry.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
			_, err := d.Pass(t.Context(), time.Now().Add(-time.Hour), time.Now())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
				t.Fatalf("the access token leaked: %v / %s", err, logs.String())
			}
		})
	}
}

func TestDashboardRefusesRedirectsToAnotherHost(t *testing.T) {
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization") != ""
		_, _ = w.Write([]byte(`{"success":true,"data":{"total":1,"items":[{"task_id":"asyntask_evil"}]}}`))
	}))
	defer other.Close()
	gw := httptest.NewServer(http.RedirectHandler(other.URL+"/api/task/self", http.StatusFound))
	defer gw.Close()
	_, err := gateway.NewDashboard(gw.URL, accessToken, userID, nil).ListTasks(t.Context(), gateway.ListQuery{Page: 1, PageSize: 10})
	if err == nil || leaked {
		t.Fatalf("redirect to another host: err %v, token sent there: %v", err, leaked)
	}
}

func trackedIDs(res discovery.Result) []string {
	var ids []string
	for _, it := range res.Tracked {
		ids = append(ids, it.TaskID)
	}
	return ids
}

// signalling tells the test each time a listing request was answered.
type signalling struct{ answered chan struct{} }

func (s signalling) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	select {
	case s.answered <- struct{}{}:
	default:
	}
	return resp, err
}

func TestStaleWhenTheListingFailsForLong(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	sim, ts := newSimulator(t, c, nil)
	sim.SetAccessToken("rotated") // our token no longer works
	sig := signalling{answered: make(chan struct{}, 1)}
	d := discovery.New(gateway.NewDashboard(ts.URL, accessToken, userID, &http.Client{Transport: sig}), openCatalog(t),
		discovery.Options{Clock: c.Now, Interval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if why := d.Stale(c.Now().Add(2*time.Hour), time.Hour); why != "" {
		t.Fatalf("not running yet, Stale = %q; want nothing", why)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-sig.answered // a pass has run (and failed)

	if why := d.Stale(c.Now().Add(30*time.Minute), time.Hour); why != "" {
		t.Errorf("failing for 30 min: Stale = %q; want nothing yet", why)
	}
	if why := d.Stale(c.Now().Add(61*time.Minute), time.Hour); !strings.Contains(why, "not been read for 1h1m") {
		t.Errorf("failing for 61 min: Stale = %q; want it to say since when", why)
	}
	c.Advance(2 * time.Hour)
	sim.SetAccessToken(accessToken) // fixed: the next pass succeeds
	for d.Stale(c.Now(), time.Hour) != "" {
		select {
		case <-sig.answered:
		case <-t.Context().Done():
			t.Fatal("the listing works again, but discovery still says it is stale")
		}
	}
}
