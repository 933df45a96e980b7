package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// fastSim finishes tasks within a fraction of a second, always with success.
var fastSim = simulator.Config{NotStartFor: 20 * time.Millisecond, QueuedFor: 20 * time.Millisecond,
	RunFor: 100 * time.Millisecond, FailureRate: -1, SuperResolutionRate: -1, VideoBytes: 64 << 10}

// daemon is a reelvault process serving HTTP.
type daemon struct {
	url  string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
}

var listenLine = regexp.MustCompile(`msg="http server listening" addr=(\S+)`)

// startDaemon starts `reelvault args...` and waits until its HTTP server
// listens; it is stopped with SIGTERM at the end of the test.
func startDaemon(t *testing.T, e *env, args ...string) *daemon {
	t.Helper()
	// Not t.Context(): it ends before cleanups run, and stop wants to send
	// SIGTERM itself and see a clean exit.
	cmd, _, _ := e.command(context.WithoutCancel(t.Context()), "", args...)
	cmd.Stderr = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd}
	t.Cleanup(func() { d.stop(t) })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		d.logs.WriteString(sc.Text() + "\n")
		if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
			d.url = "http://" + m[1]
			break
		}
	}
	if d.url == "" {
		t.Fatalf("reelvault %v never listened:\n%s", args, d.logs.String())
	}
	go func() {
		for sc.Scan() {
			d.mu.Lock()
			d.logs.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	return d
}

// stop ends the daemon as systemd would, and expects a clean exit.
func (d *daemon) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil && !t.Failed() {
		t.Errorf("reelvault did not stop cleanly on SIGTERM: %v\n%s", err, d.log())
	}
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// request sends a request to the daemon and returns the status and body.
func request(t *testing.T, method, url, bearer, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const creation = `{"model":"doubao-seedance-2-0-260128","content":[{"type":"text","text":"a lighthouse at dusk, slow pan"}],` +
	`"resolution":"720p","ratio":"16:9","duration":5}`

// createThroughProxy creates a task as a user's app would, through reelvault,
// and checks the reply is the gateway's own.
func createThroughProxy(t *testing.T, e *env, base string) string {
	t.Helper()
	code, body := request(t, "POST", base+"/v1/video/generations", "sim-key", creation)
	var reply struct {
		Code string `json:"code"`
		Data struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &reply); err != nil || code != 200 || reply.Code != "success" {
		t.Fatalf("creation through the proxy: HTTP %d %s (%v); want the gateway's success envelope", code, body, err)
	}
	if _, _, ok := e.sim.Expected(reply.Data.TaskID); !ok {
		t.Fatalf("task id %q in the reply is not one the gateway created", reply.Data.TaskID)
	}
	return reply.Data.TaskID
}

// showTask runs `reelvault catalog show` as a user would.
func showTask(t *testing.T, e *env, id string) catalog.Task {
	t.Helper()
	code, stdout, stderr := e.run(t, "", "catalog", "show", id)
	var task catalog.Task
	if err := json.Unmarshal([]byte(stdout), &task); code != 0 || err != nil {
		t.Fatalf("catalog show %s: exit %d (%v)\n%s%s", id, code, err, stdout, stderr)
	}
	return task
}

func TestProxyThenNightlyBatchArchivesTheTaskWithItsPrompt(t *testing.T) {
	e := newEnv(t, fastSim, "")
	p := startDaemon(t, e, "proxy")
	if code, _ := request(t, "GET", p.url+"/readyz", "", ""); code != 200 {
		t.Errorf("proxy /readyz: HTTP %d", code)
	}
	id := createThroughProxy(t, e, p.url)
	p.stop(t)
	if !strings.Contains(p.log(), "task_id="+id) {
		t.Errorf("the proxy's log does not name the task it tracked:\n%s", p.log())
	}
	if strings.Contains(p.log(), "sim-key") {
		t.Errorf("the proxy logged the caller's key:\n%s", p.log())
	}

	code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m")
	if code != 0 {
		t.Fatalf("run --once: exit %d\n%s", code, stderr)
	}
	task := showTask(t, e, id)
	if task.Prompt != "a lighthouse at dusk, slow pan" || task.Source != catalog.SourceProxy || task.ArchiveState != catalog.ArchiveArchived {
		t.Fatalf("catalog show: prompt %q, source %q, archive state %q; want the prompt, proxy, archived",
			task.Prompt, task.Source, task.ArchiveState)
	}
	var params map[string]any
	if json.Unmarshal(task.RequestParams, &params); params["ratio"] != "16:9" || len(task.KeyFingerprint) != 8 {
		t.Errorf("request_params %s, key_fingerprint %q", task.RequestParams, task.KeyFingerprint)
	}
}

func TestDaemonServesIntakeProxyAndMetrics(t *testing.T) {
	e := newEnv(t, fastSim, "server:\n  listen: 127.0.0.1:0\n  token: intake-token\n  proxy: true\n")
	d := startDaemon(t, e, "run")

	viaProxy := createThroughProxy(t, e, d.url)
	viaIntake := e.sim.CreateTask(simulator.TaskOptions{})
	if code, body := request(t, "POST", d.url+"/v1/tasks", "", `{"task_id":"`+viaIntake+`"}`); code != http.StatusUnauthorized {
		t.Fatalf("intake without the token: HTTP %d %s, want 401", code, body)
	}
	if code, body := request(t, "POST", d.url+"/v1/tasks", "intake-token", `{"task_id":"`+viaIntake+`"}`); code != 200 {
		t.Fatalf("intake: HTTP %d %s", code, body)
	}

	cat := e.openCatalog(t)
	defer cat.Close()
	for _, id := range []string{viaProxy, viaIntake} {
		waitArchived(t, cat, id, d)
	}
	code, body := request(t, "GET", d.url+"/metrics", "intake-token", "")
	for _, want := range []string{
		`reelvault_archived_videos_total{kind="result"} 2`,
		`reelvault_tasks{status="SUCCESS"} 2`,
		`reelvault_oldest_unarchived_task_age_seconds 0`,
		`reelvault_api_key_rejected 0`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (HTTP %d) lacks %q", code, want)
		}
	}
	if code, body := request(t, "GET", d.url+"/readyz", "", ""); code != 200 {
		t.Errorf("/readyz: HTTP %d %s", code, body)
	}
	d.stop(t)
	if task := showTask(t, e, viaProxy); task.Prompt != "a lighthouse at dusk, slow pan" {
		t.Errorf("catalog show %s: prompt %q", viaProxy, task.Prompt)
	}
}

// waitArchived polls the catalog in small steps until the task is archived,
// bounded by the test's own deadline.
func waitArchived(t *testing.T, cat *catalog.DB, id string, d *daemon) {
	t.Helper()
	for {
		task, err := cat.Get(t.Context(), id)
		if err == nil && task.ArchiveState == catalog.ArchiveArchived {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s never archived (last: %+v, %v)\n%s", id, task, err, d.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestServeShowsTheArchiveReadOnly(t *testing.T) {
	e := newEnv(t, fastSim, "")
	ids := e.createTasks(1)
	if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	s := startDaemon(t, e, "serve")
	code, page := request(t, "GET", s.url+"/", "", "")
	if code != 200 || !strings.Contains(page, strings.TrimSpace(ids)) {
		t.Errorf("GET /: HTTP %d; want the web view listing %s", code, strings.TrimSpace(ids))
	}
	if code, body := request(t, "GET", s.url+"/metrics", "", ""); code != 200 || !strings.Contains(body, `reelvault_tasks{status="TRACKED"} 1`) {
		t.Errorf("GET /metrics: HTTP %d, want the tracked task counted", code)
	}
	if code, _ := request(t, "GET", s.url+"/readyz", "", ""); code != 200 {
		t.Errorf("GET /readyz: HTTP %d", code)
	}
	if code, _ := request(t, "POST", s.url+"/v1/tasks", "", `{"task_id":"asyntask_new"}`); code == 200 {
		t.Error("serve accepted an intake request; it is read-only")
	}
}
