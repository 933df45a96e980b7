package catalog

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTimesOutsideJSONRangeStillList stores, with raw SQL as an older
// archiver did through a reply claiming year 3170843, times that JSON cannot
// hold: every listing, export and Get must still show every task, with those
// times clamped to the range JSON can write.
func TestTimesOutsideJSONRangeStillList(t *testing.T) {
	ctx := t.Context()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	ids := []string{"asyntask_ok", "asyntask_far", "asyntask_max", "asyntask_min"}
	if _, err := c.Track(ctx, ids, now); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		a := Asset{Kind: KindResult, SourceURL: "https://x/" + id, ExpiresAt: now.Add(24 * time.Hour)}
		if err := c.Finish(ctx, Task{TaskID: id, Status: "SUCCESS", FinishTime: now.Unix()}, []Asset{a}, now); err != nil {
			t.Fatal(err)
		}
	}
	year3170843 := time.Unix(99999999999999, 0).Add(24 * time.Hour).UnixMilli()
	for id, v := range map[string]int64{"asyntask_far": year3170843, "asyntask_max": math.MaxInt64, "asyntask_min": math.MinInt64} {
		if _, err := c.db.ExecContext(ctx, `UPDATE assets SET expires_at=?, archived_at=? WHERE task_id=?`, v, v, id); err != nil {
			t.Fatal(err)
		}
		if _, err := c.db.ExecContext(ctx, `UPDATE tasks SET tracked_at=?, archived_at=? WHERE task_id=?`, v, v, id); err != nil {
			t.Fatal(err)
		}
	}

	for _, id := range ids {
		task, err := c.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if _, err := json.Marshal(task); err != nil {
			t.Errorf("%s: encode: %v", id, err)
		}
	}
	far, _ := c.Get(ctx, "asyntask_far")
	if got, want := far.Assets[0].ExpiresAt, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC); !got.Equal(want) {
		t.Errorf("expiry in year 3170843 reads back as %v, want %v", got, want)
	}
	for _, format := range Formats {
		var listed bytes.Buffer
		tw, err := NewTaskWriter(&listed, format)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for task, err := range c.Tasks(ctx, Filter{}) {
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if err := tw.Write(task); err != nil {
				t.Errorf("list --format %s: %s: %v", format, task.TaskID, err)
			}
			n++
		}
		if err := tw.Close(); err != nil || n != len(ids) {
			t.Errorf("list --format %s: %d tasks, %v; want %d", format, n, err, len(ids))
		}
		if format == "csv" {
			continue
		}
		var exported bytes.Buffer
		if n, err := c.Export(ctx, &exported, "jsonl"); err != nil || n != len(ids) {
			t.Errorf("export --format jsonl: %d tasks, %v; want %d", n, err, len(ids))
		}
		for _, id := range ids {
			if !strings.Contains(exported.String(), id) {
				t.Errorf("export lacks %s:\n%s", id, exported.String())
			}
		}
	}
}
