package main

import (
	"fmt"
	"strings"
	"time"
)

// report is everything one run of the driver measured.
type report struct {
	opts                  options
	started               time.Time
	took                  time.Duration
	cpus                  int
	cpu, mem, kernel      string
	goVersion, pgVersion  string
	loadBefore, loadAfter string
	trials                []trial
	archive               []archiveSet
	polls                 map[trial][]pollResult
	budget                *budgetResult
	catalog               []*catalogBench
}

// archiveSet is the archive runs of one workload: tasks that finish
// runFor after they are created.
type archiveSet struct {
	runFor  time.Duration
	results map[trial][]archiveResult
}

// markdown renders the report as bench/results-ha.md.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.opts
	p("# reelvault as a fleet: instances sharing one Postgres catalog\n\n")
	p("Written by `bench/ha/run.sh` (bench/ha) on %s; the whole run took %s.\n\n", r.started.Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second))
	p("Machine: %d CPUs (%s), %s RAM, %s; %s; %s (scripts/with-postgres.sh: fsync, synchronous_commit and ",
		r.cpus, r.cpu, r.mem, r.kernel, r.goVersion, r.pgVersion)
	p("full_page_writes off, default shared_buffers and work_mem). Load average before %s, after %s.\n\n", r.loadBefore, r.loadAfter)
	p("Every figure is the median of %d runs with the minimum and maximum in brackets: `median (min–max)`. ", o.runs)
	p("Everything runs on loopback and on the same %d CPUs: the simulator (`reelvault simulate`, a process of its own) ", r.cpus)
	p("as gateway and video origin, the Postgres server, the `reelvault run` instances (the real binary, storage fs, ")
	p("one shared root, archive.concurrency %d), and this driver. CPU seconds are each process's user+system time ", o.concurrency)
	p("(the kernel's accounting of an exited instance, /proc/<pid>/stat otherwise; Postgres is the postmaster with ")
	p("every backend, live or exited); \"busy\" is the share of both CPUs in use from /proc/stat, everyone's work ")
	p("included, and \"other\" is what none of ours used: other engineers' builds and tests.\n\n")
	p("**Noise.** Other engineers run builds and test suites on this machine at the same time (see the load ")
	p("averages and the \"other\" column). The trials of a round run back to back, in a rotated order each round, ")
	p("so that a drift of the load is not always charged to the same one; read the absolute rates as \"on this box, today\".\n\n")

	if len(r.archive) > 0 {
		r.archiveSection(&b)
	}
	if len(r.polls) > 0 {
		r.pollSection(&b)
	}
	if r.budget != nil {
		r.budgetSection(&b)
	}
	if len(r.archive) > 0 || len(r.polls) > 0 {
		r.reading(&b)
	}
	if len(r.catalog) > 0 {
		r.catalogSection(&b)
	}
	return b.String()
}

func (r *report) archiveSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	o := r.opts
	p("## 1. Archive throughput: %d tasks, %d KiB videos, `run --once`\n\n", o.archiveTasks, o.videoBytes>>10)
	p("Each run starts a fresh simulator with %d tasks that run for a while from their creation (below) and then ", o.archiveTasks)
	p("end SUCCESS (90 %%; 30 %% of those are super-resolution tasks with a second video of 4/5 the size) or FAILURE, tracks them ")
	p("in a fresh catalog (`reelvault track -`), and starts every instance at once with `run --once`: api.poll_interval 1s, ")
	p("api.requests_per_second %.0f (not the limit), catalog.lease 1m. An instance exits when the catalog holds no ", o.rps)
	p("unfinished task and no pending video, whoever did the work; the wall time runs from the start to the last exit, ")
	p("and every video must be archived. \"10–90 %%\" is the rate between the moments 10 %% and 90 %% of the videos were ")
	p("archived (the driver counts them in the catalog every 50 ms): without start-up, most of the tasks' own run time ")
	p("and the exit. Polls/s is the simulator's count over the span from the first poll to the last.\n\n")
	p("\"CPU ms per video\" is reelvault's, Postgres's and the simulator's CPU time together over the videos archived ")
	p("(polls included); \"if the CPUs were ours\" is %d CPU-minutes divided by it: the rate the same work would reach on ", r.cpus)
	p("%d otherwise idle CPUs, if it were CPU-bound.\n\n", r.cpus)
	for i, set := range r.archive {
		if set.runFor == 0 {
			p("### 1%c. A backlog: every task finished when the instances start\n\n", 'a'+i)
			p("As after an outage: each task needs one poll, then its videos and its task.json.\n\n")
		} else {
			p("### 1%c. Tasks that finish %s after they are created\n\n", 'a'+i, set.runFor)
			p("The first poll of most tasks finds them IN_PROGRESS; the next, a poll interval later, finds them done.\n\n")
		}
		r.archiveTable(b, set.results)
	}
}

func (r *report) archiveTable(b *strings.Builder, archive map[trial][]archiveResult) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("| catalog, instances | videos | wall s | videos/min | videos/min, 10–90 %% | vs Postgres x1 | polls | polls/s | CPU s: reelvault | Postgres | simulator | busy | other | CPU ms per video | videos/min if the CPUs were ours |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	base := collect(archive[trial{"postgres", 1}], func(a archiveResult) float64 { return a.steadyPerMin }).median()
	for _, t := range r.trials {
		rs := archive[t]
		if len(rs) == 0 {
			continue
		}
		steady := collect(rs, func(a archiveResult) float64 { return a.steadyPerMin })
		vs := "n/a"
		if base > 0 {
			vs = fmt.Sprintf("%.2f x", steady.median()/base)
		}
		perVideo := collect(rs, func(a archiveResult) float64 {
			return 1000 * (a.cpu.reelvault + a.cpu.pg + a.cpu.sim) / float64(a.videos)
		})
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t,
			collect(rs, func(a archiveResult) float64 { return float64(a.videos) }).format(0),
			collect(rs, func(a archiveResult) float64 { return a.wall.Seconds() }).format(2),
			collect(rs, func(a archiveResult) float64 { return a.perMin }).format(0),
			steady.format(0), vs,
			collect(rs, func(a archiveResult) float64 { return float64(a.polls) }).format(0),
			collect(rs, func(a archiveResult) float64 { return a.pollsPerSec }).format(0),
			collect(rs, func(a archiveResult) float64 { return a.cpu.reelvault }).format(2),
			collect(rs, func(a archiveResult) float64 { return a.cpu.pg }).format(2),
			collect(rs, func(a archiveResult) float64 { return a.cpu.sim }).format(2),
			collect(rs, func(a archiveResult) float64 { return 100 * a.cpu.busy(r.cpus) }).format(0)+" %",
			collect(rs, func(a archiveResult) float64 { return 100 * a.cpu.other / (a.cpu.wall.Seconds() * float64(r.cpus)) }).format(0)+" %",
			perVideo.format(2), collect(perVideo, func(ms float64) float64 { return float64(r.cpus) * 60e3 / ms }).format(0))
	}
	p("\n")
}

func (r *report) pollSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	o := r.opts
	p("## 2. Poll capacity: %d unfinished tasks, each due every second\n\n", o.pollTasks)
	p("Each run starts a fresh simulator with %d tasks that stay IN_PROGRESS, tracks them in a fresh catalog and ", o.pollTasks)
	p("starts the instances as daemons (`run`): api.poll_interval 1s, api.requests_per_second %.0f. The schedule asks ", o.rps)
	p("for %d polls a second, more than the box answers, so the rate is what the fleet can do. After %s of warm-up ", o.pollTasks, o.warmup)
	p("the simulator's poll count is read twice, %s apart; CPU per poll is each party's CPU time in that window over ", o.window)
	p("the polls answered in it. \"Max in flight per task\" is the most polls of one task id the simulator saw at once ")
	p("(1: no two instances ever polled a task together). \"If the CPUs were ours\" is %d CPU-seconds over the three ", r.cpus)
	p("parties' CPU per poll: the rate on %d otherwise idle CPUs, if polling were CPU-bound.\n\n", r.cpus)
	p("\"Of demand\" is the rate over the %d polls a second the schedule asks for: near 100 %% the trial was ", o.pollTasks)
	p("limited by the workload, not by the fleet, and its capacity is higher than measured (rerun with a larger ")
	p("-poll-tasks).\n\n")
	p("| catalog, instances | polls/s | of demand | vs Postgres x1 | CPU ms per poll: reelvault | Postgres | simulator | all three | polls/s if the CPUs were ours | busy | other | max in flight per task |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	base := collect(r.polls[trial{"postgres", 1}], func(x pollResult) float64 { return x.pollsPerSec }).median()
	for _, t := range r.trials {
		rs := r.polls[t]
		if len(rs) == 0 {
			continue
		}
		rate := collect(rs, func(x pollResult) float64 { return x.pollsPerSec })
		vs := "n/a"
		if base > 0 {
			vs = fmt.Sprintf("%.2f x", rate.median()/base)
		}
		per := func(f func(cpuUse) float64) string {
			return collect(rs, func(x pollResult) float64 { return 1000 * f(x.cpu) / float64(max(x.polls, 1)) }).format(3)
		}
		all := collect(rs, func(x pollResult) float64 {
			return 1000 * (x.cpu.reelvault + x.cpu.pg + x.cpu.sim) / float64(max(x.polls, 1))
		})
		demand := collect(rs, func(x pollResult) float64 { return 100 * x.pollsPerSec / x.demand })
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, rate.format(0), demand.format(0)+" %", vs,
			per(func(u cpuUse) float64 { return u.reelvault }),
			per(func(u cpuUse) float64 { return u.pg }),
			per(func(u cpuUse) float64 { return u.sim }),
			all.format(3), collect(all, func(ms float64) float64 { return float64(r.cpus) * 1e3 / ms }).format(0),
			collect(rs, func(x pollResult) float64 { return 100 * x.cpu.busy(r.cpus) }).format(0)+" %",
			collect(rs, func(x pollResult) float64 { return 100 * x.cpu.other / (x.cpu.wall.Seconds() * float64(r.cpus)) }).format(0)+" %",
			collect(rs, func(x pollResult) float64 { return float64(x.maxPerTask) }).format(0))
	}
	p("\n")
}

func (r *report) budgetSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	x := r.budget
	p("## 3. Shared request budget: %d instances, api.requests_per_second %.0f\n\n", x.instances, x.rps)
	p("One run: %d instances as daemons on one Postgres catalog with %d tasks that stay IN_PROGRESS, each due every ", x.instances, x.tasks)
	p("second (the schedule asks for %d polls a second), for %s from their start. The budget is one token bucket in ", x.tasks, x.window)
	p("the catalog (catalog.SharedLimiter, burst 1), so together they may send at most %.0f polls a second plus the ", x.rps)
	p("burst. Figures from the simulator's `/_sim/poll-stats`, over every poll of the run, start-up included.\n\n")
	verdict := "within the budget"
	if float64(x.maxIn1s) > x.rps+1 {
		verdict = "**over the budget**"
	}
	p("| polls | average polls/s, first to last | most in any 1 s window | most in any 5 s window, per s | max in flight per task | verdict |\n")
	p("| --- | --- | --- | --- | --- | --- |\n")
	p("| %d | %.2f | %d | %.1f | %d | %s (limit %.0f + burst 1) |\n\n", x.polls, x.avgPerSec, x.maxIn1s,
		float64(x.maxIn5s)/5, x.maxPerTask, verdict, x.rps)
}

// reading puts the fleet's scaling into words, from this run's figures:
// whether one Postgres instance left CPU idle (its loop waits on round
// trips) or filled the CPUs, what more instances gained, and at what cost
// per poll.
func (r *report) reading(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## 4. Do more instances help on %d CPUs?\n\n", r.cpus)
	var pg []trial // the Postgres fleets, smallest first
	for _, t := range r.trials {
		if t.driver == "postgres" {
			pg = append(pg, t)
		}
	}
	if len(pg) < 2 || len(r.polls) == 0 {
		p("This needs the poll runs of at least two Postgres fleet sizes.\n\n")
		return
	}
	first, last := pg[0], pg[len(pg)-1]
	med := func(t trial, f func(pollResult) float64) float64 { return collect(r.polls[t], f).median() }
	rate := func(x pollResult) float64 { return x.pollsPerSec }
	perPoll := func(x pollResult) float64 {
		return 1000 * (x.cpu.reelvault + x.cpu.pg + x.cpu.sim) / float64(max(x.polls, 1))
	}
	pgPerPoll := func(x pollResult) float64 { return 1000 * x.cpu.pg / float64(max(x.polls, 1)) }
	ours := func(x pollResult) float64 { return (x.cpu.reelvault + x.cpu.pg + x.cpu.sim) / x.cpu.wall.Seconds() }
	idle := func(x pollResult) float64 { return 100 * (1 - x.cpu.busy(r.cpus)) }
	other := func(x pollResult) float64 { return 100 * x.cpu.other / (x.cpu.wall.Seconds() * float64(r.cpus)) }
	var ratios []string
	top := 0.0
	for _, t := range pg {
		top = max(top, med(t, rate))
		if t != first {
			ratios = append(ratios, fmt.Sprintf("%d instances %.2f x", t.instances, med(t, rate)/med(first, rate)))
		}
	}
	// enough is the smallest fleet within 5 % of the best rate: where the
	// rate stopped growing.
	enough := first
	for _, t := range pg {
		if med(t, rate) >= 0.95*top {
			enough = t
			break
		}
	}
	p("**Measured.** Polls/s against 1 Postgres instance: %s", strings.Join(ratios, ", "))
	if sq := r.polls[trial{"sqlite", 1}]; len(sq) > 0 {
		p("; 1 SQLite instance %.2f x", med(trial{"sqlite", 1}, rate)/med(first, rate))
	}
	p(". ")
	for _, set := range r.archive {
		steady := func(t trial) float64 {
			return collect(set.results[t], func(x archiveResult) float64 { return x.steadyPerMin }).median()
		}
		var ar []string
		for _, t := range pg[1:] {
			ar = append(ar, fmt.Sprintf("%d instances %.2f x", t.instances, steady(t)/steady(first)))
		}
		if len(set.results[trial{"sqlite", 1}]) > 0 {
			ar = append(ar, fmt.Sprintf("1 SQLite instance %.2f x", steady(trial{"sqlite", 1})/steady(first)))
		}
		what := "tasks finishing " + set.runFor.String() + " after creation"
		if set.runFor == 0 {
			what = "the backlog"
		}
		p("Videos/min (10–90 %%), %s: %s. ", what, strings.Join(ar, ", "))
	}
	p("\n\n**Where the CPU went** (poll runs, medians). With %s, reelvault, Postgres and the simulator used %.2f ",
		fleetName(first), med(first, ours))
	p("of the %d CPUs, %.0f %% of the machine stood idle and other engineers' work took %.0f %%; with %s they used ",
		r.cpus, med(first, idle), med(first, other), fleetName(last))
	p("%.2f CPUs, idle %.0f %%, other %.0f %%. CPU per poll, all three: %.3f ms with one instance, %.3f ms with %d ",
		med(last, ours), med(last, idle), med(last, other), med(first, perPoll), med(last, perPoll), last.instances)
	p("(Postgres alone %.3f to %.3f ms).\n\n", med(first, pgPerPoll), med(last, pgPerPoll))

	p("**Why.** ")
	cost := "the work per poll stays about the same"
	switch d := med(last, perPoll)/med(first, perPoll) - 1; {
	case d > 0.05:
		cost = fmt.Sprintf("each one more adds claims and connections that make every poll dearer (%+.0f %% CPU per poll with %d)", 100*d, last.instances)
	case d < -0.05:
		cost = fmt.Sprintf("the work per poll even gets a little cheaper once the CPUs are busy (%+.0f %% with %d: fewer idle wake-ups)", 100*d, last.instances)
	}
	if med(first, idle) >= 10 {
		p("One instance on Postgres leaves CPU idle because its poll loop waits on Postgres one round trip at a ")
		p("time (the batch's claim, an UPDATE of the shared request budget before each poll is dispatched, the ")
		p("batch's record), so a second instance overlaps those waits and puts the idle CPU to work; beyond that the ")
		p("instances only share the same %d CPUs with each other, the simulator and Postgres, and %s, so the rate ", r.cpus, cost)
		p("stops growing once the CPUs are full (here at %s, within 5 %% of the best).", fleetName(enough))
	} else {
		p("Every instance runs on the same %d CPUs as the others, the simulator and Postgres, and one instance ", r.cpus)
		p("already keeps them busy, so more instances only divide the same CPU time among more processes, and %s. ", cost)
		p("What the measured rate gained came from the scheduler giving our processes a larger share of a contended ")
		p("machine (other %.0f %% to %.0f %%), not from more work per CPU.", med(first, other), med(last, other))
	}
	p(" On one box, more instances buy availability (a killed instance's leases pass to the others after ")
	p("catalog.lease) rather than throughput; on machines of their own each brings its CPUs, and the limit moves ")
	p("to the one Postgres, which spent %.3f ms of CPU per poll here.\n\n", med(last, pgPerPoll))
}

// fleetName is a Postgres trial in a sentence: "3 Postgres instances".
func fleetName(t trial) string {
	if t.instances == 1 {
		return "1 Postgres instance"
	}
	return fmt.Sprintf("%d Postgres instances", t.instances)
}

// catalogTargets are the limits of the brief, per benchmark and figure.
var catalogTargets = map[string]struct {
	unit  string  // "" = ns/op, else a b.ReportMetric unit
	limit float64 // ms
	what  string
}{
	"BenchmarkPostgresListTwoFilters":        {"", 50, "`List`, Filter{Model, Status, Limit: 50}"},
	"BenchmarkPostgresListSinceArchiveState": {"", 50, "`List`, Filter{Since: 7 days, ArchiveState: incomplete, Limit: 50}"},
	"BenchmarkPostgresStatsModelDay":         {"", 2000, "`Stats(ctx, []string{\"model\", \"day\"})`"},
	"BenchmarkPostgresClaimPolls":            {"claim-ms/op", 10, "`ClaimPolls`, limit 64, ~2,500 of 5,000 live tasks due; then released"},
	"BenchmarkPostgresClaimAssets":           {"claim-ms/op", 10, "`ClaimAssets`, limit 4, of ~3,200 pending videos; then released"},
	"BenchmarkPostgresClaimSidecars":         {"claim-ms/op", 10, "`ClaimSidecars`, limit 4, of ~180 tasks awaiting task.json; then released"},
}

func (r *report) catalogSection(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## 5. Catalog queries on Postgres at 1,000,000 tasks\n\n")
	p("`go test -run '^$' -bench '^BenchmarkPostgres' -benchtime %s -count %d -v ./catalog` ", r.opts.benchtime, r.opts.runs)
	p("(catalog/postgres_bench_test.go) on the same server: a catalog of 1,000,000 tasks generated in SQL ")
	p("(88 %% SUCCESS, 9 %% FAILURE, 0.5 %% live, 1.5 %% given up or not found; ~1,056,000 videos, 2 %% expired, 0.3 %% ")
	p("pending; ~1 KiB raw reply each; tables 1.6 GB + 0.9 GB with indexes, so most reads come from the OS page ")
	p("cache through 128 MB of shared_buffers), vacuumed and analysed once, then reused. Time per call as the ")
	p("catalog package sees it (pgx over loopback, rows scanned into Go values); for the claims, the claim and the ")
	p("release of what it claimed are timed apart. The plan is the last run's EXPLAIN (ANALYZE, BUFFERS), whose ")
	p("execution time is the server's alone.\n\n")
	p("| benchmark | what | ms per call | claim ms | release ms | limit | scans in the plan | server ms (EXPLAIN) |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range r.catalog {
		tg := catalogTargets[c.name]
		ms := make(series, len(c.nsPerOp))
		for i, v := range c.nsPerOp {
			ms[i] = v / 1e6
		}
		fig := ms
		if tg.unit != "" {
			fig = c.extra[tg.unit]
		}
		limit := fmt.Sprintf("%.0f ms", tg.limit)
		switch {
		case tg.limit == 0:
			limit = "-"
		case fig.median() > tg.limit:
			limit += ": **over**"
		case fig.max() > tg.limit:
			limit += ": over in the slowest run"
		default:
			limit += ": ok"
		}
		var scans, exec []string
		for _, pl := range c.plans {
			s := pl.name + ": " + strings.Join(pl.nodes, ", ")
			if pl.externalSort {
				s += "; sort spills to disk"
			}
			scans = append(scans, s)
			exec = append(exec, fmt.Sprintf("%.1f", pl.execMS))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(c.name, "BenchmarkPostgres"), tg.what,
			ms.format(2), c.extra["claim-ms/op"].format(2), c.extra["release-ms/op"].format(2), limit,
			strings.Join(scans, "<br>"), strings.Join(exec, " + "))
	}
	p("\nWhat the plans mean, and what to do about the slow ones: [bench/README.md](README.md#high-availability-a-fleet-on-one-postgres-catalog).\n\n")
	p("<details><summary>The plans (EXPLAIN (ANALYZE, BUFFERS), last run)</summary>\n\n")
	for _, c := range r.catalog {
		for _, pl := range c.plans {
			p("%s, %s:\n\n```\n", strings.TrimPrefix(c.name, "BenchmarkPostgres"), pl.name)
			for _, l := range pl.lines {
				if len(l) > 160 {
					l = l[:157] + "..."
				}
				p("%s\n", l)
			}
			p("```\n\n")
		}
	}
	p("</details>\n")
}
