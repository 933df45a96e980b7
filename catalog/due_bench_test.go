package catalog_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// dueBenchTasks is the catalog size the poll-scale target is set at.
const dueBenchTasks = 100_000

// openDueBench returns a catalog holding n tracked, unfinished tasks whose
// next polls are spread over the hour before t0 (nine tenths) and the hour
// after, as a poller that has been running for a while leaves them.
func openDueBench(b *testing.B, n int) *catalog.DB {
	b.Helper()
	db, err := catalog.Open(b.Context(), filepath.Join(b.TempDir(), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	// Track sets next_poll_at to its now: tracking in chunks at successive
	// instants spreads the schedule. Nine tenths are due at t0.
	const chunk = 1000
	ids := make([]string, 0, chunk)
	for start := 0; start < n; start += chunk {
		ids = ids[:0]
		for i := start; i < min(start+chunk, n); i++ {
			ids = append(ids, benchTaskID(i))
		}
		at := t0.Add(-time.Hour + time.Duration(start)*time.Hour/time.Duration(n))
		if start >= n*9/10 {
			at = at.Add(time.Hour)
		}
		if _, err := db.Track(b.Context(), ids, at); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func benchTaskID(i int) string { return fmt.Sprintf("asyntask_bench%023d", i) }

// BenchmarkDuePolls100k is the poller's pick of the next batch (64, as
// archiver.pollLoop asks) among 100,000 live tasks.
func BenchmarkDuePolls100k(b *testing.B) {
	db := openDueBench(b, dueBenchTasks)
	b.ReportAllocs()
	for b.Loop() {
		due, err := db.DuePolls(b.Context(), t0, 64)
		if err != nil || len(due) != 64 {
			b.Fatalf("DuePolls: %d tasks, %v", len(due), err)
		}
	}
}

// BenchmarkProgress100k is the catalog write of one IN_PROGRESS poll among
// 100,000 live tasks: the other catalog cost of every poll.
func BenchmarkProgress100k(b *testing.B) {
	db := openDueBench(b, dueBenchTasks)
	raw := []byte(`{"code":"success","data":{"task_id":"x","status":"IN_PROGRESS","progress":"63%"}}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := catalog.Task{TaskID: benchTaskID(i % dueBenchTasks), Status: "IN_PROGRESS", Progress: "63%", Raw: raw}
		if err := db.Progress(b.Context(), t, t0.Add(time.Hour), t0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkNextPoll100k is the poller's question when nothing is due: when
// is the next poll.
func BenchmarkNextPoll100k(b *testing.B) {
	db := openDueBench(b, dueBenchTasks)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := db.NextPoll(b.Context()); err != nil || !ok {
			b.Fatalf("NextPoll: %v %v", ok, err)
		}
	}
}
