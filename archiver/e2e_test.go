package archiver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/s3"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// stores are the three drivers an end-to-end run must work against.
var stores = []struct {
	name string
	open func(t *testing.T) storage.Store
}{
	{"fs", func(t *testing.T) storage.Store {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"s3", func(t *testing.T) storage.Store {
		env := storagetest.S3Server(t)
		s, err := s3.New(t.Context(), s3.Config{Bucket: storagetest.NewBucket(t, env), Endpoint: env.Endpoint,
			ForcePathStyle: true, AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"minio", func(t *testing.T) storage.Store {
		env := storagetest.S3Server(t)
		host, secure := env.HostPort()
		s, err := minio.New(t.Context(), minio.Config{Endpoint: host, Secure: secure, Bucket: storagetest.NewBucket(t, env),
			AccessKey: env.AccessKey, SecretKey: env.SecretKey, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// allFaults turns on every transient fault the simulator knows, often
// enough that each run meets several of them.
var allFaults = simulator.Faults{
	API5xx: 0.08, API429: 0.05, APIHTML: 0.05, APITruncated: 0.05, APIReset: 0.05,
	Media5xx: 0.08, MediaTruncated: 0.08, MediaReset: 0.08, MediaHTML: 0.05,
	RetryAfter: 50 * time.Millisecond,
}

type harness struct {
	sim   *simulator.Server
	url   string
	cat   *catalog.DB
	store storage.Store
}

func newHarness(t *testing.T, store storage.Store, cfg simulator.Config) *harness {
	t.Helper()
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cat, _ := catalogtest.Open(t, t.TempDir())
	return &harness{sim: sim, url: srv.URL, cat: cat, store: store}
}

// fastOptions are archiver options with time knobs turned down for tests.
func fastOptions(t *testing.T) archiver.Options {
	return archiver.Options{
		PollInterval:      30 * time.Millisecond,
		RequestsPerSecond: 500,
		Concurrency:       4,
		AllowHTTP:         true,
		StallTimeout:      5 * time.Second,
		PollBackoff:       retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		AssetBackoff:      retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),

		AllowPrivateNetworks: true, // the simulator serves videos from loopback
	}
}

func (h *harness) run(t *testing.T, key string, opts archiver.Options) error {
	t.Helper()
	client := gateway.NewClient(h.url, key, &http.Client{Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	return archiver.New(h.cat, client, h.store, opts).Run(ctx, true)
}

func (h *harness) track(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		ids = append(ids, h.sim.CreateTask(simulator.TaskOptions{}))
	}
	if _, err := h.cat.Track(t.Context(), ids, time.Now()); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRunOnceArchivesEveryVideoDespiteFaults(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			h := newHarness(t, st.open(t), simulator.Config{
				Seed: 7, NotStartFor: 20 * time.Millisecond, QueuedFor: 20 * time.Millisecond, RunFor: 150 * time.Millisecond,
				VideoBytes: 96 << 10, FailureRate: 0.2, SuperResolutionRate: 0.4, Faults: allFaults,
			})
			ids := h.track(t, 24)
			opts := fastOptions(t)
			var archived countingObserver
			opts.Observer = &archived
			if err := h.run(t, "sim-key", opts); err != nil {
				t.Fatalf("run --once: %v", err)
			}
			videos := checkArchive(t, h, ids)
			// Each video is transferred to success once: a second success
			// would mean the scheduler ran it twice and rewrote its record.
			if n := archived.n.Load(); n != int64(videos) {
				t.Errorf("%d successful transfers for %d videos", n, videos)
			}
		})
	}
}

type countingObserver struct{ n atomic.Int64 }

func (c *countingObserver) Polled(string)                                        {}
func (c *countingObserver) Archived(string, int64, time.Duration, time.Duration) { c.n.Add(1) }
func (c *countingObserver) Lost(string, string)                                  {}

// checkArchive asserts what a user would check after a run: every video of
// every successful task is in storage byte for byte (sha256), the catalog
// says so, failed tasks carry their reason, and nothing else is stored.
func checkArchive(t *testing.T, h *harness, ids []string) (archived int) {
	t.Helper()
	ctx := t.Context()
	wantObjects := map[string]bool{}
	var successes, failures, srTasks int
	for _, id := range ids {
		status, videos, ok := h.sim.Expected(id)
		if !ok {
			t.Fatalf("simulator does not know %s", id)
		}
		got, err := h.cat.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != status {
			t.Errorf("%s: status %q, want %q", id, got.Status, status)
			continue
		}
		if status == "FAILURE" {
			failures++
			if got.FailReason == "" || got.ArchiveState != "" || len(got.Assets) != 0 {
				t.Errorf("%s: failed task: fail_reason %q, archive_state %q, %d assets; want a reason, no archive",
					id, got.FailReason, got.ArchiveState, len(got.Assets))
			}
			continue
		}
		successes++
		if len(videos) == 2 {
			srTasks++
		}
		if got.FailReason != "" {
			t.Errorf("%s: successful task has fail_reason %q (the legacy URL copy is not a failure)", id, got.FailReason)
		}
		if got.ArchiveState != catalog.ArchiveArchived {
			t.Errorf("%s: archive_state %q, want archived (assets %+v)", id, got.ArchiveState, got.Assets)
		}
		if len(got.Assets) != len(videos) {
			t.Errorf("%s: %d assets in catalog, simulator made %d videos", id, len(got.Assets), len(videos))
		}
		for _, v := range videos {
			var a *catalog.Asset
			for i := range got.Assets {
				if got.Assets[i].Kind == v.Kind {
					a = &got.Assets[i]
				}
			}
			if a == nil {
				t.Errorf("%s: no %s asset", id, v.Kind)
				continue
			}
			if a.State != catalog.AssetArchived || a.SHA256 != v.SHA256 || a.Size != v.Size {
				t.Errorf("%s %s: state %s size %d sha %s; want archived size %d sha %s", id, v.Kind, a.State, a.Size, a.SHA256, v.Size, v.SHA256)
			}
			if sum := storagetest.ObjectSHA256(t, h.store, a.Key); sum != v.SHA256 {
				t.Errorf("%s %s: stored object %s has sha256 %s, want %s", id, v.Kind, a.Key, sum, v.SHA256)
			}
			if !strings.HasSuffix(a.Key, "/"+id+"/"+v.Kind+".mp4") {
				t.Errorf("%s: key %q not in the task's folder", id, a.Key)
			}
			wantObjects[a.Key] = true
			archived++
		}
		checkSidecar(t, h.store, got)
		wantObjects[got.TaskJSONKey] = true
	}
	if successes == 0 || failures == 0 || srTasks == 0 {
		t.Fatalf("run covered %d successes, %d failures, %d super-resolution tasks: want some of each", successes, failures, srTasks)
	}
	var stored []string
	if err := h.store.List(ctx, "", func(o storage.ObjectInfo) error { stored = append(stored, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range stored {
		if !wantObjects[k] {
			t.Errorf("unexpected object %q in storage", k)
		}
	}
	if len(stored) != len(wantObjects) {
		t.Errorf("%d objects stored, want %d", len(stored), len(wantObjects))
	}
	return archived
}

func checkSidecar(t *testing.T, s storage.Store, task catalog.Task) {
	t.Helper()
	r, err := s.Open(t.Context(), task.TaskJSONKey)
	if err != nil {
		t.Errorf("%s: task.json: %v", task.TaskID, err)
		return
	}
	defer r.Close()
	body, _ := io.ReadAll(r)
	var sc archiver.Sidecar
	if err := json.Unmarshal(body, &sc); err != nil {
		t.Errorf("%s: task.json is not JSON: %v", task.TaskID, err)
		return
	}
	if sc.Archive.TaskID != task.TaskID || sc.Archive.ArchiveState != catalog.ArchiveArchived || len(sc.Archive.Assets) != len(task.Assets) {
		t.Errorf("%s: task.json archive record %+v does not match the catalog", task.TaskID, sc.Archive)
	}
	if strings.Contains(string(body), "Signature=") && !strings.Contains(string(body), "Signature=REDACTED") ||
		strings.Contains(string(body), "auth_key=") && !strings.Contains(string(body), "auth_key=REDACTED") {
		t.Errorf("%s: task.json leaks a URL signature", task.TaskID)
	}
}

// A progress display reads InFlight while a slow video streams: it must see
// the transfer and its bytes grow, and nothing once the run is over.
func TestInFlightReportsTransfersAsTheyMove(t *testing.T) {
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, store, simulator.Config{
		NotStartFor: -1, QueuedFor: -1, RunFor: time.Millisecond, FailureRate: -1, SuperResolutionRate: -1,
		VideoBytes: 1 << 20, Faults: simulator.Faults{MediaSlow: 1, SlowChunkDelay: 20 * time.Millisecond},
	})
	h.track(t, 1)
	client := gateway.NewClient(h.url, "sim-key", &http.Client{Timeout: 5 * time.Second})
	arch := archiver.New(h.cat, client, h.store, fastOptions(t))
	done := make(chan error, 1)
	go func() { done <- arch.Run(t.Context(), true) }()
	var seen int64
	for seen < 64<<10 {
		select {
		case err := <-done:
			t.Fatalf("run ended (%v) before a transfer was seen in flight", err)
		case <-time.After(5 * time.Millisecond):
		}
		if n, b := arch.InFlight(); n == 1 && b > seen {
			seen = b
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, b := arch.InFlight(); n != 0 || b != 0 {
		t.Errorf("after the run: InFlight = %d videos, %d bytes; want nothing", n, b)
	}
}
