package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Task statuses reelvault adds to the gateway's own words.
const (
	StatusTracked  = "TRACKED"   // tracked, not yet polled
	StatusNotFound = "not_found" // the gateway denied the task three times
	StatusGivenUp  = "given_up"  // not terminal after api.give_up_after
)

// Archive states of a task.
const (
	ArchiveNone       = ""           // nothing to archive (not finished, or failed)
	ArchivePending    = "pending"    // videos or task.json not stored yet
	ArchiveArchived   = "archived"   // every video and task.json stored and verified
	ArchiveIncomplete = "incomplete" // a video was lost (expired or refused), or task.json could not be stored (see last_error)
)

// Task is one catalog row with its assets. The JSON field names are the
// stable output of `catalog list --format json`: fields are only added.
//
// ArchivedAt is when the task became archived (every video and its
// task.json stored), nil while it is not; SettledAt is when its archive
// state became final, archived or incomplete. An incomplete task (a video
// lost, or task.json refused) has a SettledAt and no ArchivedAt.
type Task struct {
	TaskID                string     `json:"task_id"`
	Status                string     `json:"status"`
	ArchiveState          string     `json:"archive_state"`
	Action                string     `json:"action"`
	Model                 string     `json:"model"`
	Duration              float64    `json:"duration"`
	Ratio                 string     `json:"ratio"`
	Resolution            string     `json:"resolution"`
	SuperResolution       string     `json:"super_resolution"`
	FramesPerSecond       float64    `json:"framespersecond"`
	GenerateAudio         bool       `json:"generate_audio"`
	Seed                  int64      `json:"seed"`
	CompletionTokens      int64      `json:"completion_tokens"`
	TotalTokens           int64      `json:"total_tokens"`
	SuperResolutionTokens int64      `json:"super_resolution_tokens"`
	SubmitTime            int64      `json:"submit_time"`
	StartTime             int64      `json:"start_time"`
	FinishTime            int64      `json:"finish_time"`
	FailReason            string     `json:"fail_reason"`
	Progress              string     `json:"progress"`
	RequestID             string     `json:"request_id"`
	UpstreamID            string     `json:"upstream_id"`
	UpstreamStatus        string     `json:"upstream_status"`
	TrackedAt             time.Time  `json:"tracked_at"`
	Polls                 int        `json:"polls"`
	LastError             string     `json:"last_error"`
	TaskJSONKey           string     `json:"task_json_key"`
	ArchivedAt            *time.Time `json:"archived_at"`
	SettledAt             *time.Time `json:"settled_at"`
	// Prompt and RequestParams come from the creation request, when the task
	// was created through reelvault's proxy (or given at intake).
	Prompt         string          `json:"prompt"`
	RequestParams  json.RawMessage `json:"request_params,omitempty"`
	KeyFingerprint string          `json:"key_fingerprint"`
	Source         string          `json:"source"` // how reelvault learned the id: cli, intake, proxy, rebuild
	Assets         []Asset         `json:"assets"`

	// Raw is the gateway's last reply, with signed URLs redacted.
	Raw json.RawMessage `json:"-"`
}

// Track adds task ids to poll now, with no recorded source (see TrackFrom).
// Ids already tracked are left alone; it returns how many were new. Callers
// validate ids first.
func (c *DB) Track(ctx context.Context, ids []string, now time.Time) (int, error) {
	return c.TrackFrom(ctx, ids, "", now)
}

// PollTarget is what the poller needs to know about a due task.
type PollTarget struct {
	TaskID        string
	Status        string
	TrackedAt     time.Time
	SubmitTime    int64
	NotFoundCount int
	Polls         int
}

// DuePolls returns up to limit live tasks whose next poll time has come,
// most overdue first.
func (c *DB) DuePolls(ctx context.Context, now time.Time, limit int) ([]PollTarget, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT task_id, status, tracked_at, submit_time, not_found_count, polls
		FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("query due polls: %w", err)
	}
	defer rows.Close()
	var out []PollTarget
	for rows.Next() {
		var p PollTarget
		var tracked int64
		if err := rows.Scan(&p.TaskID, &p.Status, &tracked, &p.SubmitTime, &p.NotFoundCount, &p.Polls); err != nil {
			return nil, err
		}
		p.TrackedAt = time.UnixMilli(tracked)
		out = append(out, p)
	}
	return out, rows.Err()
}

// NextPoll returns the earliest scheduled poll, if any task is live.
func (c *DB) NextPoll(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT MIN(next_poll_at) FROM tasks WHERE next_poll_at IS NOT NULL`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(v.Int64), true, nil
}

// Progress records a non-terminal reply: the status and fields seen so far,
// and when to poll next.
func (c *DB) Progress(ctx context.Context, t Task, next, now time.Time) error {
	return c.ProgressBatch(ctx, []ProgressUpdate{{Task: t, Next: next, Now: now}})
}

// Finish records a terminal reply (SUCCESS or FAILURE) with every field, stops
// polling the task, and queues the given assets. A task re-polled for a fresh
// URL keeps its archived assets; pending ones take the new URL.
func (c *DB) Finish(ctx context.Context, t Task, assets []Asset, now time.Time) error {
	archiveState := ArchiveNone
	if len(assets) > 0 {
		archiveState = ArchivePending
	}
	err := c.inTx(ctx, func(tx sqlTx) error {
		// A reply without a model keeps the one the creation request named.
		_, err := tx.ExecContext(ctx, `UPDATE tasks SET status=?, action=?, model=COALESCE(NULLIF(?, ''), model), duration=?, ratio=?, resolution=?,
			super_resolution=?, framespersecond=?, generate_audio=?, seed=?, completion_tokens=?, total_tokens=?,
			super_resolution_tokens=?, submit_time=?, start_time=?, finish_time=?, progress=?, request_id=?, upstream_id=?,
			upstream_status=?, fail_reason=?, raw_reply=?, polls=polls+1, last_polled_at=?, next_poll_at=NULL,
			not_found_count=0, last_error='', lease_owner='', lease_until=0,
			archive_state=CASE WHEN archive_state IN ('archived','incomplete') THEN archive_state ELSE ? END
			WHERE task_id=?`,
			t.Status, t.Action, t.Model, t.Duration, t.Ratio, t.Resolution, t.SuperResolution, t.FramesPerSecond,
			t.GenerateAudio, t.Seed, t.CompletionTokens, t.TotalTokens, t.SuperResolutionTokens, t.SubmitTime,
			t.StartTime, t.FinishTime, t.Progress, t.RequestID, t.UpstreamID, t.UpstreamStatus, t.FailReason,
			string(t.Raw), ms(now), archiveState, t.TaskID)
		if err != nil {
			return err
		}
		for _, a := range assets {
			_, err := tx.ExecContext(ctx, `INSERT INTO assets (task_id, kind, source_url, expires_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (task_id, kind) DO UPDATE SET source_url=excluded.source_url, expires_at=excluded.expires_at,
				next_attempt_at=0 WHERE assets.state='pending'`,
				t.TaskID, a.Kind, a.SourceURL, storedMS(a.ExpiresAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record result of %s: %w", t.TaskID, err)
	}
	return nil
}

// PollFailed records a failed poll and when to try again.
func (c *DB) PollFailed(ctx context.Context, id, reason string, next, now time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET polls=polls+1, last_polled_at=?, next_poll_at=?, last_error=?,
		lease_owner='', lease_until=0 WHERE task_id=?`,
		ms(now), ms(next), reason, id)
	if err != nil {
		return fmt.Errorf("record failed poll of %s: %w", id, err)
	}
	return nil
}

// NotFound counts one more "task does not exist" answer. After confirmations
// answers in a row the task becomes not_found and polling stops; otherwise it
// is polled again at next. It returns the count so far.
func (c *DB) NotFound(ctx context.Context, id string, confirmations int, next, now time.Time) (int, error) {
	var count int
	err := c.inTx(ctx, func(tx sqlTx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE tasks SET not_found_count=not_found_count+1, polls=polls+1, last_polled_at=?,
			next_poll_at=?, last_error='gateway says the task does not exist', lease_owner='', lease_until=0
			WHERE task_id=? RETURNING not_found_count`,
			ms(now), ms(next), id).Scan(&count); err != nil {
			return err
		}
		if count >= confirmations {
			_, err := tx.ExecContext(ctx, `UPDATE tasks SET status=?, next_poll_at=NULL WHERE task_id=?`, StatusNotFound, id)
			return err
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record not-found of %s: %w", id, err)
	}
	return count, nil
}

// GiveUp stops polling a task that never finished.
func (c *DB) GiveUp(ctx context.Context, id, reason string, now time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET status=?, next_poll_at=NULL, last_error=?, last_polled_at=?,
		lease_owner='', lease_until=0 WHERE task_id=?`,
		StatusGivenUp, reason, ms(now), id)
	if err != nil {
		return fmt.Errorf("give up %s: %w", id, err)
	}
	return nil
}

// Repoll schedules a finished task to be polled again at once, for a fresh
// signed URL after the old one was refused.
func (c *DB) Repoll(ctx context.Context, id string, now time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET next_poll_at=? WHERE task_id=?`, ms(now), id)
	return err
}

// Outstanding counts what keeps a --once run going: live tasks, and pending
// assets or sidecars.
func (c *DB) Outstanding(ctx context.Context) (liveTasks, pendingWork int, err error) {
	err = c.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM tasks WHERE next_poll_at IS NOT NULL),
		(SELECT COUNT(*) FROM tasks WHERE archive_state='pending')`).Scan(&liveTasks, &pendingWork)
	return liveTasks, pendingWork, err
}

// ProgressUpdate is one non-terminal reply for ProgressBatch.
type ProgressUpdate struct {
	Task      Task
	Next, Now time.Time
}

// ProgressBatch records several non-terminal replies, as Progress does,
// in one transaction: at 100,000 tracked tasks one commit per poll (WAL
// frames, auto-checkpoints, page-cache resets on the other pooled
// connections) was most of the poller's CPU.
func (c *DB) ProgressBatch(ctx context.Context, ups []ProgressUpdate) error {
	return c.inTx(ctx, func(tx sqlTx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE tasks SET status=?, action=?, progress=?, request_id=?, submit_time=?, start_time=?,
		raw_reply=?, polls=polls+1, last_polled_at=?, next_poll_at=?, not_found_count=0, last_error='',
		lease_owner='', lease_until=0 WHERE task_id=?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range ups {
			t := u.Task
			if _, err := stmt.ExecContext(ctx, t.Status, t.Action, t.Progress, t.RequestID, t.SubmitTime, t.StartTime, string(t.Raw), ms(u.Now), ms(u.Next), t.TaskID); err != nil {
				return fmt.Errorf("record progress of %s: %w", t.TaskID, err)
			}
		}
		return nil
	})
}

// Asset returns the task's asset of the given kind.
func (t Task) Asset(kind string) (Asset, bool) {
	for _, a := range t.Assets {
		if a.Kind == kind {
			return a, true
		}
	}
	return Asset{}, false
}

// PollScheduled reports whether the task is due to be polled again (live, or
// waiting for a re-poll).
func (c *DB) PollScheduled(ctx context.Context, id string) (bool, error) {
	var scheduled bool
	err := c.db.QueryRowContext(ctx, `SELECT next_poll_at IS NOT NULL FROM tasks WHERE task_id=?`, id).Scan(&scheduled)
	if err != nil {
		return false, fmt.Errorf("read poll schedule of %s: %w", id, err)
	}
	return scheduled, nil
}
