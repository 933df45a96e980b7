// Command ha measures reelvault as a fleet: 1, 2 and 3 `reelvault run`
// instances sharing one Postgres catalog, against one instance on SQLite,
// on loopback, and the Postgres catalog's queries at 1,000,000 tasks. It
// writes bench/results-ha.md.
//
// It expects the Postgres server of scripts/with-postgres.sh
// (REELVAULT_TEST_PG_URL) and a built reelvault binary; bench/ha/run.sh
// does both. Everything it starts (simulators, instances, databases on the
// server, scratch directories) it stops and removes; every listener is on
// 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the knobs of one run of the driver.
type options struct {
	reelvault, goCmd, out string
	work                  string // scratch directory
	runs                  int
	instances             []int
	only                  string

	// archive: tasks finishing runFor after they are created (one
	// workload per value), run --once.
	archiveTasks int
	videoBytes   int64
	runFors      []time.Duration
	concurrency  int
	rps          float64 // api.requests_per_second for archive and polls: not the limit
	deadline     time.Duration

	// polls: tasks that never finish, polled every second, as daemons.
	pollTasks      int
	warmup, window time.Duration

	// budget: a low shared api.requests_per_second.
	budgetRPS       float64
	budgetInstances int
	budgetTasks     int
	budgetWindow    time.Duration

	// catalog: the Go benchmarks of catalog/postgres_bench_test.go.
	benchtime string

	pgAdmin string
	pg      postgresCPU
}

func main() {
	var o options
	var instances, runFors string
	flag.StringVar(&o.reelvault, "reelvault", "bin/reelvault", "reelvault binary")
	flag.StringVar(&o.goCmd, "go", "go", "go command, for the catalog benchmarks")
	flag.StringVar(&o.out, "out", "bench/results-ha.md", "markdown results file")
	flag.IntVar(&o.runs, "runs", 3, "runs of every measurement (the median is reported)")
	flag.StringVar(&instances, "instances", "1,2,3", "Postgres fleet sizes to measure")
	flag.StringVar(&o.only, "only", "", "run only these sections: archive,polls,budget,catalog (default all)")
	flag.IntVar(&o.archiveTasks, "archive-tasks", 600, "archive: simulated tasks per run")
	flag.Int64Var(&o.videoBytes, "video-bytes", 256<<10, "archive: bytes per result video")
	flag.StringVar(&runFors, "run-for", "1s,0s", "archive: how long each simulated task runs after it is created; one workload per value (0s: a backlog, every task finished when the instances start)")
	flag.IntVar(&o.concurrency, "concurrency", 4, "archive.concurrency of every instance")
	flag.Float64Var(&o.rps, "rps", 100000, "api.requests_per_second for archive and polls")
	flag.DurationVar(&o.deadline, "deadline", 10*time.Minute, "archive: --deadline of every instance")
	flag.IntVar(&o.pollTasks, "poll-tasks", 10000, "polls: unfinished tasks, each due every second")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "polls: time before the measured window")
	flag.DurationVar(&o.window, "window", 20*time.Second, "polls: measured window")
	flag.Float64Var(&o.budgetRPS, "budget-rps", 20, "budget: api.requests_per_second shared by the fleet")
	flag.IntVar(&o.budgetInstances, "budget-instances", 3, "budget: instances")
	flag.IntVar(&o.budgetTasks, "budget-tasks", 200, "budget: unfinished tasks, each due every second")
	flag.DurationVar(&o.budgetWindow, "budget-window", 30*time.Second, "budget: how long the fleet runs")
	flag.StringVar(&o.benchtime, "benchtime", "2s", "catalog: go test -benchtime")
	flag.Parse()
	var err error
	if o.instances, err = parseInstances(instances); err == nil {
		o.runFors, err = parseDurations(runFors)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ha:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, o, log); err != nil {
		fmt.Fprintln(os.Stderr, "ha:", err)
		os.Exit(1)
	}
}

func parseInstances(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-instances %q: want a comma-separated list of counts from 1", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-run-for %q: want a comma-separated list of durations from 0s", s)
		}
		out = append(out, d)
	}
	return out, nil
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	o.pgAdmin = os.Getenv("REELVAULT_TEST_PG_URL")
	if o.pgAdmin == "" {
		return errors.New("REELVAULT_TEST_PG_URL is not set: run under scripts/with-postgres.sh (bench/ha/run.sh does)")
	}
	var err error
	if o.pg, err = findPostgres(); err != nil {
		log.Warn("Postgres server CPU will not be measured", "err", err)
	}
	if o.work, err = os.MkdirTemp("", "reelvault-ha."); err != nil {
		return err
	}
	defer os.RemoveAll(o.work)
	want := func(section string) bool {
		return o.only == "" || strings.Contains(","+o.only+",", ","+section+",")
	}
	r := &report{opts: o, started: time.Now().UTC(), cpus: runtime.NumCPU(), cpu: cpuModel(), mem: memTotal(),
		kernel: kernel(), goVersion: runtime.Version(), pgVersion: serverVersion(ctx, o.pgAdmin),
		loadBefore: loadAverage()}
	trials := []trial{{driver: "sqlite", instances: 1}}
	for _, n := range o.instances {
		trials = append(trials, trial{driver: "postgres", instances: n})
	}
	r.trials = trials

	if want("archive") {
		for _, runFor := range o.runFors {
			set := archiveSet{runFor: runFor, results: map[trial][]archiveResult{}}
			for round := range o.runs {
				// Each round takes the trials in another order, so a drift of
				// the machine's load is not always charged to the same one.
				for i := range trials {
					t := trials[(i+round)%len(trials)]
					res, err := archiveRun(ctx, o, t, runFor, round)
					if err != nil {
						return fmt.Errorf("archive (run-for %s), %s, run %d: %w", runFor, t, round+1, err)
					}
					set.results[t] = append(set.results[t], res)
					log.Info("archive run", "run_for", runFor, "trial", t.String(), "run", round+1, "videos", res.videos,
						"wall", res.wall.Round(time.Millisecond), "videos_per_min", int(res.perMin),
						"steady_per_min", int(res.steadyPerMin), "polls_per_s", int(res.pollsPerSec),
						"busy", fmt.Sprintf("%.0f%%", 100*res.cpu.busy(r.cpus)), "load", loadAverage())
				}
			}
			r.archive = append(r.archive, set)
		}
	}
	if want("polls") {
		r.polls = map[trial][]pollResult{}
		for round := range o.runs {
			for i := range trials {
				t := trials[(i+round)%len(trials)]
				res, err := pollRun(ctx, o, t, round)
				if err != nil {
					return fmt.Errorf("polls, %s, run %d: %w", t, round+1, err)
				}
				r.polls[t] = append(r.polls[t], res)
				log.Info("poll run", "trial", t.String(), "run", round+1, "polls_per_s", int(res.pollsPerSec),
					"demand", int(res.demand), "busy", fmt.Sprintf("%.0f%%", 100*res.cpu.busy(r.cpus)),
					"max_per_task", res.maxPerTask, "load", loadAverage())
			}
		}
	}
	if want("budget") {
		res, err := budgetRun(ctx, o)
		if err != nil {
			return fmt.Errorf("budget: %w", err)
		}
		r.budget = &res
		log.Info("budget run", "instances", res.instances, "rps", res.rps, "polls", res.polls,
			"avg_per_s", fmt.Sprintf("%.2f", res.avgPerSec), "max_in_1s", res.maxIn1s, "max_per_task", res.maxPerTask)
	}
	if want("catalog") {
		log.Info("catalog benchmarks (the first run generates 1,000,000 tasks: about 2.5 minutes)")
		if r.catalog, err = catalogBenchmarks(ctx, o); err != nil {
			return fmt.Errorf("catalog benchmarks: %w", err)
		}
	}
	r.loadAfter = loadAverage()
	r.took = time.Since(r.started)
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	log.Info("wrote "+o.out, "took", r.took.Round(time.Second))
	return nil
}
