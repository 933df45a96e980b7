package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reelvault/reelvault/simulator"
)

// pollResult is the poll-scale scenario: reelvault's cost per poll with
// pollTasks live tasks in its catalog.
type pollResult struct {
	tasks, polls   int
	cpuPerPollMS   series // reelvault's CPU per poll, ms
	cpuPer1000MS   series
	wallPer1000MS  series
	pollsPerSecond series
	rssMiB         series
	plans          []queryPlan
}

type queryPlan struct{ name, sql, plan string }

// pollCounter counts the task polls the simulator answers and signals when
// the count reaches each mark.
type pollCounter struct {
	next  http.Handler
	n     atomic.Int64
	marks atomic.Pointer[[]int64]
	hit   chan time.Time
}

func (c *pollCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/video/generations/") {
		n := c.n.Add(1)
		if m := c.marks.Load(); m != nil {
			for _, mark := range *m {
				if n == mark {
					c.hit <- time.Now()
				}
			}
		}
	}
	c.next.ServeHTTP(w, r)
}

// benchPolls tracks pollTasks tasks the simulator keeps IN_PROGRESS and
// measures `reelvault run` (the daemon) while it polls them: the CPU time
// of the reelvault process, read from /proc between the warm-up mark and
// the end mark, divided by the polls the simulator answered in between.
// The simulator runs in this process, so none of its CPU is counted.
func benchPolls(ctx context.Context, o options, log *slog.Logger) (*pollResult, error) {
	sim := simulator.New(simulator.Config{Seed: 2, NotStartFor: -1, QueuedFor: -1, RunFor: 240 * time.Hour,
		FailureRate: -1, SuperResolutionRate: -1})
	counter := &pollCounter{next: sim, hit: make(chan time.Time, 4)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: counter, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	began := time.Now()
	no := false
	ids := make([]string, o.pollTasks)
	for i := range ids {
		ids[i] = sim.CreateTask(simulator.TaskOptions{Fail: &no, SuperResolution: &no})
	}
	dir, err := os.MkdirTemp(o.work, "polls.")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// A poll interval of an hour: every task is polled once in the window,
	// always a different one, as in a steady state with a big backlog.
	cfg, catPath, err := writeConfig(dir, "http://"+ln.Addr().String(), "fs", "", s3Env{}, o, "1h")
	if err != nil {
		return nil, err
	}
	if err := track(ctx, catPath, ids); err != nil {
		return nil, err
	}
	log.Info("poll scale: tasks created and tracked", "tasks", len(ids), "took", time.Since(began).Round(time.Millisecond))

	res := &pollResult{tasks: o.pollTasks, polls: o.polls}
	for round := range o.runs {
		counter.n.Store(0)
		marks := []int64{int64(o.pollWarmup), int64(o.pollWarmup + o.polls)}
		counter.marks.Store(&marks)
		cpu, wall, rss, err := pollOnce(ctx, o, cfg, counter)
		counter.marks.Store(nil)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", round+1, err)
		}
		per := float64(cpu) / float64(time.Millisecond) / float64(o.polls)
		res.cpuPerPollMS = append(res.cpuPerPollMS, per)
		res.cpuPer1000MS = append(res.cpuPer1000MS, per*1000)
		res.wallPer1000MS = append(res.wallPer1000MS, float64(wall)/float64(time.Millisecond)/float64(o.polls)*1000)
		res.pollsPerSecond = append(res.pollsPerSecond, float64(o.polls)/wall.Seconds())
		res.rssMiB = append(res.rssMiB, float64(rss)/(1<<20))
		log.Info("poll run", "run", round+1, "cpu", cpu, "wall", wall.Round(time.Millisecond),
			"cpu_ms_per_poll", fmt.Sprintf("%.3f", per), "rss_mib", rss>>20)
	}
	res.plans, err = explain(ctx, catPath)
	return res, err
}

// pollOnce runs the daemon until the simulator has answered both marks,
// then stops it with SIGTERM. It returns the CPU and wall time between the
// marks and the process's peak RSS.
func pollOnce(ctx context.Context, o options, cfg string, c *pollCounter) (cpu, wall time.Duration, rss int64, err error) {
	cmd := o.reelvaultCmd(ctx, "--config", cfg, "run")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	var at [2]time.Time
	var cpuAt [2]time.Duration
	timeout := time.After(10 * time.Minute)
	for i := range at {
		select {
		case at[i] = <-c.hit:
			if cpuAt[i], err = procCPU(cmd.Process.Pid); err != nil {
				stop()
				return 0, 0, 0, err
			}
		case err := <-exited:
			return 0, 0, 0, fmt.Errorf("reelvault run exited before %d polls: %v\n%s", c.n.Load(), err, tail(stderr.String(), 2000))
		case <-timeout:
			stop()
			return 0, 0, 0, fmt.Errorf("only %d polls in 10 minutes", c.n.Load())
		case <-ctx.Done():
			stop()
			return 0, 0, 0, ctx.Err()
		}
	}
	stop()
	rss = hwm()
	return cpuAt[1] - cpuAt[0], at[1].Sub(at[0]), rss, nil
}

// explain returns SQLite's plan for the catalog queries the poller runs on
// every batch. The SQL is copied from catalog.DuePolls and
// catalog.Outstanding: keep them in step.
func explain(ctx context.Context, catPath string) ([]queryPlan, error) {
	db, err := sql.Open("sqlite3", "file:"+catPath+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	queries := []queryPlan{
		{name: "catalog.DuePolls", sql: `SELECT task_id, status, tracked_at, submit_time, not_found_count, polls
		FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?`},
		{name: "catalog.NextPoll", sql: `SELECT MIN(next_poll_at) FROM tasks WHERE next_poll_at IS NOT NULL`},
		{name: "catalog.Outstanding", sql: `SELECT
		(SELECT COUNT(*) FROM tasks WHERE next_poll_at IS NOT NULL),
		(SELECT COUNT(*) FROM tasks WHERE archive_state='pending')`},
	}
	for i, q := range queries {
		args := make([]any, strings.Count(q.sql, "?"))
		for j := range args {
			args[j] = time.Now().UnixMilli()
		}
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, args...)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", q.name, err)
		}
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return nil, err
			}
			lines = append(lines, detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		queries[i].plan = strings.Join(lines, "; ")
		queries[i].sql = strings.Join(strings.Fields(q.sql), " ")
	}
	return queries, nil
}

// usesIndex reports whether a plan reads tasks through the named index.
func (q queryPlan) usesIndex(name string) bool {
	return strings.Contains(q.plan, "INDEX "+name+" ") || strings.HasSuffix(q.plan, "INDEX "+name)
}
