package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// TestKillNineLoop kills `reelvault run --once` with SIGKILL at random
// moments, at least 20 times over 100+ tasks, restarting it each time; then
// lets it finish and checks the archive is complete and consistent: every
// video stored byte for byte, no object twice or extra, nothing marked
// archived that is not in storage.
func TestKillNineLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 loop is long")
	}
	e := newEnv(t, simulator.Config{
		Seed: 42, NotStartFor: 200 * time.Millisecond, QueuedFor: 200 * time.Millisecond, RunFor: 1500 * time.Millisecond,
		VideoBytes: 256 << 10, FailureRate: 0.15, SuperResolutionRate: 0.4,
		Faults: simulator.Faults{API5xx: 0.03, Media5xx: 0.03, MediaTruncated: 0.03, MediaReset: 0.03, RetryAfter: 100 * time.Millisecond},
	}, "")
	ids := e.createTasks(110)
	if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for kills < 20 {
		cmd, _, stderr := e.command(t.Context(), "", "run", "--once")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(100+rng.IntN(900)) * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run ended on its own with %v:\n%s", err, stderr)
			}
			// Finished before the kill: start over with new tasks so
			// the loop keeps killing mid-work.
			if code, _, _ := e.run(t, e.createTasks(5), "track", "-"); code != 0 {
				t.Fatal("track failed")
			}
		case <-time.After(wait):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "2m")
	if code != 0 {
		t.Fatalf("final run: exit %d:\n%s", code, stderr)
	}
	checkFSArchive(t, e)
}

func checkFSArchive(t *testing.T, e *env) {
	t.Helper()
	cat, err := catalog.Open(t.Context(), filepath.Join(e.dir, "reelvault-data", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	root := filepath.Join(e.dir, "reelvault-data", "objects")
	want := map[string]string{} // key -> sha256 ("" for task.json)
	tasks, err := cat.List(t.Context(), catalog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 100 {
		t.Fatalf("%d tasks in catalog, want 100+", len(tasks))
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
				if a.State != catalog.AssetArchived || a.SHA256 != v.SHA256 {
					t.Errorf("%s %s: %s sha %s, want archived sha %s", task.TaskID, a.Kind, a.State, a.SHA256, v.SHA256)
				}
				want[a.Key] = v.SHA256
			}
		}
		want[task.TaskJSONKey] = ""
	}
	got := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(d.Name(), ".reelvault-") {
			return err
		}
		key, _ := filepath.Rel(root, p)
		got[key] = true
		sum, ok := want[key]
		if !ok {
			t.Errorf("object %s is in storage but not in the catalog (a duplicate or stray)", key)
			return nil
		}
		if sum != "" && fileSHA(t, p) != sum {
			t.Errorf("object %s: bytes differ from the simulator's video", key)
		}
		return nil
	})
	for key := range want {
		if !got[key] {
			t.Errorf("catalog says %s is archived, but it is not in storage", key)
		}
	}
}

func fileSHA(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}
