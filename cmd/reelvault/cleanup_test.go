package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage/fs"
)

// TestCleanupFS removes the temp files a killed run left on fs, once they
// are old enough, and says how many; it keeps fresh ones and every object.
func TestCleanupFS(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, simulator.Config{}, envOptions{})
	objects := filepath.Join(e.dir, "reelvault-data", "objects")
	dir := filepath.Join(objects, "2026", "11", "29", "asyntask_x")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * fs.StaleAfter)
	for name, mtime := range map[string]time.Time{
		".reelvault-tmp-1": old, ".reelvault-tmp-2": old, ".reelvault-tmp-3": time.Now(), "result.mp4": old,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial video"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := e.run(t, "", "cleanup")
	if code != 0 || !strings.Contains(stdout, "aborted 2 unfinished upload(s)") {
		t.Fatalf("cleanup: exit %d, stdout %q, stderr %q; want 0 and 2 aborted", code, stdout, stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range entries {
		left = append(left, d.Name())
	}
	if strings.Join(left, " ") != ".reelvault-tmp-3 result.mp4" {
		t.Errorf("files left: %v; want the fresh temp file and the object", left)
	}
}

// TestCleanupRefusesWhileRunning: cleanup would abort the uploads of a run
// in progress, so it refuses while one holds the catalog.
func TestCleanupRefusesWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, simulator.Config{}, envOptions{})
	startHoldingLock(t, e)
	code, _, stderr := e.run(t, "", "cleanup")
	if code != 6 || !strings.Contains(stderr, "another reelvault run holds this catalog") {
		t.Fatalf("cleanup beside a run: exit %d, stderr %q; want 6 and the lock named", code, stderr)
	}
}
