package main

import (
	"context"
	"fmt"
	"time"
)

// archiveResult is one archive run: a backlog of finished (or soon
// finished) tasks, from the instances' start to the last one's exit.
type archiveResult struct {
	tasks, videos, polls, maxPerTask int
	wall                             time.Duration
	perMin, steadyPerMin             float64 // videos per minute: whole run; 10 % to 90 % archived
	pollsPerSec                      float64
	cpu                              cpuUse
}

// archiveRun tracks o.archiveTasks simulated tasks, which finish runFor
// after they are created, and runs every instance with `run --once`: each
// polls and archives until the catalog holds no unfinished task and no
// pending video, whoever did the work.
func archiveRun(ctx context.Context, o options, t trial, runFor time.Duration, round int) (archiveResult, error) {
	var r archiveResult
	w := workload{sim: simOptions{tasks: o.archiveTasks, seed: int64(round + 1), runFor: runFor,
		videoBytes: o.videoBytes, failureRate: 0.1}, rps: o.rps, pollInterval: time.Second}
	f, err := newFleet(ctx, o, t, w)
	if err != nil {
		return r, err
	}
	defer f.close()
	before := f.snap()
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	samples := f.cat.sampleArchived(sctx, 50*time.Millisecond)
	start := time.Now()
	if err := f.start(ctx, "--once", "--deadline", o.deadline.String()); err != nil {
		return r, err
	}
	var end time.Time
	for _, c := range f.instances {
		select {
		case <-c.done:
		case <-ctx.Done():
			return r, ctx.Err()
		}
		if err := c.exitErr(); err != nil {
			return r, err
		}
		if c.exited.After(end) {
			end = c.exited
		}
	}
	after := f.snap()
	stopSampling()
	got := <-samples
	v, err := f.cat.videos(ctx)
	if err != nil {
		return r, fmt.Errorf("count videos: %w", err)
	}
	if v.archived != v.total || v.total == 0 {
		return r, fmt.Errorf("%d of %d videos archived (%d lost)", v.archived, v.total, v.lost)
	}
	st, err := f.sim.pollStats(ctx, time.Second)
	if err != nil {
		return r, err
	}
	r = archiveResult{tasks: o.archiveTasks, videos: v.archived, polls: st.Total, maxPerTask: st.MaxConcurrentPerTask,
		wall: end.Sub(start), cpu: used(before, after)}
	r.perMin = float64(r.videos) / r.wall.Minutes()
	r.steadyPerMin = steadyRate(got, r.videos)
	if span := st.Last.Sub(st.First); span > 0 {
		r.pollsPerSec = float64(st.Total) / span.Seconds()
	}
	return r, nil
}

// steadyRate is videos per minute between the samples where 10 % and 90 %
// of final were archived: the rate once every instance is up and before
// the last stragglers, without start-up, the tasks' own run time and the
// exit.
func steadyRate(got []sample, final int) float64 {
	var t10, t90 time.Time
	var n10, n90 int
	for _, s := range got {
		if t10.IsZero() && s.archived*10 >= final {
			t10, n10 = s.at, s.archived
		}
		if t90.IsZero() && s.archived*10 >= final*9 {
			t90, n90 = s.at, s.archived
		}
	}
	if t10.IsZero() || t90.IsZero() || !t90.After(t10) {
		return 0
	}
	return float64(n90-n10) / t90.Sub(t10).Minutes()
}

// pollResult is one poll-capacity run: polls answered per second in a
// window of steady polling, and who used the CPUs meanwhile.
type pollResult struct {
	polls       int
	pollsPerSec float64
	demand      float64 // polls per second the schedule asks for
	maxPerTask  int
	cpu         cpuUse
}

// pollRun tracks o.pollTasks tasks that stay IN_PROGRESS and runs the
// instances as daemons polling each task every second (api.poll_interval's
// minimum): the schedule asks for more polls than the box can answer, so
// the rate is the fleet's capacity. The window starts after o.warmup.
func pollRun(ctx context.Context, o options, t trial, round int) (pollResult, error) {
	var r pollResult
	w := workload{sim: simOptions{tasks: o.pollTasks, seed: int64(round + 1), runFor: 240 * time.Hour,
		videoBytes: 1 << 10}, rps: o.rps, pollInterval: time.Second}
	f, err := newFleet(ctx, o, t, w)
	if err != nil {
		return r, err
	}
	defer f.close()
	if err := f.start(ctx); err != nil {
		return r, err
	}
	if err := sleep(ctx, o.warmup); err != nil {
		return r, err
	}
	s1, err := f.sim.pollStats(ctx, time.Second)
	if err != nil {
		return r, err
	}
	c1 := f.snap()
	if err := sleep(ctx, o.window); err != nil {
		return r, err
	}
	s2, err := f.sim.pollStats(ctx, time.Second)
	if err != nil {
		return r, err
	}
	c2 := f.snap()
	if err := f.exitedEarly(); err != nil {
		return r, err
	}
	if err := f.stopInstances(); err != nil {
		return r, err
	}
	r = pollResult{polls: s2.Total - s1.Total, demand: float64(o.pollTasks) / w.pollInterval.Seconds(),
		maxPerTask: s2.MaxConcurrentPerTask, cpu: used(c1, c2)}
	r.pollsPerSec = float64(r.polls) / r.cpu.wall.Seconds()
	return r, nil
}

// budgetResult is the shared request budget under test: the fleet's
// combined poll rate against api.requests_per_second.
type budgetResult struct {
	instances, tasks int
	rps              float64
	window           time.Duration
	polls            int
	avgPerSec        float64
	maxIn1s, maxIn5s int
	maxPerTask       int
}

// budgetRun runs o.budgetInstances daemons on one Postgres catalog with a
// low api.requests_per_second and far more due polls than it allows, and
// reads from the simulator how many polls arrived in the busiest second.
func budgetRun(ctx context.Context, o options) (budgetResult, error) {
	r := budgetResult{instances: o.budgetInstances, tasks: o.budgetTasks, rps: o.budgetRPS, window: o.budgetWindow}
	w := workload{sim: simOptions{tasks: o.budgetTasks, seed: 1, runFor: 240 * time.Hour, videoBytes: 1 << 10},
		rps: o.budgetRPS, pollInterval: time.Second}
	f, err := newFleet(ctx, o, trial{driver: "postgres", instances: o.budgetInstances}, w)
	if err != nil {
		return r, err
	}
	defer f.close()
	if err := f.start(ctx); err != nil {
		return r, err
	}
	if err := sleep(ctx, o.budgetWindow); err != nil {
		return r, err
	}
	if err := f.exitedEarly(); err != nil {
		return r, err
	}
	s1, err := f.sim.pollStats(ctx, time.Second)
	if err != nil {
		return r, err
	}
	s5, err := f.sim.pollStats(ctx, 5*time.Second)
	if err != nil {
		return r, err
	}
	if err := f.stopInstances(); err != nil {
		return r, err
	}
	r.polls, r.maxIn1s, r.maxIn5s, r.maxPerTask = s1.Total, s1.MaxInWindow, s5.MaxInWindow, s1.MaxConcurrentPerTask
	if span := s1.Last.Sub(s1.First); span > 0 {
		r.avgPerSec = float64(s1.Total-1) / span.Seconds()
	}
	return r, nil
}
