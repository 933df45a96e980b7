package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/storage/s3"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// envOptions extend newEnv for the fault tests.
type envOptions struct {
	apiKey  string                          // the gateway key ("" = the simulator's default)
	storage backend                         // where objects go (zero = fs under the env)
	archive string                          // extra keys of the archive section, each "  key: value\n"
	wrap    func(http.Handler) http.Handler // wraps the simulator (gateway and origin)
}

// newEnvWith is newEnv with a chosen API key, storage backend and a hook in
// front of the simulator. `run` serves HTTP on a free port, as with newEnv.
func newEnvWith(t *testing.T, cfg simulator.Config, o envOptions) *env {
	t.Helper()
	if o.apiKey == "" {
		o.apiKey = "sim-key"
	}
	cfg.APIKey = o.apiKey
	sim := simulator.New(cfg)
	var h http.Handler = sim
	if o.wrap != nil {
		h = o.wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	config := filepath.Join(dir, "reelvault.yaml")
	yaml := fmt.Sprintf(`api:
  base_url: %s
  api_key: %s
  poll_interval: 1s
  requests_per_second: 500
archive:
  concurrency: 4
  stall_timeout: 10s
%s%s
server:
  listen: 127.0.0.1:0
`, srv.URL, o.apiKey, o.archive, o.storage.yaml)
	catYAML, pgURL := catalogYAML(t)
	yaml += catYAML
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, config: config, sim: sim, url: srv.URL, pgURL: pgURL}
}

// backend is a storage configuration for an env, and a way for the test to
// look into the same storage.
type backend struct {
	name   string
	yaml   string // the storage section of the config
	prefix string // storage.prefix
	secret string // the storage secret key, if any
	open   func(t *testing.T, e *env) storage.Store
}

func fsBackend() backend {
	return backend{name: "fs", open: func(t *testing.T, e *env) storage.Store {
		s, err := fs.New(filepath.Join(e.dir, "reelvault-data", "objects"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// s3Backend is a fresh bucket on the test S3 server, under prefix "vault/";
// it skips the test when there is no server (fails under CI=true).
func s3Backend(t *testing.T) backend {
	t.Helper()
	srv := storagetest.S3Server(t)
	return s3BucketBackend(t, srv, storagetest.NewBucket(t, srv))
}

func s3BucketBackend(t *testing.T, srv storagetest.ServerEnv, bucket string) backend {
	yaml := fmt.Sprintf(`storage:
  driver: s3
  prefix: vault/
  s3:
    bucket: %s
    endpoint: %s
    force_path_style: true
    access_key_id: %s
    secret_access_key: %s
`, bucket, srv.Endpoint, srv.AccessKey, srv.SecretKey)
	return backend{name: "s3", yaml: yaml, prefix: "vault/", secret: srv.SecretKey, open: func(t *testing.T, _ *env) storage.Store {
		s, err := s3.New(t.Context(), s3.Config{Bucket: bucket, Endpoint: srv.Endpoint, ForcePathStyle: true,
			AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

func (b backend) store(t *testing.T, e *env) storage.Store {
	if b.open == nil {
		return fsBackend().open(t, e)
	}
	return b.open(t, e)
}

// catalogTasks reads every task of the env's catalog, as `catalog list` does.
func catalogTasks(t *testing.T, e *env) []catalog.Task {
	t.Helper()
	cat := e.openCatalog(t)
	defer cat.Close()
	tasks, err := cat.List(t.Context(), catalog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// checkArchive checks that the run archived everything the simulator made,
// consistently: every task has the simulator's final status, every video of
// a successful task is archived with the simulator's sha256 and is in
// storage byte for byte, every task.json is there, and storage holds nothing
// else (no duplicate, no stray).
func checkArchive(t *testing.T, e *env, store storage.Store, minTasks int) {
	t.Helper()
	want := map[string]string{} // key -> sha256 ("" for task.json)
	tasks := catalogTasks(t, e)
	if len(tasks) < minTasks {
		t.Fatalf("%d tasks in catalog, want %d+", len(tasks), minTasks)
	}
	for _, task := range tasks {
		status, videos, ok := e.sim.Expected(task.TaskID)
		if !ok || task.Status != status {
			t.Errorf("%s: status %q, simulator says %q", task.TaskID, task.Status, status)
			continue
		}
		if status != "SUCCESS" {
			continue
		}
		if task.ArchiveState != catalog.ArchiveArchived || len(task.Assets) != len(videos) {
			t.Errorf("%s: archive_state %q with %d assets, want archived with %d", task.TaskID, task.ArchiveState, len(task.Assets), len(videos))
			continue
		}
		for _, v := range videos {
			for _, a := range task.Assets {
				if a.Kind != v.Kind {
					continue
				}
				if a.State != catalog.AssetArchived || a.SHA256 != v.SHA256 || a.Size != v.Size {
					t.Errorf("%s %s: %s %d bytes sha %s, want archived %d bytes sha %s", task.TaskID, a.Kind, a.State, a.Size, a.SHA256, v.Size, v.SHA256)
				}
				want[a.Key] = v.SHA256
			}
		}
		want[task.TaskJSONKey] = ""
	}
	got := map[string]bool{}
	err := store.List(t.Context(), "", func(info storage.ObjectInfo) error {
		got[info.Key] = true
		sum, ok := want[info.Key]
		switch {
		case !ok:
			t.Errorf("object %s is in storage but not in the catalog (a duplicate or stray)", info.Key)
		case sum != "" && storagetest.ObjectSHA256(t, store, info.Key) != sum:
			t.Errorf("object %s: bytes differ from the simulator's video", info.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", store.Location(), err)
	}
	for key := range want {
		if !got[key] {
			t.Errorf("catalog says %s is archived, but it is not in storage", key)
		}
	}
}

// logLines collects a running process's stderr and lets a test wait for a
// line containing some text, bounded by the test's context.
type logLines struct {
	mu     sync.Mutex
	lines  []string
	seen   int           // lines already searched by waitFor
	signal chan struct{} // a line arrived
	done   chan struct{} // the stream ended
}

func watchLog(r io.Reader) *logLines {
	l := &logLines{signal: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
			select {
			case l.signal <- struct{}{}:
			default:
			}
		}
		io.Copy(io.Discard, r)
	}()
	return l
}

// waitFor returns once a line containing text was logged after the lines
// earlier waits matched; it fails the test if the log ends or the test's
// context is done first.
func (l *logLines) waitFor(t *testing.T, text string) {
	t.Helper()
	for {
		l.mu.Lock()
		for l.seen < len(l.lines) {
			l.seen++
			if strings.Contains(l.lines[l.seen-1], text) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-l.signal:
		case <-l.done:
			l.mu.Lock()
			more := l.seen < len(l.lines)
			l.mu.Unlock()
			if more {
				continue // lines arrived just before the end
			}
			t.Fatalf("log ended before %q:\n%s", text, l.String())
		case <-t.Context().Done():
			t.Fatalf("no %q logged:\n%s", text, l.String())
		}
	}
}

// String is everything logged so far.
func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startHoldingLock starts the `reelvault run` daemon and returns once it
// holds the catalog lock, which it logs as "reelvault running". The daemon
// is killed when the test ends.
func startHoldingLock(t *testing.T, e *env) {
	t.Helper()
	cmd, _, _ := e.command(t.Context(), "", "run")
	cmd.Stderr = nil
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(logs)
	for sc.Scan() && !strings.Contains(sc.Text(), "reelvault running") {
	}
	go io.Copy(io.Discard, logs)
}
