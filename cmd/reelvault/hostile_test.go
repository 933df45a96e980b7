package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// catalogPath is where an env's catalog lives.
func (e *env) catalogPath() string { return filepath.Join(e.dir, "reelvault-data", "catalog.db") }

// TestAbsurdFinishTimeDoesNotStopTheRun: the gateway's SUCCESS reply for one
// task says finish_time 99999999999999 (year 3170843), with a result URL
// that carries no expiry of its own, so the expiry would be reckoned from
// that finish time. `run --once` used to exit 1 on it ("encode task.json ...
// year outside of range") and every restart died the same way. Now every
// task is archived, that one included, and the catalog commands show the
// whole catalog.
func TestAbsurdFinishTimeDoesNotStopTheRun(t *testing.T) {
	var mu sync.Mutex
	var absurd, realURL string
	e := newEnvWith(t, fastSim, envOptions{wrap: func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			id, real := absurd, realURL
			mu.Unlock()
			switch {
			case id != "" && r.URL.Path == "/plain/"+id && real != "":
				// The plain URL handed out below: serve the video it stands for.
				u, _ := url.Parse(real)
				r.URL.Path, r.URL.RawQuery = u.Path, u.RawQuery
				sim.ServeHTTP(w, r)
				return
			case id == "" || r.URL.Path != "/v1/video/generations/"+id:
				sim.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, r)
			var reply map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &reply); err == nil {
				if data, ok := reply["data"].(map[string]any); ok && data["status"] == "SUCCESS" {
					data["finish_time"] = int64(99999999999999)
					real, _ := data["result_url"].(string)
					mu.Lock()
					realURL = real
					mu.Unlock()
					data["result_url"] = "http://" + r.Host + "/plain/" + id
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			json.NewEncoder(w).Encode(reply)
		})
	}})
	ids := strings.Fields(e.createTasks(3))
	mu.Lock()
	absurd = ids[1]
	mu.Unlock()
	if code, _, stderr := e.run(t, strings.Join(ids, "\n"), "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m")
	if code != 0 {
		t.Fatalf("run --once: exit %d, want 0 (every task archived):\n%s", code, stderr)
	}
	checkArchive(t, e, fsBackend().store(t, e), 3)
	checkCatalogCommands(t, e, ids)
}

// checkCatalogCommands runs the catalog commands that encode every task
// (list and export as JSON, show) and checks each succeeds and names every
// one of ids.
func checkCatalogCommands(t *testing.T, e *env, ids []string) {
	t.Helper()
	for _, args := range [][]string{
		{"catalog", "list", "--format", "json"},
		{"catalog", "list", "--format", "jsonl"},
		{"catalog", "list", "--format", "csv"},
		{"catalog", "export", "--format", "jsonl"},
		{"catalog", "export", "--format", "csv"},
	} {
		code, stdout, stderr := e.run(t, "", args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
			continue
		}
		for _, id := range ids {
			if !strings.Contains(stdout, id) {
				t.Errorf("%v does not list %s:\n%s", args, id, stdout)
			}
		}
	}
	for _, id := range ids {
		showTask(t, e, id)
		if code, stdout, stderr := e.run(t, "", "catalog", "show", "--format", "text", id); code != 0 || !strings.Contains(stdout, id) {
			t.Errorf("catalog show --format text %s: exit %d: %s%s", id, code, stdout, stderr)
		}
	}
}

// TestCatalogCommandsSurviveOutOfRangeTimes: catalogs written by older
// versions hold times JSON cannot encode (an expiry in year 3170843, and
// worse). Every catalog command still lists every task.
func TestCatalogCommandsSurviveOutOfRangeTimes(t *testing.T) {
	sqliteOnly(t, "it writes out-of-range times into the SQLite file directly; catalog/times_internal_test.go covers the reads")
	e := newCatalogEnv(t)
	db, err := sql.Open("sqlite3", "file:"+e.catalogPath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	year3170843 := time.Unix(99999999999999, 0).Add(24 * time.Hour).UnixMilli()
	for _, q := range []struct {
		sql string
		v   int64
		id  string
	}{
		{`UPDATE assets SET expires_at=? WHERE task_id=?`, year3170843, idA},
		{`UPDATE assets SET archived_at=? WHERE task_id=?`, math.MaxInt64, idC},
		{`UPDATE tasks SET tracked_at=?, archived_at=? WHERE task_id=?`, math.MinInt64, idE},
	} {
		args := []any{q.v, q.id}
		if strings.Count(q.sql, "?") == 3 {
			args = []any{q.v, q.v, q.id}
		}
		if _, err := db.ExecContext(t.Context(), q.sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	checkCatalogCommands(t, e, []string{idA, idB, idC, idD, idE})
	code, stdout, _ := e.run(t, "", "catalog", "show", idA)
	var task catalog.Task
	if err := json.Unmarshal([]byte(stdout), &task); code != 0 || err != nil || task.Assets[0].ExpiresAt.Year() != 9999 {
		t.Errorf("catalog show %s: exit %d (%v), expiry %v; want it shown, clamped to year 9999", idA, code, err, task.Assets)
	}
}

// TestDaemonSurvivesALockedCatalog: another process holds the catalog's
// write lock while the daemon must record a reply. The daemon does not die
// and does not pretend: its poll loop stops on the error, says so in the
// log, /readyz and /metrics, and is restarted; once the lock is released
// the task is archived and /readyz is ready again.
func TestDaemonSurvivesALockedCatalog(t *testing.T) {
	sqliteOnly(t, "it holds SQLite's write lock from another connection; on Postgres, ha_test.go restarts the server mid-run")
	locked := make(chan struct{})
	e := newEnvWith(t, fastSim, envOptions{wrap: func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/video/generations/") {
				select { // the gateway answers only once the catalog is locked
				case <-locked:
				case <-r.Context().Done():
					return
				}
			}
			sim.ServeHTTP(w, r)
		})
	}})
	id := strings.TrimSpace(e.createTasks(1))
	if code, _, stderr := e.run(t, id, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	d := startDaemon(t, e, "run")

	other, err := sql.Open("sqlite3", "file:"+e.catalogPath()+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	close(locked)
	waitLogged(t, d, `msg="loop stopped on an error; restarting it" loop=poll`)
	code, body := request(t, "GET", d.url+"/readyz", "", "")
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	json.Unmarshal([]byte(body), &ready)
	if code != http.StatusServiceUnavailable || !strings.Contains(ready.Checks["loops"], "poll loop") {
		t.Errorf("/readyz with the poll loop restarted: HTTP %d %s; want 503 naming the poll loop", code, body)
	}
	_, metrics := request(t, "GET", d.url+"/metrics", "", "")
	if !strings.Contains(metrics, `reelvault_loop_up{loop="poll"} 0`) || strings.Contains(metrics, `reelvault_loop_restarts_total{loop="poll"} 0`) {
		t.Errorf("/metrics does not show the poll loop down and restarted:\n%s", grep(metrics, "reelvault_loop"))
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	cat := e.openCatalog(t)
	defer cat.Close()
	waitArchived(t, cat, id, d)
	for {
		if code, _ := request(t, "GET", d.url+"/readyz", "", ""); code == http.StatusOK {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("/readyz never ready again after the lock was released:\n%s", d.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.stop(t)
}

// waitLogged waits for the daemon to log a line containing text, failing
// the test if that takes longer than any healthy run could (a hang guard).
func waitLogged(t *testing.T, d *daemon, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for !strings.Contains(d.log(), text) {
		select {
		case <-ctx.Done():
			t.Fatalf("the daemon never logged %q:\n%s", text, d.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// grep keeps the lines of s that contain text.
func grep(s, text string) string {
	var b bytes.Buffer
	for line := range strings.Lines(s) {
		if strings.Contains(line, text) {
			b.WriteString(line)
		}
	}
	return b.String()
}
