package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/server"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
)

// brokenStore is a store whose bucket cannot be reached.
type brokenStore struct{ storage.Store }

func (brokenStore) Stat(context.Context, string) (storage.ObjectInfo, error) {
	return storage.ObjectInfo{}, errors.New("dial tcp 10.0.0.9:9000: connection refused")
}
func (brokenStore) Location() string { return "s3://videos" }

type readyReply struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func TestReadyzSaysWhatIsWrong(t *testing.T) {
	cat := openCatalog(t)
	good, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Bool
	loopDown := errors.New("poll loop restarted 1 time(s), last after: record result: database is locked")
	for _, tc := range []struct {
		name    string
		store   storage.Store
		reject  bool
		loopErr error
		code    int
		failed  string
	}{
		{"all well", good, false, nil, http.StatusOK, ""},
		{"storage down", brokenStore{}, false, nil, http.StatusServiceUnavailable, "storage"},
		{"key rejected", good, true, nil, http.StatusServiceUnavailable, "api_key"},
		{"loop restarted", good, false, loopDown, http.StatusServiceUnavailable, "loops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejected.Store(tc.reject)
			log, _ := newLogger(t)
			url := serve(t, server.Options{Logger: log, Ready: []server.Check{
				server.CatalogWritable(cat), server.StorageReachable(tc.store, ""), server.KeyAccepted(rejected.Load),
				server.LoopsRunning(func() error { return tc.loopErr }),
			}})
			if code, _ := do(t, "GET", url+"/healthz", "", ""); code != http.StatusOK {
				t.Errorf("/healthz: HTTP %d, want 200 whatever readiness says", code)
			}
			code, b := do(t, "GET", url+"/readyz", "", "")
			reply := decode[readyReply](t, b)
			if code != tc.code || reply.Ready != (tc.code == http.StatusOK) {
				t.Fatalf("/readyz: HTTP %d %s, want %d", code, b, tc.code)
			}
			for name, verdict := range reply.Checks {
				if (name == tc.failed) == (verdict == "ok") {
					t.Errorf("check %s: %q", name, verdict)
				}
			}
			if len(reply.Checks) != 4 {
				t.Errorf("checks %v: want catalog, storage, api_key and loops", reply.Checks)
			}
			if tc.loopErr != nil && reply.Checks["loops"] != tc.loopErr.Error() {
				t.Errorf("loops check says %q, want %q", reply.Checks["loops"], tc.loopErr)
			}
		})
	}
}

func TestHeartbeatPingsOnlyWhileTheBacklogIsHealthy(t *testing.T) {
	var pings atomic.Int32
	monitor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pings.Add(1) }))
	t.Cleanup(monitor.Close)
	cat := openCatalog(t)
	ctx := t.Context()
	t0 := time.Date(2026, 4, 27, 11, 0, 0, 0, time.UTC)
	now := t0
	var rejected atomic.Bool
	log, logs := newLogger(t)
	hb := &server.Heartbeat{
		URL: monitor.URL + "/ping/secret-uuid", Margin: 2 * time.Hour, Backlog: cat.Backlog,
		KeyRejected: rejected.Load, Client: monitor.Client(), Clock: func() time.Time { return now }, Logger: log,
	}
	beat := func(want bool) {
		t.Helper()
		before := pings.Load()
		pinged, err := hb.Beat(ctx)
		if err != nil || pinged != want || (pings.Load() > before) != want {
			t.Fatalf("at %s: pinged=%v (err %v, monitor saw %d new); want %v", now.Sub(t0), pinged, err, pings.Load()-before, want)
		}
	}
	beat(true) // empty catalog: nothing at risk

	if _, err := cat.Track(ctx, []string{"asyntask_a"}, t0); err != nil {
		t.Fatal(err)
	}
	err := cat.Finish(ctx, catalog.Task{TaskID: "asyntask_a", Status: "SUCCESS", FinishTime: t0.Unix()},
		[]catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x/a.mp4", ExpiresAt: t0.Add(3 * time.Hour)}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	beat(true) // expires in 3 h, margin 2 h
	now = t0.Add(90 * time.Minute)
	beat(false) // 90 min left: within the margin, the monitor must notice the silence
	if !strings.Contains(logs.String(), "pings paused") || strings.Contains(logs.String(), "secret-uuid") {
		t.Errorf("log should say pings paused, without the heartbeat URL's secret:\n%s", logs)
	}
	if err := cat.AssetArchived(ctx, catalog.Asset{TaskID: "asyntask_a", Kind: catalog.KindResult}, now); err != nil {
		t.Fatal(err)
	}
	beat(true) // archived: healthy again
	rejected.Store(true)
	beat(false)
	rejected.Store(false)
	beat(true)
	stale := "the gateway's task listing has not been read for 1h0m1s"
	hb.Stale = func() string { return stale }
	beat(false) // discovery behind: the silence says so
	if !strings.Contains(logs.String(), stale) {
		t.Errorf("log should name why pings paused (%q):\n%s", stale, logs)
	}
	stale = ""
	beat(true)
}
