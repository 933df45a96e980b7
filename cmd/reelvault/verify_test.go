package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
)

// TestVerify archives a few tasks, checks that verify passes on the result,
// then deletes one video, overwrites one with other bytes of the same size
// and one with fewer bytes, and drops a stray object: verify must fail and
// name each object with its own reason.
func TestVerify(t *testing.T) {
	t.Run("fs", func(t *testing.T) { t.Parallel(); testVerify(t, fsBackend()) })
	t.Run("s3", func(t *testing.T) { t.Parallel(); testVerify(t, s3Backend(t)) })
}

// verifyJSON is what a script reads from `verify --format json`.
type verifyJSON struct {
	Location   string
	Checked    int
	Reread     int
	Missing    []verifyProblem
	Mismatched []verifyProblem
	Orphans    []orphanObject
	OK         bool
}

func testVerify(t *testing.T, b backend) {
	e := newEnvWith(t, simulator.Config{
		Seed: 7, NotStartFor: 50 * time.Millisecond, QueuedFor: 50 * time.Millisecond, RunFor: 300 * time.Millisecond,
		VideoBytes: 64 << 10, FailureRate: -1, SuperResolutionRate: 0.5,
	}, envOptions{storage: b})
	if code, _, stderr := e.run(t, e.createTasks(5), "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	if code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m"); code != 0 {
		t.Fatalf("run --once: exit %d:\n%s", code, stderr)
	}
	tasks := catalogTasks(t, e)
	objects := 0
	for _, task := range tasks {
		objects += len(task.Assets) + 1 // and task.json
	}

	code, stdout, stderr := e.run(t, "", "verify", "--sample", "100%", "--orphans")
	if code != 0 || !strings.Contains(stdout, "OK") {
		t.Fatalf("verify on a fresh archive: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep := verifyReportOf(t, e, "--sample", "100%", "--orphans")
	if !rep.OK || rep.Checked != objects || rep.Reread != objects || len(rep.Orphans) != 0 {
		t.Fatalf("verify --format json on a fresh archive: %+v; want ok, %d checked and re-read, no orphans", rep, objects)
	}

	store := b.store(t, e)
	deleted, swapped, shortened := tasks[0].Assets[0], tasks[1].Assets[0], tasks[2].Assets[0]
	if err := store.Delete(t.Context(), deleted.Key); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		t.Helper()
		if err := store.Put(t.Context(), key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(swapped.Key, bytes.Repeat([]byte("x"), int(swapped.Size)))
	put(shortened.Key, []byte("a few bytes"))
	stray := b.prefix + "2026/01/01/not-ours/result.mp4"
	put(stray, []byte("stray"))

	rep = verifyReportOf(t, e, "--sample", "100%", "--orphans")
	if rep.OK {
		t.Errorf("verify after damage: ok=true, want false")
	}
	want := map[string]string{deleted.Key: "missing", swapped.Key: "content", shortened.Key: "size"}
	got := map[string]string{}
	for _, p := range slices.Concat(rep.Missing, rep.Mismatched) {
		got[p.Key] = p.Reason
		if p.Detail == "" || p.TaskID == "" || p.Kind != catalog.KindResult {
			t.Errorf("problem %+v: want task_id, kind result and a detail", p)
		}
	}
	if len(got) != len(want) || got[deleted.Key] != "missing" || got[swapped.Key] != "content" || got[shortened.Key] != "size" {
		t.Errorf("verify found %v, want %v", got, want)
	}
	if len(rep.Orphans) != 1 || rep.Orphans[0].Key != stray {
		t.Errorf("orphans %+v, want only %s", rep.Orphans, stray)
	}

	// Without re-reading, verify still finds the missing and the resized
	// object, and says so in words; same-size changes need a re-read.
	code, stdout, stderr = e.run(t, "", "verify")
	if code != 7 || !strings.Contains(stderr, "verify found missing or different objects") {
		t.Errorf("verify after damage: exit %d, stderr %q; want 7 and the reason", code, stderr)
	}
	for _, words := range [][]string{
		{"MISSING", deleted.Key, "not in storage"},
		{"DIFFERENT", shortened.Key, "11 bytes", "recorded 65536"},
		{"FAILED: 1 missing, 1 different"},
	} {
		if !hasLine(stdout, words...) {
			t.Errorf("verify text report has no line with %q:\n%s", words, stdout)
		}
	}
}

// hasLine reports whether one line of out contains every word.
func hasLine(out string, words ...string) bool {
	for line := range strings.Lines(out) {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

func verifyReportOf(t *testing.T, e *env, args ...string) verifyJSON {
	t.Helper()
	code, stdout, stderr := e.run(t, "", append([]string{"verify", "--format", "json"}, args...)...)
	var rep verifyJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify --format json: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	if wantCode := map[bool]int{true: 0, false: 7}[rep.OK]; code != wantCode {
		t.Errorf("verify exit code %d with ok=%v, want %d", code, rep.OK, wantCode)
	}
	return rep
}

func TestParseShare(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "100%": 1, "0": 0, " 2.5% ": 0.025, "100": 1} {
		if got, err := parseShare(in); err != nil || got != want {
			t.Errorf("parseShare(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"150%", "-1%", "five", "", "NaN%"} {
		if _, err := parseShare(in); err == nil {
			t.Errorf("parseShare(%q) succeeded, want an error", in)
		}
	}
}
