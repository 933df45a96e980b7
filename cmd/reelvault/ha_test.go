package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/simulator"
)

// The tests in this file run `reelvault run` as a fleet: several processes
// on one Postgres catalog and one API key, sharing the work through the
// catalog's leases and the request budget through its token bucket. They
// make their own Postgres catalog whatever REELVAULT_TEST_CATALOG says, so
// they would pass in both passes of `make test`; they run in the Postgres
// pass only, which is enough and saves CI the time.

// envPGRestart enables the test that restarts the Postgres test server.
const envPGRestart = "REELVAULT_TEST_PG_RESTART"

// postgresPassOnly skips a fleet test outside the Postgres pass.
func postgresPassOnly(t *testing.T) {
	t.Helper()
	if catalogtest.Backend() != "postgres" {
		t.Skipf("fleet tests run in the Postgres pass only (%s=postgres): they make their own Postgres catalog "+
			"whatever the pass, so one run is enough", catalogtest.EnvCatalog)
	}
}

// fleetOptions are what a fleet's instances share beyond the simulator.
type fleetOptions struct {
	rps        int           // api.requests_per_second, the whole fleet's budget
	lease      time.Duration // catalog.lease (0: the default, 1m)
	apiTimeout time.Duration // api.timeout (0: the default, 30s)
	storage    backend       // zero: fs under the fleet's directory
	pgURL      string        // the catalog ("": a fresh database on the test server)
}

// fleet is one simulated gateway, one storage and one Postgres catalog, and
// a config per reelvault instance that shares them. Its own env and config
// are for the commands that are no instance of the fleet (track, catalog
// list) and for checkArchive.
type fleet struct {
	*env
	opts fleetOptions
	// polls journals every task poll, with the instance that sent it:
	// each instance reaches the gateway through a front of its own.
	polls *pollJournal
}

func newFleet(t *testing.T, cfg simulator.Config, o fleetOptions) *fleet {
	t.Helper()
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if o.pgURL == "" {
		o.pgURL = catalogtest.PostgresURL(t)
	}
	f := &fleet{env: &env{dir: t.TempDir(), sim: sim, url: srv.URL, pgURL: o.pgURL}, opts: o, polls: &pollJournal{}}
	f.config = f.writeConfig(t, "cli", f.postgresYAML("cli"))
	return f
}

// postgresYAML is the catalog section of instance id.
func (f *fleet) postgresYAML(id string) string {
	s := fmt.Sprintf("catalog:\n  driver: postgres\n  postgres:\n    url: %s\n  instance_id: %s\n", f.opts.pgURL, id)
	if f.opts.lease > 0 {
		s += fmt.Sprintf("  lease: %s\n", f.opts.lease)
	}
	return s
}

// writeConfig writes the config called name, with catalogYAML as its
// catalog section, and returns its path. Every instance listens on a free
// port, as each serves HTTP.
func (f *fleet) writeConfig(t *testing.T, name, catalogYAML string) string {
	t.Helper()
	return f.writeConfigVia(t, name, f.url, catalogYAML)
}

// writeConfigVia is writeConfig with the gateway at base.
func (f *fleet) writeConfigVia(t *testing.T, name, base, catalogYAML string) string {
	t.Helper()
	var api strings.Builder
	fmt.Fprintf(&api, "api:\n  base_url: %s\n  api_key: sim-key\n  poll_interval: 1s\n  requests_per_second: %d\n",
		base, max(f.opts.rps, 1))
	if f.opts.apiTimeout > 0 {
		fmt.Fprintf(&api, "  timeout: %s\n", f.opts.apiTimeout)
	}
	yaml := api.String() + "archive:\n  concurrency: 4\n  stall_timeout: 10s\n" + f.opts.storage.yaml +
		"server:\n  listen: 127.0.0.1:0\n" + catalogYAML
	path := filepath.Join(f.dir, "reelvault-"+name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// instance returns the env of the fleet's instance id: the same directory,
// gateway, storage and catalog, with its own instance_id. It reaches the
// simulator through a server of its own, which journals its polls as id's
// (the simulator signs no host into its video URLs, so they work on any).
func (f *fleet) instance(t *testing.T, id string) *env {
	t.Helper()
	srv := httptest.NewServer(f.polls.wrap(id, f.sim))
	t.Cleanup(srv.Close)
	e := *f.env
	e.url = srv.URL
	e.config = f.writeConfigVia(t, id, srv.URL, f.postgresYAML(id))
	return &e
}

// pollJournal records every task poll a gateway front receives, with the
// instance that sent it, to show what overlapped when polls of one task
// did.
type pollJournal struct {
	mu    sync.Mutex
	polls []pollRecord
}

type pollRecord struct {
	task, instance string
	begin, end     time.Time
	status         int // 0: the connection was reset (hijacked) without a reply
}

// wrap journals the polls h serves as instance's.
func (j *pollJournal) wrap(instance string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/video/generations/")
		if !ok || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		begin := time.Now()
		defer func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.polls = append(j.polls, pollRecord{task: id, instance: instance, begin: begin, end: time.Now(), status: rec.status})
		}()
		h.ServeHTTP(rec, r)
	})
}

// of describes the polls of task, in order of arrival.
func (j *pollJournal) of(task string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var b strings.Builder
	var first time.Time
	for _, p := range j.polls {
		if p.task != task {
			continue
		}
		if first.IsZero() {
			first = p.begin
		}
		what := strconv.Itoa(p.status)
		if p.status == 0 {
			what = "connection reset"
		}
		fmt.Fprintf(&b, "\n  %s: from +%v to +%v: %s", p.instance, p.begin.Sub(first), p.end.Sub(first), what)
	}
	return b.String()
}

// overlaps describes every two polls of one task that were in flight at
// once, but for one kind: a poll the gateway reset, and the same
// instance's request for the same task just after it. Go's transport sends
// an idempotent request again, once, on a new connection when a reused one
// died without a reply; the client had the reset before it sent the second
// request, but the first is in flight here until its handler returns.
func (j *pollJournal) overlaps() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	byTask := map[string][]pollRecord{}
	for _, p := range j.polls {
		byTask[p.task] = append(byTask[p.task], p)
	}
	var out []string
	for task, polls := range byTask {
		slices.SortFunc(polls, func(a, b pollRecord) int { return a.begin.Compare(b.begin) })
		for i, p := range polls {
			for _, q := range polls[i+1:] {
				if !q.begin.Before(p.end) {
					break
				}
				if p.status == 0 && p.instance == q.instance {
					continue // a reset and the transport's retry
				}
				out = append(out, fmt.Sprintf("%s: %s's poll (%v, status %d) and %s's (%v after it began)",
					task, p.instance, p.end.Sub(p.begin), p.status, q.instance, q.begin.Sub(p.begin)))
			}
		}
	}
	return out
}

// checkPollsApart checks that no task was polled twice at once: by two
// instances (their leases overlapped), or by one (it claimed a task it was
// still polling). The simulator's count includes a reset poll and the
// transport's retry of it (see overlaps); the journal tells them apart.
func checkPollsApart(t *testing.T, f *fleet, st simulator.PollStats) {
	t.Helper()
	bad := f.polls.overlaps()
	for _, o := range bad {
		t.Errorf("polls of one task in flight at once: %s", o)
	}
	switch {
	case st.MaxConcurrentPerTask == 1:
	case len(bad) == 0:
		t.Logf("the simulator counted %s polled %d times at once: a poll it reset and the transport's retry of it:%s",
			st.MaxConcurrentTaskID, st.MaxConcurrentPerTask, f.polls.of(st.MaxConcurrentTaskID))
	default:
		t.Errorf("task %s was polled %d times at once; its polls:%s",
			st.MaxConcurrentTaskID, st.MaxConcurrentPerTask, f.polls.of(st.MaxConcurrentTaskID))
	}
}

// statusRecorder notes the status of a reply, or 0 when the handler
// hijacks the connection to reset it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// track tracks ids through `reelvault track -`, as a user's script would.
func (f *fleet) track(t *testing.T, ids string) {
	t.Helper()
	cmd, _, stderr := f.command(t.Context(), ids, "track", "-")
	raceExitNow(cmd)
	if err := cmd.Run(); err != nil {
		t.Fatalf("track: %v: %s", err, stderr)
	}
}

// raceExitNow spares cmd the race detector's sleep of a second at a clean
// exit (GORACE atexit_sleep_ms, 1000 by default), which a -race test binary
// run as reelvault adds to every command that succeeds.
func raceExitNow(cmd *exec.Cmd) {
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// member is one running reelvault process of a fleet, which the test
// stops, kills or restarts.
type member struct {
	id     string
	cmd    *exec.Cmd
	logs   *logLines
	url    string        // its HTTP server, once waitListening returned
	exited chan struct{} // closed once it exited and its whole log was read
	err    error         // cmd.Wait's result, once exited is closed
}

// startMember starts `reelvault args...` in e as instance id. It is killed
// when the test ends, if it still runs.
func startMember(t *testing.T, e *env, id string, args ...string) *member {
	t.Helper()
	// Not t.Context(): the test ends a member itself, and wants to see how.
	cmd, _, _ := e.command(context.WithoutCancel(t.Context()), "", args...)
	raceExitNow(cmd)
	cmd.Stderr = nil
	r, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &member{id: id, cmd: cmd, logs: watchLog(r), exited: make(chan struct{})}
	go func() {
		// Wait closes the pipe: only once the log is read to its end.
		<-m.logs.done
		m.err = cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		if m.running() {
			cmd.Process.Kill()
		}
		<-m.exited
	})
	return m
}

func (m *member) running() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// waitListening waits until the member serves HTTP and notes its address.
func (m *member) waitListening(t *testing.T) {
	t.Helper()
	m.logs.waitFor(t, "http server listening")
	for _, l := range m.lines() {
		if s := listenLine.FindStringSubmatch(l); s != nil {
			m.url = "http://" + s[1]
			return
		}
	}
	t.Fatalf("%s: no address in its log:\n%s", m.id, m.logs.String())
}

func (m *member) lines() []string {
	m.logs.mu.Lock()
	defer m.logs.mu.Unlock()
	return append([]string(nil), m.logs.lines...)
}

// count is how many lines of the member's log contain text.
func (m *member) count(text string) int {
	n := 0
	for _, l := range m.lines() {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// kill9 kills the member with SIGKILL and waits until it is gone.
func (m *member) kill9(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", m.id, err)
	}
	<-m.exited
}

// stop ends the member as systemd would and expects a clean exit soon.
func (m *member) stop(t *testing.T) {
	t.Helper()
	if !m.running() {
		t.Fatalf("%s had exited before it was stopped (%v):\n%s", m.id, m.err, m.logs.String())
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit within a minute of SIGTERM:\n%s", m.id, m.logs.String())
	}
	if m.err != nil {
		t.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", m.id, m.err, m.logs.String())
	}
}

// videoArchived is how the archiver logs a video it stored and recorded.
const videoArchived = `msg="video archived"`

// waitSettled waits until every tracked task of the catalog is terminal
// and every video and task.json of a finished task is settled, polling the
// catalog, for at most limit. It fails the test at once if a member exits:
// a daemon ends only when told to. A catalog that does not answer (being
// restarted, say) is asked again.
func waitSettled(t *testing.T, cat *catalog.DB, limit time.Duration, members ...*member) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	live, pending := -1, -1
	var lastErr error
	for {
		for _, m := range members {
			if !m.running() {
				t.Fatalf("%s exited on its own (%v) with %d live tasks and %d awaiting archive:\n%s",
					m.id, m.err, live, pending, m.logs.String())
			}
		}
		l, p, err := cat.Outstanding(ctx)
		switch {
		case err == nil && l == 0 && p == 0:
			return
		case err == nil:
			live, pending = l, p
		case ctx.Err() == nil:
			lastErr = err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			var logs strings.Builder
			for _, m := range members {
				fmt.Fprintf(&logs, "--- %s:\n%s\n", m.id, m.logs.String())
			}
			t.Fatalf("after %v: %d tasks still live, %d awaiting archive (last catalog error: %v)\n%s",
				limit, live, pending, lastErr, logs.String())
		}
	}
}

// metricSum sums the samples of the metric name in a /metrics reply.
func metricSum(t *testing.T, body, name string) float64 {
	t.Helper()
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
	}
	return sum
}

// checkOnceEach checks what checkArchive cannot see from storage alone:
// every task is terminal, no video was given up, and every video and
// task.json has a key of its own, so no two records share one object.
// It returns the number of archived videos.
func checkOnceEach(t *testing.T, e *env) int {
	t.Helper()
	owner := map[string]string{}
	archived := 0
	claim := func(key, what string) {
		if key == "" {
			t.Errorf("%s: no key", what)
			return
		}
		if prev, ok := owner[key]; ok {
			t.Errorf("%s and %s are both recorded under %s", prev, what, key)
		}
		owner[key] = what
	}
	for _, task := range catalogTasks(t, e) {
		if task.Status != "SUCCESS" && task.Status != "FAILURE" {
			t.Errorf("%s: status %q, want SUCCESS or FAILURE", task.TaskID, task.Status)
		}
		for _, a := range task.Assets {
			if a.State != catalog.AssetArchived {
				t.Errorf("%s %s: %s (%s), want archived", task.TaskID, a.Kind, a.State, a.LastError)
				continue
			}
			archived++
			claim(a.Key, task.TaskID+" "+a.Kind)
		}
		if task.Status == "SUCCESS" {
			claim(task.TaskJSONKey, task.TaskID+" task.json")
		}
	}
	return archived
}

// TestTwoInstancesShareOnePostgresCatalog runs two daemons on one Postgres
// catalog against a faulty gateway with 200 tasks, and checks what a user
// of a fleet is promised: every video is stored once, byte for byte; no
// task is polled by both at once; together they keep to the one request
// budget; and both did a share of the work.
func TestTwoInstancesShareOnePostgresCatalog(t *testing.T) {
	postgresPassOnly(t)
	t.Parallel()
	const (
		tasks  = 200
		rps    = 40
		window = 5 * time.Second
	)
	// Tasks live about 6 s, so with 200 of them the fleet could poll far
	// faster than the budget for most of the run: the budget is what
	// limits it, and two budgets instead of one would show.
	f := newFleet(t, simulator.Config{
		Seed: 2026, NotStartFor: 500 * time.Millisecond, QueuedFor: 500 * time.Millisecond, RunFor: 5 * time.Second,
		VideoBytes: 128 << 10, FailureRate: 0.1, SuperResolutionRate: 0.3,
		// Polls last a while, so that two polls of one task would overlap.
		PollDelay: 5 * time.Millisecond,
		// About one request in twenty meets a fault: each costs a retry
		// 5 s or more later, and two in a row on one video 15 s.
		Faults: simulator.Faults{
			API5xx: 0.02, API429: 0.01, APIHTML: 0.005, APITruncated: 0.01, APIReset: 0.01,
			Media5xx: 0.02, MediaTruncated: 0.01, MediaReset: 0.01, MediaHTML: 0.005,
			RetryAfter: 100 * time.Millisecond,
		},
	}, fleetOptions{rps: rps, storage: s3Backend(t)})
	f.track(t, f.createTasks(tasks))

	a := startMember(t, f.instance(t, "a"), "a", "run")
	b := startMember(t, f.instance(t, "b"), "b", "run")
	a.waitListening(t)
	b.waitListening(t)
	cat := f.openCatalog(t)
	defer cat.Close()
	began := time.Now()
	waitSettled(t, cat, 2*time.Minute, a, b)
	t.Logf("%d tasks settled %v after both instances listened", tasks, time.Since(began).Round(time.Millisecond))

	polled := map[string]float64{}
	for _, m := range []*member{a, b} {
		code, body := request(t, "GET", m.url+"/metrics", "", "")
		if code != 200 {
			t.Fatalf("%s: GET /metrics: HTTP %d", m.id, code)
		}
		polled[m.id] = metricSum(t, body, "reelvault_polls_total")
	}
	a.stop(t)
	b.stop(t)

	checkArchive(t, f.env, f.opts.storage.store(t, f.env), tasks)
	archived := checkOnceEach(t, f.env)

	// Work shared: each instance polled and archived some, and every video
	// was archived by exactly one of them (an instance logs a video once
	// its record in the catalog, which only the lease holder can write, is
	// in).
	byA, byB := a.count(videoArchived), b.count(videoArchived)
	t.Logf("videos archived: a %d, b %d, catalog %d; polls: a %.0f, b %.0f", byA, byB, archived, polled["a"], polled["b"])
	if byA == 0 || byB == 0 || polled["a"] == 0 || polled["b"] == 0 {
		t.Errorf("an instance did no work: a archived %d and polled %.0f, b archived %d and polled %.0f",
			byA, polled["a"], byB, polled["b"])
	}
	if byA+byB != archived {
		t.Errorf("the instances logged %d+%d videos archived, the catalog holds %d: a video was archived twice, or never logged",
			byA, byB, archived)
	}

	st := f.sim.PollStats(window)
	span := st.Last.Sub(st.First)
	t.Logf("gateway saw %d polls over %v (%.1f/s), at most %d in %v, at most %d at once, at most %d of one task at once",
		st.Total, span.Round(time.Millisecond), float64(st.Total)/span.Seconds(), st.MaxInWindow, window,
		st.MaxConcurrent, st.MaxConcurrentPerTask)
	checkPollsApart(t, f, st)
	// One token bucket of burst 1 in Postgres hands out at most
	// 1 + rps*T tokens in any T, whoever takes them; each token is one
	// poll. A poll reaches the gateway a little after its token is due
	// (the reservation's round trip, a goroutine waiting for a free poll
	// worker, a process descheduled on 2 busy CPUs under -race), so
	// arrivals in a window are tokens due in it or up to that lag before
	// it. Allowing a lag of one second, the bound is 1 + rps*(T+1s): with
	// two budgets of rps each, as without the shared bucket, the fleet
	// would reach about twice rps*T here.
	const lag = time.Second
	if limit := 1 + int(rps*(window+lag).Seconds()); st.MaxInWindow > limit {
		t.Errorf("%d polls within %v, want at most %d (%d/s shared by both instances)", st.MaxInWindow, window, limit, rps)
	}
	// The same bound over the whole run: the average rate stays under rps.
	if limit := 1 + rps*(span+lag).Seconds(); float64(st.Total) > limit {
		t.Errorf("%d polls in %v (%.1f/s), want at most %.0f (%d/s shared by both instances)",
			st.Total, span, float64(st.Total)/span.Seconds(), limit, rps)
	}
}

// TestKillNineOneOfTwoInstances kills one of two daemons on one Postgres
// catalog with SIGKILL ten times at random moments while tasks arrive,
// restarting it each time but the last, and checks that nothing is lost,
// nothing is stored twice, nothing is recorded as archived that is not,
// and that the survivor takes over the dead one's leases and finishes.
func TestKillNineOneOfTwoInstances(t *testing.T) {
	postgresPassOnly(t)
	t.Parallel()
	const (
		lease   = 5 * time.Second
		kills   = 10
		perWave = 6 // tasks tracked before each kill
	)
	f := newFleet(t, simulator.Config{
		Seed: 99, NotStartFor: 100 * time.Millisecond, QueuedFor: 100 * time.Millisecond, RunFor: 1500 * time.Millisecond,
		VideoBytes: 256 << 10, FailureRate: 0.1, SuperResolutionRate: 0.4, PollDelay: 5 * time.Millisecond,
		Faults: simulator.Faults{
			API5xx: 0.03, API429: 0.01, Media5xx: 0.02, MediaTruncated: 0.02, MediaReset: 0.02,
			// Slow bodies keep transfers in flight, so that kills land
			// in the middle of some.
			MediaSlow: 0.4, SlowChunkDelay: 100 * time.Millisecond, RetryAfter: 100 * time.Millisecond,
		},
	}, fleetOptions{rps: 40, lease: lease, apiTimeout: 3 * time.Second})
	envs := map[string]*env{"a": f.instance(t, "a"), "b": f.instance(t, "b")}
	members := map[string]*member{}
	for _, id := range []string{"a", "b"} {
		members[id] = startMember(t, envs[id], id, "run")
	}
	cat := f.openCatalog(t)
	defer cat.Close()

	rng := rand.New(rand.NewPCG(5, 6))
	var lastKill time.Time
	var survivor *member
	killedHolding := 0
	for i := range kills {
		f.track(t, f.createTasks(perWave))
		select {
		case <-time.After(time.Duration(300+rng.IntN(1200)) * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
		for _, m := range members {
			if !m.running() {
				t.Fatalf("%s exited on its own (%v):\n%s", m.id, m.err, m.logs.String())
			}
		}
		// Of the instances, one with work in hand if there is one:
		// killing an idle instance tests little.
		ids := []string{"a", "b"}
		var busy []string
		for _, id := range ids {
			polls, videos, err := cat.Leases(t.Context(), id, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if polls+videos > 0 {
				busy = append(busy, id)
			}
		}
		if len(busy) > 0 {
			ids = busy
		}
		id := ids[rng.IntN(len(ids))]
		members[id].kill9(t)
		lastKill = time.Now()
		// What the dead instance holds now waits for its lease to run out.
		polls, videos, err := cat.Leases(t.Context(), id, lastKill)
		if err != nil {
			t.Fatal(err)
		}
		if polls+videos > 0 {
			killedHolding++
		}
		t.Logf("kill %d: %s killed with %d poll or task.json leases and %d transfer leases held", i+1, id, polls, videos)
		if i < kills-1 {
			members[id] = startMember(t, envs[id], id, "run")
			members[id].logs.waitFor(t, "reelvault running")
			continue
		}
		// The last time, the other instance is left to finish alone.
		delete(members, id)
		for _, m := range members {
			survivor = m
		}
	}
	waitSettled(t, cat, 2*time.Minute, survivor)
	took := time.Since(lastKill)
	survivor.stop(t)

	checkArchive(t, f.env, f.opts.storage.store(t, f.env), kills*perWave)
	archived := checkOnceEach(t, f.env)
	st := f.sim.PollStats(time.Second)
	t.Logf("%d videos archived; %d of %d kills hit an instance holding leases; the survivor finished %v after the last kill; %d polls, at most %d of one task at once",
		archived, killedHolding, kills, took.Round(time.Millisecond), st.Total, st.MaxConcurrentPerTask)
	if killedHolding == 0 {
		t.Errorf("no kill hit an instance holding a lease: the test killed only idle instances")
	}
	checkPollsApart(t, f, st)
	// The dead instance's claims are free after one lease; what remains
	// then takes the survivor a few polls and transfers, some of which meet
	// a fault and wait a retry (5 s, then 10 s). Generous for -race on 2
	// CPUs: this is about taking over at all, not about speed.
	if bound := lease + 30*time.Second; took > bound {
		t.Errorf("the survivor finished %v after the last kill, want within %v (the lease, %v, plus retries)", took, bound, lease)
	}
}

// TestPostgresRestartCostsRetriesNotData restarts the Postgres server while
// a daemon polls and archives, and checks that the daemon stays up, logs
// the catalog's failure, recovers, and archives everything.
func TestPostgresRestartCostsRetriesNotData(t *testing.T) {
	postgresPassOnly(t)
	if os.Getenv(envPGRestart) != "1" {
		t.Skipf("restarts the Postgres test server, which breaks the connections of every other test using it: "+
			"set %s=1 to run it on a server of its own", envPGRestart)
	}
	const half = 20
	f := newFleet(t, simulator.Config{
		Seed: 4, NotStartFor: 300 * time.Millisecond, QueuedFor: 300 * time.Millisecond, RunFor: 2 * time.Second,
		VideoBytes: 256 << 10, FailureRate: 0.1, SuperResolutionRate: 0.4,
		// Slow bodies keep transfers in flight across the restart.
		Faults: simulator.Faults{MediaSlow: 0.5, SlowChunkDelay: 50 * time.Millisecond},
	}, fleetOptions{rps: 40, lease: 5 * time.Second, apiTimeout: 3 * time.Second})
	f.track(t, f.createTasks(half))
	m := startMember(t, f.instance(t, "solo"), "solo", "run")
	m.logs.waitFor(t, videoArchived)
	// Fresh tasks, so that polls as well as transfers meet the restart.
	f.track(t, f.createTasks(half))
	before := len(m.lines())
	catalogtest.RestartPostgres(t)
	t.Logf("postgres restarted; the daemon had logged %d lines", before)

	cat := f.openCatalog(t)
	defer cat.Close()
	waitSettled(t, cat, 2*time.Minute, m)
	m.stop(t)
	checkArchive(t, f.env, f.opts.storage.store(t, f.env), 2*half)
	checkOnceEach(t, f.env)

	after := m.lines()[before:]
	lastErr := -1
	var problems []string
	for i, l := range after {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			lastErr = i
			problems = append(problems, l)
		}
	}
	if lastErr < 0 {
		t.Fatalf("the daemon logged no error or warning after the restart:\n%s", strings.Join(after, "\n"))
	}
	t.Logf("errors and warnings after the restart:\n%s", strings.Join(problems, "\n"))
	if n := strings.Count(strings.Join(after[lastErr:], "\n"), videoArchived); n == 0 {
		t.Errorf("no video archived after the last error: no sign of recovery:\n%s", strings.Join(after, "\n"))
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPostgresStartupErrorsNameTheHost starts run and doctor on a Postgres
// catalog they cannot use: each fails at once, names the server, and never
// prints the password. Then it copies the SQLite catalog of a finished run
// into Postgres with `catalog migrate` and checks both list the same.
func TestPostgresStartupErrorsNameTheHost(t *testing.T) {
	postgresPassOnly(t)
	t.Parallel()
	// Distinctive, so that any trace of it in the output is found.
	const password = "Zebra-Quartz-8813-wrong"
	good, err := url.Parse(catalogtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	wrong := *good
	wrong.User = url.UserPassword(good.User.Username(), password)
	closed := closedAddr(t)
	cases := []struct {
		name, url, host string
	}{
		{"wrong password", wrong.String(), good.Host},
		// No sslmode: the default, prefer, tries TLS first.
		{"nothing listening", "postgres://reelvault:" + password + "@" + closed + "/reelvault", closed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, simulator.Config{}, fleetOptions{rps: 5, pgURL: c.url})
			for _, args := range [][]string{{"run"}, {"doctor"}} {
				began := time.Now()
				code, stdout, stderr := f.run(t, "", args...)
				took := time.Since(began)
				t.Logf("%s: exit %d after %v\nstdout: %s\nstderr: %s", args[0], code, took.Round(time.Millisecond), stdout, stderr)
				if code == 0 {
					t.Errorf("%s: exit 0, want an error", args[0])
				}
				// A refused login or connection is known at once; waiting
				// out the 15 s connect timeout would mean retrying a
				// failure that cannot heal. Generous for -race.
				if took > 10*time.Second {
					t.Errorf("%s: took %v to fail, want it to fail at once", args[0], took)
				}
				// run reports on stderr; doctor prints its checks on
				// stdout and its verdict on stderr.
				out := stderr
				if args[0] == "doctor" {
					out = stdout
				}
				if !strings.Contains(out, c.host) {
					t.Errorf("%s: the error does not name the server %s", args[0], c.host)
				}
				if strings.Contains(stdout+stderr, password) {
					t.Errorf("%s: the password is in the output", args[0])
				}
			}
		})
	}

	t.Run("migrate", func(t *testing.T) {
		t.Parallel()
		f := newFleet(t, simulator.Config{Seed: 8, NotStartFor: 20 * time.Millisecond, QueuedFor: 20 * time.Millisecond,
			RunFor: 100 * time.Millisecond, VideoBytes: 64 << 10, FailureRate: 0.2, SuperResolutionRate: 0.4},
			fleetOptions{rps: 50})
		sqlite := f.writeConfig(t, "sqlite", fmt.Sprintf(
			"catalog:\n  driver: sqlite\n  path: ./reelvault-data/catalog.db\n  postgres:\n    url: %s\n", f.pgURL))
		onSQLite := *f.env
		onSQLite.config, onSQLite.pgURL = sqlite, ""
		if code, _, stderr := onSQLite.run(t, f.createTasks(12), "track", "-"); code != 0 {
			t.Fatalf("track: exit %d: %s", code, stderr)
		}
		if code, _, stderr := onSQLite.run(t, "", "run", "--once", "--deadline", "1m"); code != 0 {
			t.Fatalf("run --once on SQLite: exit %d: %s", code, stderr)
		}
		code, stdout, stderr := onSQLite.run(t, "", "catalog", "migrate", "--to", "postgres")
		if code != 0 || !strings.Contains(stdout, "copied 12 tasks") {
			t.Fatalf("catalog migrate: exit %d: %s%s", code, stdout, stderr)
		}
		t.Logf("catalog migrate: %s", stdout)
		list := func(e *env) string {
			code, stdout, stderr := e.run(t, "", "catalog", "list", "--format", "json")
			if code != 0 {
				t.Fatalf("catalog list --config %s: exit %d: %s", filepath.Base(e.config), code, stderr)
			}
			return stdout
		}
		fromSQLite, fromPostgres := list(&onSQLite), list(f.env)
		if fromSQLite != fromPostgres {
			t.Errorf("catalog list differs after migrate:\nSQLite:   %s\nPostgres: %s", fromSQLite, fromPostgres)
		}
		if n := strings.Count(fromPostgres, `"task_id"`); n != 12 {
			t.Errorf("catalog list on Postgres shows %d tasks, want 12", n)
		}
		// The copy is a finished catalog: a run on it has nothing to do.
		if code, _, stderr := f.run(t, "", "run", "--once", "--deadline", "1m"); code != 0 {
			t.Errorf("run --once on the migrated catalog: exit %d: %s", code, stderr)
		}
		// A second copy into a catalog that is no longer empty is refused.
		if code, stdout, _ := onSQLite.run(t, "", "catalog", "migrate", "--to", "postgres"); code == 0 {
			t.Errorf("a second catalog migrate into the same database: exit 0 (%s), want an error", stdout)
		}
		if again := list(f.env); again != fromPostgres {
			t.Errorf("the refused migrate changed the Postgres catalog:\nbefore: %s\nafter:  %s", fromPostgres, again)
		}
	})
}
