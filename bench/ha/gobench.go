package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// catalogBench is one benchmark of catalog/postgres_bench_test.go,
// measured o.runs times, with the last EXPLAIN ANALYZE of each of its
// queries.
type catalogBench struct {
	name    string
	nsPerOp series
	extra   map[string]series // b.ReportMetric units, e.g. claim-ms/op
	plans   []queryPlan
}

// queryPlan is one EXPLAIN (ANALYZE, BUFFERS) the benchmark logged.
type queryPlan struct {
	name         string
	lines        []string
	nodes        []string // scans, in plan order: "Index Scan using tasks_due on tasks"
	execMS       float64
	externalSort bool
}

// catalogBenchmarks runs the Postgres catalog benchmarks on the server of
// REELVAULT_TEST_PG_URL and parses their results and plans.
func catalogBenchmarks(ctx context.Context, o options) ([]*catalogBench, error) {
	cmd := exec.CommandContext(ctx, o.goCmd, "test", "-run", "^$", "-bench", "^BenchmarkPostgres",
		"-benchtime", o.benchtime, "-count", strconv.Itoa(o.runs), "-v", "-timeout", "60m", "./catalog")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tailString(string(out), 4000))
	}
	benches := parseCatalogBench(string(out))
	if len(benches) == 0 {
		return nil, fmt.Errorf("no benchmark results in the output:\n%s", tailString(string(out), 4000))
	}
	return benches, nil
}

var (
	benchHeader = regexp.MustCompile(`^(Benchmark\w+)$`)
	benchResult = regexp.MustCompile(`^(Benchmark\w+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	explainHead = regexp.MustCompile(`^\s+\S+_test\.go:\d+: EXPLAIN ANALYZE (.+):$`)
	planNode    = regexp.MustCompile(`(?:Parallel )?(?:Index Only Scan|Index Scan Backward|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)(?: using \S+)? on \S+`)
	execTime    = regexp.MustCompile(`Execution Time: ([\d.]+) ms`)
)

func parseCatalogBench(out string) []*catalogBench {
	var benches []*catalogBench
	byName := map[string]*catalogBench{}
	get := func(name string) *catalogBench {
		b := byName[name]
		if b == nil {
			b = &catalogBench{name: name, extra: map[string]series{}}
			byName[name] = b
			benches = append(benches, b)
		}
		return b
	}
	var cur *catalogBench
	var plan *queryPlan
	endPlan := func() {
		if plan == nil || cur == nil {
			return
		}
		for i := range cur.plans {
			if cur.plans[i].name == plan.name {
				cur.plans[i] = *plan // the last run's plan, on warm caches
				plan = nil
				return
			}
		}
		cur.plans = append(cur.plans, *plan)
		plan = nil
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if plan != nil && strings.HasPrefix(line, "        ") {
			plan.lines = append(plan.lines, strings.TrimPrefix(line, "            "))
			for _, n := range planNode.FindAllString(line, -1) {
				if !containsString(plan.nodes, n) {
					plan.nodes = append(plan.nodes, n)
				}
			}
			if m := execTime.FindStringSubmatch(line); m != nil {
				plan.execMS, _ = strconv.ParseFloat(m[1], 64)
			}
			if strings.Contains(line, "Sort Method: external") {
				plan.externalSort = true
			}
			continue
		}
		endPlan()
		switch {
		case benchHeader.MatchString(line):
			cur = get(line)
		case explainHead.MatchString(line):
			plan = &queryPlan{name: explainHead.FindStringSubmatch(line)[1]}
		case benchResult.MatchString(line):
			m := benchResult.FindStringSubmatch(line)
			cur = get(m[1])
			f := strings.Fields(m[2])
			for i := 0; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				if f[i+1] == "ns/op" {
					cur.nsPerOp = append(cur.nsPerOp, v)
				} else {
					cur.extra[f[i+1]] = append(cur.extra[f[i+1]], v)
				}
			}
		}
	}
	endPlan()
	return benches
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
