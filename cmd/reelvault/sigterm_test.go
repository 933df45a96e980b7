package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// gracePeriod bounds how long a signalled `reelvault run` may take to exit.
// It is a hang detector, not a speed check: the run aborts its transfers at
// once, so it needs a fraction of this.
const gracePeriod = 30 * time.Second

// TestSignalStopsDaemonCleanly sends SIGTERM (and SIGINT) to the daemon while
// a slow video is in flight: the daemon must exit 0, leave that video
// pending with nothing half-recorded and no partial file, and a following
// `run --once` must archive everything byte for byte.
func TestSignalStopsDaemonCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			testSignal(t, sig)
		})
	}
}

func testSignal(t *testing.T, sig syscall.Signal) {
	downloading := make(chan string, 16)
	e := newEnvWith(t, simulator.Config{
		NotStartFor: 50 * time.Millisecond, QueuedFor: 50 * time.Millisecond, RunFor: 200 * time.Millisecond,
		VideoBytes: 1 << 20, FailureRate: -1, SuperResolutionRate: -1,
		// 32 chunks of 32 KiB, 200 ms apart: a 6 s download.
		Faults: simulator.Faults{MediaSlow: 1, SlowChunkDelay: 200 * time.Millisecond},
	}, envOptions{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".mp4") {
				select {
				case downloading <- strings.Split(r.URL.Path, "/")[2]:
				default:
				}
			}
			h.ServeHTTP(w, r)
		})
	}})
	if code, _, stderr := e.run(t, e.createTasks(3), "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}

	cmd, _, stderr := e.command(t.Context(), "", "run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var inFlight string
	select {
	case inFlight = <-downloading:
	case err := <-done:
		t.Fatalf("daemon exited before any download (%v):\n%s", err, stderr)
	case <-t.Context().Done():
		t.Fatal("no download started")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	grace, cancel := context.WithTimeout(t.Context(), gracePeriod)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon after %v: %v, want exit 0:\n%s", sig, err, stderr)
		}
	case <-grace.Done():
		cmd.Process.Kill()
		<-done
		t.Fatalf("daemon still running %v after %v:\n%s", gracePeriod, sig, stderr)
	}
	if !strings.Contains(stderr.String(), "stopped on signal") {
		t.Errorf("daemon did not say it stopped on the signal:\n%s", stderr)
	}

	// The catalog is consistent: every video archived is in storage byte
	// for byte; the one in flight is pending, with nothing recorded.
	store := fsBackend().open(t, e)
	for _, task := range catalogTasks(t, e) {
		for _, a := range task.Assets {
			switch {
			case a.State == catalog.AssetArchived:
				if storagetest.ObjectSHA256(t, store, a.Key) != a.SHA256 {
					t.Errorf("%s %s: archived, but storage holds other bytes", task.TaskID, a.Kind)
				}
			case a.State != catalog.AssetPending || a.Key != "" || a.SHA256 != "" || a.Size != 0:
				t.Errorf("%s %s: state %q key %q size %d: half-recorded", task.TaskID, a.Kind, a.State, a.Key, a.Size)
			}
			if task.TaskID == inFlight && a.State != catalog.AssetPending {
				t.Errorf("%s: the video in flight at the signal is %s, want pending", task.TaskID, a.State)
			}
		}
		if task.TaskID == inFlight && task.ArchiveState != catalog.ArchivePending {
			t.Errorf("%s: archive_state %q, want pending", task.TaskID, task.ArchiveState)
		}
	}
	filepath.WalkDir(filepath.Join(e.dir, "reelvault-data", "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".reelvault-tmp-") {
			t.Errorf("partial file %s left behind", p)
		}
		return nil
	})

	e.sim.SetFaults(simulator.Faults{})
	if code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m"); code != 0 {
		t.Fatalf("run --once after the signal: exit %d:\n%s", code, stderr)
	}
	checkArchive(t, e, store, 3)
}
