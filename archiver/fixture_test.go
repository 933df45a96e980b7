package archiver_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/storage/s3"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// fixture is one archiver run against a scripted gateway: the test decides
// every reply, then checks what a user would check in the catalog and the
// store.
type fixture struct {
	t     *testing.T
	path  string // of the catalog: its SQLite file or Postgres URL (catalogtest.Open)
	cat   *catalog.DB
	store storage.Store
	gw    *httptest.Server
	logs  *lockedBuffer
	opts  archiver.Options
	// clientTimeout bounds one gateway request [5s].
	clientTimeout time.Duration
	// gatewayURL and apiKey replace the scripted gateway (the simulator).
	gatewayURL, apiKey string
	// setup runs on the archiver before Run (test CA, test DNS).
	setup []func(*archiver.Archiver)

	mu    sync.Mutex
	polls map[string][]time.Time // when each request for a task arrived
	reply func(id string, n int, w http.ResponseWriter, r *http.Request)
}

func newFixture(t *testing.T, store storage.Store) *fixture {
	t.Helper()
	cat, path := catalogtest.Open(t, t.TempDir())
	f := &fixture{t: t, path: path, cat: cat, store: store, logs: &lockedBuffer{}, clientTimeout: 5 * time.Second,
		polls: map[string][]time.Time{}}
	f.opts = archiver.Options{
		PollInterval:         20 * time.Millisecond,
		RequestsPerSecond:    1000,
		AllowHTTP:            true,
		AllowPrivateNetworks: true, // test servers listen on loopback
		StallTimeout:         5 * time.Second,
		PollBackoff:          retry.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		AssetBackoff:         retry.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		LoopBackoff:          retry.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Logger:               slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	f.gw = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/v1/video/generations/")
		f.mu.Lock()
		n := len(f.polls[id])
		f.polls[id] = append(f.polls[id], time.Now())
		reply := f.reply
		f.mu.Unlock()
		reply(id, n, w, r)
	}))
	t.Cleanup(f.gw.Close)
	return f
}

// run tracks ids and makes one `run --once`, bounded so a hang fails.
func (f *fixture) run(ids ...string) error {
	f.t.Helper()
	a := f.archiver(ids...)
	ctx, cancel := context.WithTimeout(f.t.Context(), 30*time.Second)
	defer cancel()
	err := a.Run(ctx, true)
	if ctx.Err() != nil {
		f.t.Fatalf("run --once did not finish: %v; log:\n%s", ctx.Err(), f.logs)
	}
	return err
}

// archiver tracks ids and returns an archiver on the fixture's gateway,
// catalog and store, not started.
func (f *fixture) archiver(ids ...string) *archiver.Archiver {
	f.t.Helper()
	f.track(ids...)
	base, key := f.gw.URL, "test-key"
	if f.gatewayURL != "" {
		base, key = f.gatewayURL, f.apiKey
	}
	client := gateway.NewClient(base, key, &http.Client{Timeout: f.clientTimeout})
	a := archiver.New(f.cat, client, f.store, f.opts)
	for _, fn := range f.setup {
		fn(a)
	}
	return a
}

func (f *fixture) track(ids ...string) {
	f.t.Helper()
	if _, err := f.cat.Track(f.t.Context(), ids, time.Now()); err != nil {
		f.t.Fatal(err)
	}
}

// daemon runs a as `reelvault run` does (no --once) until stop, which
// returns what Run returned, nil for the cancellation itself. A Run that returns before stop fails the test
// at stop.
func (f *fixture) daemon(a *archiver.Archiver) (stop func() error) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(f.t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, false) }()
	return func() error {
		f.t.Helper()
		select {
		case err := <-done:
			cancel()
			f.t.Fatalf("the daemon's Run returned before it was stopped: %v", err)
		default:
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
}

// waitFor polls cond until it holds; it fails the test if that takes
// longer than any healthy run could (a hang guard, not a timing check).
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), 40*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			f.t.Fatalf("never saw %s; log:\n%s", what, f.logs)
		case <-tick.C:
		}
	}
}

func (f *fixture) pollTimes(id string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.polls[id]...)
}

func (f *fixture) task(id string) catalog.Task {
	f.t.Helper()
	got, err := f.cat.Get(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *fixture) asset(id, kind string) catalog.Asset {
	f.t.Helper()
	for _, a := range f.task(id).Assets {
		if a.Kind == kind {
			return a
		}
	}
	f.t.Fatalf("%s has no %s asset", id, kind)
	return catalog.Asset{}
}

// assertArchived checks that the video is in the catalog as archived and in
// the store byte for byte.
func (f *fixture) assertArchived(id, kind string, video []byte) catalog.Asset {
	f.t.Helper()
	a := f.asset(id, kind)
	want := sha256Hex(video)
	if a.State != catalog.AssetArchived || a.SHA256 != want || a.Size != int64(len(video)) {
		f.t.Errorf("%s %s: state %q size %d sha256 %.12s (last error %q); want archived, %d bytes, sha256 %.12s",
			id, kind, a.State, a.Size, a.SHA256, a.LastError, len(video), want)
	}
	if got := storedSHA(f.t, f.store, a.Key); got != want {
		f.t.Errorf("%s %s: object %q has sha256 %.12s, want %.12s", id, kind, a.Key, got, want)
	}
	return a
}

// assertGone checks that a video ended in state with a reason saying why.
func (f *fixture) assertGone(id, kind, state, reasonHas string) {
	f.t.Helper()
	a := f.asset(id, kind)
	if a.State != state || !strings.Contains(a.LastError, reasonHas) {
		f.t.Errorf("%s %s: state %q, reason %q; want %q with a reason containing %q", id, kind, a.State, a.LastError, state, reasonHas)
	}
}

// assertNothingFalse checks the promise behind every fault test: no asset is
// archived whose object is missing or differs, and the store holds nothing
// but archived videos and task.json files (no error page kept as a video).
func (f *fixture) assertNothingFalse() {
	f.t.Helper()
	ctx := f.t.Context()
	tasks, err := f.cat.List(ctx, catalog.Filter{})
	if err != nil {
		f.t.Fatal(err)
	}
	known := map[string]bool{}
	for _, task := range tasks {
		known[task.TaskJSONKey] = true
		for _, a := range task.Assets {
			if a.State != catalog.AssetArchived {
				continue
			}
			known[a.Key] = true
			if info, err := f.store.Stat(ctx, a.Key); err != nil || info.Size != a.Size {
				f.t.Errorf("%s %s archived as %q (%d bytes), store says %+v, %v", task.TaskID, a.Kind, a.Key, a.Size, info, err)
			} else if got := storedSHA(f.t, f.store, a.Key); got != a.SHA256 {
				f.t.Errorf("%s %s: object sha256 %.12s, catalog says %.12s", task.TaskID, a.Kind, got, a.SHA256)
			}
		}
	}
	err = f.store.List(ctx, "", func(o storage.ObjectInfo) error {
		if !known[o.Key] {
			f.t.Errorf("store holds %q (%d bytes), which no archived asset or task.json names", o.Key, o.Size)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// countLogs counts log lines containing every one of parts.
func (f *fixture) countLogs(parts ...string) int {
	n := 0
	for _, line := range strings.Split(f.logs.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// taskSpec is what a scripted gateway says about a task.
type taskSpec struct {
	status                 string
	resultURL, originalURL string
	duration               float64
	resolution, superRes   string
	finishTime             int64 // [now]
}

// writeTask answers a poll with the gateway's envelope around spec.
func writeTask(w http.ResponseWriter, id string, s taskSpec) {
	now := time.Now().Unix()
	finish := cmp.Or(s.finishTime, now)
	data := map[string]any{"task_id": id, "action": "generate", "status": s.status, "progress": "100%",
		"submit_time": now - 60, "start_time": now - 30, "finish_time": finish, "fail_reason": s.resultURL,
		"request_id": "req-1"}
	if s.resultURL != "" {
		data["result_url"] = s.resultURL
	}
	if s.originalURL != "" {
		data["original_result_url"] = s.originalURL
	}
	data["data"] = map[string]any{"id": "cgt-1", "model": "seedance-test", "duration": s.duration, "ratio": "16:9",
		"resolution": s.resolution, "super_resolution": s.superRes, "status": "succeeded"}
	writeJSON(w, http.StatusOK, map[string]any{"code": "success", "message": "", "data": data})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// simVideo returns the bytes of a video the simulator makes for a task
// created with o: a real MP4 whose boxes carry its duration and size.
func simVideo(t *testing.T, o simulator.TaskOptions) []byte {
	t.Helper()
	no := false
	o.Fail, o.SuperResolution = &no, &no
	sim := simulator.New(simulator.Config{NotStartFor: -1, QueuedFor: -1, RunFor: -1, VideoBytes: 64 << 10})
	id := sim.CreateTask(o)
	get := func(path string) []byte {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer sim-key")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("simulator GET %s: %d", path, w.Code)
		}
		return w.Body.Bytes()
	}
	var reply struct {
		Data struct {
			ResultURL string `json:"result_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(get("/v1/video/generations/"+id), &reply); err != nil {
		t.Fatal(err)
	}
	u := reply.Data.ResultURL
	return get(u[strings.Index(u, "/tos/"):])
}

func fsStore(t *testing.T) storage.Store {
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func s3Store(t *testing.T) storage.Store {
	env := storagetest.S3Server(t)
	s, err := s3.New(t.Context(), s3.Config{Bucket: storagetest.NewBucket(t, env), Endpoint: env.Endpoint,
		ForcePathStyle: true, AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func storedSHA(t *testing.T, s storage.Store, key string) string {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err != nil {
		return "missing: " + err.Error()
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
