//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage/fs"
)

// TestDiskFull archives onto a 4 MiB tmpfs that a filler file has all but
// filled: the run must stop with a "disk full" message, leave the video
// pending (neither archived nor lost) and no partial file behind; once the
// filler is deleted, the next run archives it.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) && os.Getenv("CI") != "true" {
			t.Skipf("cannot mount a small tmpfs to fill (%v): needs root or CAP_SYS_ADMIN", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", root, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(root, 0); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})
	filler := filepath.Join(root, "filler")
	if err := os.WriteFile(filler, make([]byte, 3900<<10), 0o600); err != nil {
		t.Fatalf("fill the tmpfs: %v", err)
	}

	objects := filepath.Join(root, "objects")
	e := newEnvWith(t, simulator.Config{
		NotStartFor: 50 * time.Millisecond, QueuedFor: 50 * time.Millisecond, RunFor: 200 * time.Millisecond,
		VideoBytes: 1 << 20, FailureRate: -1, SuperResolutionRate: -1,
	}, envOptions{storage: backend{yaml: "storage:\n  fs:\n    root: " + objects + "\n"}})
	id := e.sim.CreateTask(simulator.TaskOptions{})
	if code, _, stderr := e.run(t, id, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}

	code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m")
	if code == 0 || !strings.Contains(stderr, "disk full") {
		t.Fatalf("run on a full disk: exit %d, stderr:\n%s\nwant non-zero and a disk full message", code, stderr)
	}
	tasks := catalogTasks(t, e)
	if len(tasks) != 1 || len(tasks[0].Assets) != 1 {
		t.Fatalf("catalog after a full disk: %+v; want one task with its video", tasks)
	}
	if a := tasks[0].Assets[0]; a.State != catalog.AssetPending || a.Key != "" || a.SHA256 != "" {
		t.Errorf("video after a full disk: state %q key %q sha %q; want pending with nothing recorded", a.State, a.Key, a.SHA256)
	}
	filepath.WalkDir(objects, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s left on the full disk; want no partial file", p)
		}
		return nil
	})

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m"); code != 0 {
		t.Fatalf("run after space was freed: exit %d:\n%s", code, stderr)
	}
	store, err := fs.New(objects)
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, e, store, 1)
}
