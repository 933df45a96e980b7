package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
)

// TestKillNineLoop kills `reelvault run --once` with SIGKILL at random
// moments, at least 20 times over 100+ tasks, restarting it each time; then
// lets it finish and checks the archive is complete and consistent: every
// video stored byte for byte, no object twice or extra, nothing marked
// archived that is not in storage. It runs against fs and against S3
// (versitygw), side by side.
func TestKillNineLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 loop is long")
	}
	t.Run("fs", func(t *testing.T) {
		t.Parallel()
		killNineLoop(t, fsBackend())
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		killNineLoop(t, s3Backend(t))
	})
}

func killNineLoop(t *testing.T, b backend) {
	e := newEnvWith(t, simulator.Config{
		Seed: 42, NotStartFor: 200 * time.Millisecond, QueuedFor: 200 * time.Millisecond, RunFor: 1500 * time.Millisecond,
		VideoBytes: 256 << 10, FailureRate: 0.15, SuperResolutionRate: 0.4,
		Faults: simulator.Faults{API5xx: 0.03, Media5xx: 0.03, MediaTruncated: 0.03, MediaReset: 0.03, RetryAfter: 100 * time.Millisecond},
	}, envOptions{storage: b})
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
		wait := time.Duration(50+rng.IntN(600)) * time.Millisecond
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
	store := b.store(t, e)
	checkArchive(t, e, store, 100)
	if b.name == "fs" {
		// Every killed Put was retried, and a retry clears its key's
		// leftovers: no temp file may remain.
		root := filepath.Join(e.dir, "reelvault-data", "objects")
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".reelvault-tmp-") {
				t.Errorf("temp file left after the final run: %s", p)
			}
			return err
		})
	}
}
