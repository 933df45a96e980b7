package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrAmbiguous is returned by ResolveID when a prefix names several tasks.
var ErrAmbiguous = errors.New("task id prefix matches several tasks")

// ResolveID returns the task id that is id itself, or else the only one
// starting with id, so a shortened id from a table works in `catalog show`.
func (c *DB) ResolveID(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("empty task id: %w", ErrNotFound)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT task_id FROM tasks WHERE task_id >= ? AND task_id < ?
		ORDER BY task_id LIMIT 2`, id, id+"\U0010FFFF")
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", id, err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return "", err
		}
		if v == id {
			return v, nil
		}
		if strings.HasPrefix(v, id) {
			found = append(found, v)
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s: %w", id, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%s (%s, %s, ...): %w", id, found[0], found[1], ErrAmbiguous)
	}
}

// Restore inserts a finished task read back from its task.json, with its
// assets, unless the catalog already holds the task id. It reports whether
// it inserted. The signed source URLs are not in task.json and stay empty;
// nothing is scheduled.
func (c *DB) Restore(ctx context.Context, t Task) (bool, error) {
	inserted := false
	err := c.inTx(ctx, func(tx sqlTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tasks (task_id, status, archive_state, action, model,
			duration, ratio, resolution, super_resolution, framespersecond, generate_audio, seed, completion_tokens,
			total_tokens, super_resolution_tokens, submit_time, start_time, finish_time, progress, request_id,
			upstream_id, upstream_status, fail_reason, raw_reply, tracked_at, polls, last_error, task_json_key,
			archived_at, settled_at, prompt, request_params, key_fingerprint, source)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
			t.TaskID, t.Status, t.ArchiveState, t.Action, t.Model, t.Duration, t.Ratio, t.Resolution,
			t.SuperResolution, t.FramesPerSecond, t.GenerateAudio, t.Seed, t.CompletionTokens, t.TotalTokens,
			t.SuperResolutionTokens, t.SubmitTime, t.StartTime, t.FinishTime, t.Progress, t.RequestID, t.UpstreamID,
			t.UpstreamStatus, t.FailReason, string(t.Raw), ms(t.TrackedAt), t.Polls, t.LastError, t.TaskJSONKey,
			msOrNull(t.ArchivedAt), msOrNull(t.SettledAt), t.Prompt, string(t.RequestParams), t.KeyFingerprint, t.Source)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		inserted = true
		for _, a := range t.Assets {
			_, err := tx.ExecContext(ctx, `INSERT INTO assets (task_id, kind, source_url, expires_at, state, location,
				bucket, key, url, size, sha256, attempts, last_error, archived_at, media_duration, media_width,
				media_height, media_check)
				VALUES (?,?,'',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
				t.TaskID, a.Kind, ms(a.ExpiresAt), a.State, a.Location, a.Bucket, a.Key, a.URL, a.Size, a.SHA256,
				a.Attempts, a.LastError, msOrNull(a.ArchivedAt), a.MediaDuration, a.MediaWidth, a.MediaHeight,
				a.MediaCheck)
			if err != nil {
				return fmt.Errorf("asset %s: %w", a.Kind, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", t.TaskID, err)
	}
	return inserted, nil
}

// msOrNull is ms for an optional time column: NULL for nil.
func msOrNull(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}
