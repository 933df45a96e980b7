package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
)

const dashToken = "dash-TOKEN-5f1e2d3c4b5a"

// discoverYAML turns discovery on with the test's access token.
func discoverYAML(token string) string {
	return fmt.Sprintf("discover:\n  enabled: true\n  access_token: %s\n  user_id: 1\n  interval: 1s\n  lookback: 48h\n", token)
}

// assertNoToken fails when the access token appears in any output or in
// any file under the env's directory (catalog, archive, task.json).
func assertNoToken(t *testing.T, e *env, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		if strings.Contains(out, dashToken) {
			t.Fatalf("the access token appears in the output:\n%s", out)
		}
	}
	err := filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == e.config {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), dashToken) {
			t.Errorf("the access token is stored in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunDiscoversAndArchivesTasksNobodyTracked(t *testing.T) {
	cfg := fastSim
	cfg.AccessToken = dashToken
	cfg.Faults = simulator.Faults{API5xx: 0.1, API429: 0.05, APIHTML: 0.05, APITruncated: 0.05, Media5xx: 0.1, MediaTruncated: 0.05}
	e := newEnv(t, cfg, discoverYAML(dashToken))
	for range 12 {
		e.sim.CreateTask(simulator.TaskOptions{}) // created on the gateway, never given to reelvault
	}
	code, stdout, stderr := e.run(t, "", "run", "--once", "--deadline", "2m")
	if code != 0 {
		t.Fatalf("run --once: exit %d\n%s", code, stderr)
	}
	checkArchive(t, e, fsBackend().store(t, e), 12)
	for _, task := range catalogTasks(t, e) {
		if task.Source != "discover" {
			t.Errorf("%s: source %q, want discover", task.TaskID, task.Source)
		}
	}
	assertNoToken(t, e, stdout, stderr)
}

func TestDiscoverOnceSinceFindsExactlyTheWindow(t *testing.T) {
	var offset atomic.Int64 // how far the simulator's clock lags behind ours
	cfg := fastSim
	cfg.AccessToken = dashToken
	cfg.Clock = func() time.Time { return time.Now().Add(-time.Duration(offset.Load())) }
	e := newEnv(t, cfg, discoverYAML(dashToken))
	offset.Store(int64(3 * time.Hour))
	for range 3 {
		e.sim.CreateTask(simulator.TaskOptions{}) // three hours ago
	}
	offset.Store(0)
	var recent []string
	for range 4 {
		recent = append(recent, e.sim.CreateTask(simulator.TaskOptions{}))
	}

	code, stdout, stderr := e.run(t, "", "discover", "--once", "--since", "1h", "--format", "json")
	if code != 0 {
		t.Fatalf("discover --once: exit %d\n%s", code, stderr)
	}
	var rep discoverReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("discover --format json: %v\n%s", err, stdout)
	}
	var got []string
	for _, tr := range rep.Tracked {
		got = append(got, tr.TaskID)
	}
	slices.Sort(got)
	slices.Sort(recent)
	if !slices.Equal(got, recent) {
		t.Fatalf("discover --since 1h tracked %v, want exactly the tasks of the last hour %v", got, recent)
	}
	if n := len(catalogTasks(t, e)); n != len(recent) {
		t.Fatalf("catalog holds %d tasks after discover, want %d", n, len(recent))
	}
	// A second pass finds them tracked already.
	code, stdout, stderr = e.run(t, "", "discover", "--once", "--since", "1h")
	if code != 0 || strings.Contains(stdout, "asyntask_") || !strings.Contains(stderr, "tracked 0 new task(s) of 4 listed") {
		t.Fatalf("second discover: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	assertNoToken(t, e, stdout, stderr)
}

func TestDiscoveryFailuresAreClearAndTheArchiveGoesOn(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*simulator.Config)
		token  string
		want   string
	}{
		{"wrong token (200, success false)", nil, "not-the-" + dashToken, "gateway rejected the access token"},
		{"another user id (401)", func(c *simulator.Config) { c.UserID = 99 }, dashToken, "gateway rejected the access token (HTTP 401)"},
		{"no listing (404 page)", func(c *simulator.Config) { c.NoTaskListing = true }, dashToken, "gateway has no task listing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastSim
			cfg.AccessToken = dashToken
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			e := newEnv(t, cfg, discoverYAML(tc.token))
			code, stdout, stderr := e.run(t, "", "discover", "--once")
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("discover --once: exit %d, want 1 with %q\n%s", code, tc.want, stderr)
			}
			if strings.Count(stderr, "\n") > 3 {
				t.Errorf("one clear error expected, got:\n%s", stderr)
			}
			code, doctorOut, _ := e.run(t, "", "doctor")
			if code != 1 || !strings.Contains(doctorOut, "discover: FAIL: ") {
				t.Errorf("doctor: exit %d, want 1 with a discover failure:\n%s", code, doctorOut)
			}

			ids := e.createTasks(3)
			if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
				t.Fatalf("track: exit %d\n%s", code, stderr)
			}
			code, runOut, runErr := e.run(t, "", "run", "--once", "--deadline", "1m")
			if code != 0 {
				t.Fatalf("run --once with broken discovery: exit %d\n%s", code, runErr)
			}
			if n := strings.Count(runErr, "discovery: listing the gateway's tasks failed"); n != 1 {
				t.Errorf("run warned %d times about discovery, want once:\n%s", n, runErr)
			}
			checkArchive(t, e, fsBackend().store(t, e), 3)
			assertNoToken(t, e, stdout, stderr, doctorOut, runOut, runErr)
		})
	}
}

func TestDaemonDiscoversTasksCreatedWhileItRuns(t *testing.T) {
	cfg := fastSim
	cfg.AccessToken = dashToken
	e := newEnv(t, cfg, discoverYAML(dashToken)+"server:\n  listen: 127.0.0.1:0\n  allowed_hosts: [vault.example.test]\n")
	d := startDaemon(t, e, "run")
	// Created on the gateway while the daemon runs, never given to it.
	var ids []string
	for range 3 {
		ids = append(ids, e.sim.CreateTask(simulator.TaskOptions{}))
	}
	cat := e.openCatalog(t)
	defer cat.Close()
	for _, id := range ids {
		waitArchived(t, cat, id, d)
	}
	code, body := request(t, "GET", d.url+"/metrics", "", "")
	if code != 200 || !strings.Contains(body, "reelvault_tasks_discovered_total 3") ||
		strings.Contains(body, "reelvault_discovery_last_success_timestamp_seconds 0\n") {
		t.Errorf("/metrics (HTTP %d) does not show 3 discovered tasks and a successful listing:\n%s", code, grepLines(body, "discover"))
	}
	// server.allowed_hosts reaches the Host allow-list.
	for host, want := range map[string]int{"vault.example.test": 200, "rebind.example.com": 421} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", d.url+"/healthz", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /healthz with Host %s: HTTP %d, want %d", host, resp.StatusCode, want)
		}
	}
	d.stop(t)
	assertNoToken(t, e, d.log())
}

// grepLines returns the lines of s that contain word.
func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
