package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const taskColumns = `task_id, status, archive_state, action, model, duration, ratio, resolution, super_resolution,
	framespersecond, generate_audio, seed, completion_tokens, total_tokens, super_resolution_tokens, submit_time,
	start_time, finish_time, fail_reason, progress, request_id, upstream_id, upstream_status, tracked_at, polls,
	last_error, task_json_key, archived_at, raw_reply, prompt, request_params, key_fingerprint, source`

func scanTask(s interface{ Scan(...any) error }) (Task, error) {
	var t Task
	var tracked int64
	var archived sql.NullInt64
	var raw, params string
	err := s.Scan(&t.TaskID, &t.Status, &t.ArchiveState, &t.Action, &t.Model, &t.Duration, &t.Ratio, &t.Resolution,
		&t.SuperResolution, &t.FramesPerSecond, &t.GenerateAudio, &t.Seed, &t.CompletionTokens, &t.TotalTokens,
		&t.SuperResolutionTokens, &t.SubmitTime, &t.StartTime, &t.FinishTime, &t.FailReason, &t.Progress,
		&t.RequestID, &t.UpstreamID, &t.UpstreamStatus, &tracked, &t.Polls, &t.LastError, &t.TaskJSONKey,
		&archived, &raw, &t.Prompt, &params, &t.KeyFingerprint, &t.Source)
	if params != "" {
		t.RequestParams = json.RawMessage(params)
	}
	t.TrackedAt = time.UnixMilli(tracked).UTC()
	t.ArchivedAt = fromMS(archived)
	if raw != "" {
		t.Raw = []byte(raw)
	}
	t.Assets = []Asset{}
	return t, err
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

// Filter narrows List. Zero values match everything.
type Filter struct {
	Status       string
	ArchiveState string
	Model        string
	Limit        int // 0 = no limit
	Offset       int
}

// List returns tasks matching f, most recently finished first, with assets.
func (c *DB) List(ctx context.Context, f Filter) ([]Task, error) {
	var where []string
	var args []any
	for _, cond := range []struct {
		col, val string
	}{{"status", f.Status}, {"archive_state", f.ArchiveState}, {"model", f.Model}} {
		if cond.val != "" {
			where = append(where, cond.col+" = ?")
			args = append(args, cond.val)
		}
	}
	q := `SELECT ` + taskColumns + ` FROM tasks`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY finish_time DESC, task_id`
	if f.Limit > 0 || f.Offset > 0 {
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		q += ` LIMIT ? OFFSET ?`
		args = append(args, limit, f.Offset)
	}
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	tasks := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return tasks, c.attachAssets(ctx, tasks)
}

// attachAssets loads the assets of tasks in one query per 500 tasks.
func (c *DB) attachAssets(ctx context.Context, tasks []Task) error {
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
		q := `SELECT ` + assetColumns + ` FROM assets WHERE task_id IN (?` + strings.Repeat(",?", len(args)-1) + `) ORDER BY task_id, kind DESC`
		rows, err := c.db.QueryContext(ctx, q, args...)
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
