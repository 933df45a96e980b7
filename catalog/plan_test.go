package catalog

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// queryPlan is SQLite's EXPLAIN QUERY PLAN of q, one step per line.
func queryPlan(t *testing.T, c *DB, q string, args ...any) string {
	t.Helper()
	rows, err := c.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// TestQueryPlansUseIndexes pins the plans the indexes of migration 3 were
// chosen for: a listing walks an index in the requested order (so LIMIT 50
// reads about 50 rows, with no sort of every match), stats aggregates in
// index order, and export scans the table once.
func TestQueryPlansUseIndexes(t *testing.T) {
	c, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	week := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		filter Filter
		index  string // the index the plan must use
	}{
		{"default order", Filter{Limit: 50}, "tasks_finish_id"},
		{"model and status", Filter{Model: "m", Status: "SUCCESS", Limit: 50}, "finish"},
		{"model", Filter{Model: "m", Limit: 50}, "tasks_model_finish"},
		{"status", Filter{Status: "FAILURE", Limit: 50}, "tasks_status_finish"},
		{"archive state since", Filter{ArchiveState: "incomplete", Since: week, Limit: 50}, "finish"},
		{"since until", Filter{Since: week, Until: week.AddDate(0, 0, 7), Limit: 50}, "tasks_finish_id"},
		{"action and ratio", Filter{Action: "generate", Ratio: "16:9", Limit: 50}, "tasks_finish_id"},
		{"prompt", Filter{PromptWords: []string{"cat"}, Limit: 50}, "tasks_finish_id"},
		{"ascending", Filter{Sort: "finish_time", Limit: 50}, "tasks_finish_id"},
		{"submit time", Filter{Sort: "-submit_time", Limit: 50}, "tasks_submit_id"},
		{"size", Filter{Sort: "-size", Limit: 50}, "tasks_bytes_id"},
		{"model order", Filter{Sort: "model", Limit: 50}, "tasks_model_finish"},
		{"task id", Filter{Sort: "task_id", Limit: 50}, "sqlite_autoindex_tasks_1"},
	} {
		q, args, err := tt.filter.query(dialect{}, listColumns)
		if err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, c, q, args...)
		t.Logf("list %s: %s", tt.name, plan)
		if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, tt.index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("list %s: plan\n%swant it to walk index %s, with no sort", tt.name, plan, tt.index)
		}
	}

	for _, by := range [][]string{nil, {"model", "day"}, {"month"}, {"resolution", "action"}} {
		q, _ := statsQuery(by)
		plan := queryPlan(t, c, q)
		t.Logf("stats --by %v: %s", by, plan)
		if !strings.Contains(plan, "tasks_stats") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("stats --by %v: plan\n%swant a pass over index tasks_stats, with no sort", by, plan)
		}
	}

	plan := queryPlan(t, c, exportQuery(dialect{}, "csv"), 1, 1+exportChunk)
	t.Logf("export: %s", plan)
	if !strings.Contains(plan, "SEARCH t USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") || !strings.Contains(plan, "SEARCH a USING INDEX sqlite_autoindex_assets_1 (task_id=?)") ||
		strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("export: plan\n%swant a range of tasks in table order, assets found by primary key, no sort", plan)
	}
	assets := `SELECT ` + listAssetColumns + ` FROM assets WHERE task_id IN (?,?) ORDER BY task_id, kind DESC`
	if plan := queryPlan(t, c, assets, "a", "b"); !strings.Contains(plan, "SEARCH assets USING INDEX sqlite_autoindex_assets_1 (task_id=?)") {
		t.Errorf("assets of a batch: plan\n%swant a search of the primary key", plan)
	}
}

// The poller's and the archiver's hot queries must use their indexes, or
// 100,000 tracked tasks turn every tick into a table scan.
func TestHotQueriesUseIndexes(t *testing.T) {
	c, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for q, index := range map[string]string{
		`SELECT task_id FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= 1 ORDER BY next_poll_at LIMIT 64`: "tasks_due",
		`SELECT task_id FROM assets WHERE state='pending' AND next_attempt_at <= 1 ORDER BY expires_at LIMIT 8`:         "assets_pending",
	} {
		if plan := queryPlan(t, c, q); !strings.Contains(plan, index) {
			t.Errorf("plan of %q:\n%s\nwant it to use %s", q, plan, index)
		}
	}
}
