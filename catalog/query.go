package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

const taskColumns = `task_id, status, archive_state, action, model, duration, ratio, resolution, super_resolution,
	framespersecond, generate_audio, seed, completion_tokens, total_tokens, super_resolution_tokens, submit_time,
	start_time, finish_time, fail_reason, progress, request_id, upstream_id, upstream_status, tracked_at, polls,
	last_error, task_json_key, archived_at, settled_at, raw_reply, prompt, request_params, key_fingerprint, source`

// listColumns and listAssetColumns leave out what no listing prints (the
// raw reply, the signed URL): each column read costs a conversion per row.
var (
	listColumns      = strings.Replace(taskColumns, "raw_reply", "''", 1)
	listAssetColumns = strings.NewReplacer("source_url", "''", "location", "''").Replace(assetColumns)
)

// taskRow holds the scan destinations of one row of taskColumns.
type taskRow struct {
	t           Task
	tracked     int64
	archived    sql.NullInt64
	settled     sql.NullInt64
	raw, params string
}

func (r *taskRow) dest() []any {
	t := &r.t
	return []any{&t.TaskID, &t.Status, &t.ArchiveState, &t.Action, &t.Model, &t.Duration, &t.Ratio, &t.Resolution,
		&t.SuperResolution, &t.FramesPerSecond, &t.GenerateAudio, &t.Seed, &t.CompletionTokens, &t.TotalTokens,
		&t.SuperResolutionTokens, &t.SubmitTime, &t.StartTime, &t.FinishTime, &t.FailReason, &t.Progress,
		&t.RequestID, &t.UpstreamID, &t.UpstreamStatus, &r.tracked, &t.Polls, &t.LastError, &t.TaskJSONKey,
		&r.archived, &r.settled, &r.raw, &t.Prompt, &r.params, &t.KeyFingerprint, &t.Source}
}

// task returns the scanned task, sharing nothing with r.
func (r *taskRow) task() Task {
	t := r.t
	t.RequestParams, t.Raw = nil, nil
	if r.params != "" {
		t.RequestParams = json.RawMessage(r.params)
	}
	t.TrackedAt = timeMS(r.tracked)
	t.ArchivedAt = timePtrMS(r.archived)
	t.SettledAt = timePtrMS(r.settled)
	if r.raw != "" {
		t.Raw = []byte(r.raw)
	}
	t.Assets = []Asset{}
	return t
}

// minTimeMS and maxTimeMS bound the times the catalog hands out: JSON (RFC
// 3339) has four-digit years only, so json.Marshal fails on a time outside
// years 0 to 9999, and one such row (an older archiver stored the expiry of
// a reply that claimed year 3170843) broke every listing, export and task
// page. Reads clamp into the range, so a row keeps being listed, with the
// nearest time that can be written; writes clamp too (storedMS).
var (
	minTimeMS = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxTimeMS = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

// timeMS is the time of a millisecond column, clamped to what JSON can hold.
func timeMS(v int64) time.Time {
	return time.UnixMilli(min(max(v, minTimeMS), maxTimeMS)).UTC()
}

// timePtrMS is timeMS for a column where NULL or 0 means "never".
func timePtrMS(v sql.NullInt64) *time.Time {
	if !v.Valid || v.Int64 == 0 {
		return nil
	}
	t := timeMS(v.Int64)
	return &t
}

// storedMS is ms for a time that came from outside (a gateway reply): it
// clamps as timeMS does, so no time is stored that reads back differently,
// and no time beyond int64 milliseconds overflows.
func storedMS(t time.Time) int64 {
	switch {
	case t.Before(time.UnixMilli(minTimeMS)):
		return minTimeMS
	case t.After(time.UnixMilli(maxTimeMS)):
		return maxTimeMS
	}
	return t.UnixMilli()
}

func scanTask(s interface{ Scan(...any) error }) (Task, error) {
	var r taskRow
	err := s.Scan(r.dest()...)
	return r.task(), err
}

// Get returns one task with its assets, or ErrNotFound.
func (c *DB) Get(ctx context.Context, id string) (Task, error) {
	t, err := scanTask(c.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE task_id=?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Task{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Task{}, fmt.Errorf("read task %s: %w", id, err)
	}
	tasks := []Task{t}
	if err := c.attachAssets(ctx, tasks); err != nil {
		return Task{}, err
	}
	return tasks[0], nil
}

// List returns tasks matching f with their assets, in f's order. It holds
// them all in memory; Tasks streams instead.
func (c *DB) List(ctx context.Context, f Filter) ([]Task, error) {
	tasks := []Task{}
	for t, err := range c.Tasks(ctx, f) {
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// batchSize is how many tasks Tasks reads before loading their assets with
// one query: enough to amortise the query, small enough for constant memory.
const batchSize = 500

// Tasks yields the tasks matching f with their assets, in f's order,
// reading batchSize tasks at a time: memory stays constant however many
// tasks match. Tasks carry no Raw reply (Get has it). An error ends the
// sequence.
func (c *DB) Tasks(ctx context.Context, f Filter) iter.Seq2[Task, error] {
	return func(yield func(Task, error) bool) {
		q, args, err := f.query(c.db.d, listColumns)
		if err != nil {
			yield(Task{}, err)
			return
		}
		conn, err := c.readConn(ctx)
		if err != nil {
			yield(Task{}, err)
			return
		}
		defer conn.Close()
		rows, err := conn.QueryContext(ctx, q, args...)
		if err != nil {
			yield(Task{}, fmt.Errorf("list tasks: %w", err))
			return
		}
		defer rows.Close()
		// SQLite reads the assets on the cursor's connection; a Postgres
		// connection serves one query at a time, and the pool has others.
		var assets querier = conn
		if c.db.d.postgres {
			assets = c.db
		}
		batch := make([]Task, 0, batchSize)
		flush := func() bool {
			if err := attachAssets(ctx, assets, listAssetColumns, batch); err != nil {
				yield(Task{}, err)
				return false
			}
			for _, t := range batch {
				if !yield(t, nil) {
					return false
				}
			}
			batch = batch[:0]
			return true
		}
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				yield(Task{}, fmt.Errorf("list tasks: %w", err))
				return
			}
			batch = append(batch, t)
			if len(batch) == batchSize && !flush() {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Task{}, fmt.Errorf("list tasks: %w", err))
			return
		}
		flush()
	}
}

// readMmapSize lets a long read map the catalog file instead of reading it
// page by page through system calls: the asset lookups of an export hop
// around the file, and each miss of SQLite's small page cache was a pread.
const readMmapSize = 1 << 31

// readConn returns a pooled connection set up for long reads. One
// connection serves a listing's task cursor and its asset lookups.
func (c *DB) readConn(ctx context.Context) (sqlConn, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return sqlConn{}, fmt.Errorf("list tasks: %w", err)
	}
	if c.db.d.postgres {
		return conn, nil
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA mmap_size = %d`, int64(readMmapSize))); err != nil {
		conn.Close()
		return sqlConn{}, fmt.Errorf("list tasks: %w", err)
	}
	return conn, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// attachAssets loads the assets of tasks in one query per 500 tasks.
func (c *DB) attachAssets(ctx context.Context, tasks []Task) error {
	return attachAssets(ctx, c.db, assetColumns, tasks)
}

func attachAssets(ctx context.Context, db querier, cols string, tasks []Task) error {
	index := make(map[string]int, len(tasks))
	for i := range tasks {
		index[tasks[i].TaskID] = i
	}
	for start := 0; start < len(tasks); start += 500 {
		end := min(start+500, len(tasks))
		args := make([]any, 0, end-start)
		for _, t := range tasks[start:end] {
			args = append(args, t.TaskID)
		}
		q := `SELECT ` + cols + ` FROM assets WHERE task_id IN (?` + strings.Repeat(",?", len(args)-1) + `) ORDER BY task_id, kind DESC`
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read assets: %w", err)
		}
		for rows.Next() {
			a, err := scanAsset(rows)
			if err != nil {
				rows.Close()
				return err
			}
			i := index[a.TaskID]
			tasks[i].Assets = append(tasks[i].Assets, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
