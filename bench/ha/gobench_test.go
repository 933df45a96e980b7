package main

import (
	"slices"
	"testing"
)

// The shape of `go test -bench -v` output: logs of a run come before its
// result line, and the benchmark's name is printed once before its first run.
const benchOutput = `goos: linux
BenchmarkPostgresClaimPolls
    postgres_bench_test.go:440: EXPLAIN ANALYZE ClaimPolls:
            Update on tasks  (cost=53.27..154.28 rows=12 width=112) (actual time=1.353..14.003 rows=64 loops=1)
                                            ->  Index Scan using tasks_due on tasks tasks_1  (cost=0.28..52.58 rows=12 width=56)
                    ->  Index Scan using tasks_pkey on tasks  (cost=0.42..8.44 rows=1 width=48)
            Execution Time: 14.092 ms
BenchmarkPostgresClaimPolls-2              	     100	  44010291 ns/op	        17.98 claim-ms/op	        26.03 release-ms/op
    postgres_bench_test.go:440: EXPLAIN ANALYZE ClaimPolls:
            Update on tasks  (cost=53.27..154.28 rows=12 width=112) (actual time=1.353..8.7 rows=64 loops=1)
                                            ->  Index Scan using tasks_due on tasks tasks_1  (cost=0.28..52.58 rows=12 width=56)
            Execution Time: 8.705 ms
BenchmarkPostgresClaimPolls-2              	     150	  14926659 ns/op	         7.566 claim-ms/op	         7.360 release-ms/op
BenchmarkPostgresStatsModelDay
    postgres_bench_test.go:367: EXPLAIN ANALYZE stats --by model,day:
                          ->  Sort  (cost=264040.65..265082.31 rows=416667 width=88)
                                Sort Method: external merge  Disk: 34848kB
                                ->  Parallel Seq Scan on tasks  (cost=0.00..205208.33 rows=416667 width=88)
            Execution Time: 2039.722 ms
BenchmarkPostgresStatsModelDay-2           	       2	1421738114 ns/op
PASS
`

func TestParseCatalogBench(t *testing.T) {
	got := parseCatalogBench(benchOutput)
	if len(got) != 2 {
		t.Fatalf("got %d benchmarks, want 2", len(got))
	}
	claim, stats := got[0], got[1]
	if claim.name != "BenchmarkPostgresClaimPolls" || !slices.Equal(claim.nsPerOp, series{44010291, 14926659}) ||
		!slices.Equal(claim.extra["claim-ms/op"], series{17.98, 7.566}) {
		t.Errorf("claim: got %s %v %v", claim.name, claim.nsPerOp, claim.extra)
	}
	if len(claim.plans) != 1 || claim.plans[0].execMS != 8.705 || len(claim.plans[0].lines) != 3 {
		t.Errorf("claim plans: got %+v, want the last run's only", claim.plans)
	}
	if want := []string{"Index Scan using tasks_due on tasks"}; !slices.Equal(claim.plans[0].nodes, want) {
		t.Errorf("claim scans: got %q, want %q", claim.plans[0].nodes, want)
	}
	if len(stats.plans) != 1 || !stats.plans[0].externalSort || stats.plans[0].nodes[0] != "Parallel Seq Scan on tasks" {
		t.Errorf("stats plan: got %+v", stats.plans)
	}
}
