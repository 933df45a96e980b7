package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
)

func TestTrackRejectsBadIDsAndKeepsTheRest(t *testing.T) {
	e := newEnv(t, simulator.Config{}, "")
	stdin := strings.Join([]string{
		"asyntask_good1",
		`{"task_id":"asyntask_good2"}`,
		"../../etc/passwd",
		`{"task_id":`,
		`{"task_id":"a/b"}`,
		"",
		"asyntask_good1",
	}, "\n")
	code, stdout, stderr := e.run(t, stdin, "track", "-")
	if code != 2 {
		t.Fatalf("exit code %d, want 2 (bad input); stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"line 3", "line 4", "malformed JSON", "line 5"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "tracking 2 new task(s)") {
		t.Errorf("stdout %q: want 2 new tasks tracked", stdout)
	}
	code, stdout, _ = e.run(t, "", "catalog", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("catalog list exit %d", code)
	}
	var tasks []map[string]any
	if err := json.Unmarshal([]byte(stdout), &tasks); err != nil {
		t.Fatalf("catalog list --format json: %v\n%s", err, stdout)
	}
	if len(tasks) != 2 {
		t.Fatalf("%d tasks in catalog, want the 2 good ones", len(tasks))
	}
}

func TestRunOnceStopsOnRejectedKey(t *testing.T) {
	e := newEnv(t, simulator.Config{RunFor: time.Second}, "")
	ids := e.createTasks(3)
	if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	e.sim.SetAPIKey("rotated")
	code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m")
	if code != 3 {
		t.Fatalf("exit code %d, want 3 (key rejected); stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "rejected the API key") || strings.Contains(stderr, "sim-key") {
		t.Errorf("stderr should say the key is rejected and never print it:\n%s", stderr)
	}
	_, stdout, _ := e.run(t, "", "catalog", "list", "--format", "json")
	var tasks []struct{ Status string }
	json.Unmarshal([]byte(stdout), &tasks)
	for _, task := range tasks {
		if task.Status != "TRACKED" {
			t.Errorf("task status %q after a rejected key, want still TRACKED (nothing lost)", task.Status)
		}
	}
}

func TestSecondRunRefusesToStart(t *testing.T) {
	sqliteOnly(t, "on Postgres several runs share the catalog (ha_test.go)")
	e := newEnv(t, simulator.Config{}, "")
	startHoldingLock(t, e)
	code, _, stderr := e.run(t, "", "run", "--once")
	if code != 6 || !strings.Contains(stderr, "another reelvault run holds this catalog") {
		t.Fatalf("second run: exit %d, stderr %q; want 6 and a message naming the lock", code, stderr)
	}
}
