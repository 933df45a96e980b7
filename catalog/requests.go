package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Sources: how reelvault learned a task id (the tasks.source column).
const (
	SourceCLI    = "cli"    // `reelvault track`
	SourceIntake = "intake" // POST /v1/tasks
	SourceProxy  = "proxy"  // a creation reply seen by the forwarding proxy
)

// CreationRequest is what reelvault saw of the request that created a task:
// never the caller's key, only its fingerprint.
type CreationRequest struct {
	Model  string
	Prompt string
	// Params is the request JSON without its content items (which may carry
	// whole images); empty when unknown.
	Params         json.RawMessage
	KeyFingerprint string
	Source         string
}

// TrackFrom is Track that also records where the ids came from. Ids already
// tracked keep their first source. It returns how many were new.
func (c *DB) TrackFrom(ctx context.Context, ids []string, source string, now time.Time) (int, error) {
	added := 0
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO tasks (task_id, tracked_at, next_poll_at, source) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			res, err := stmt.ExecContext(ctx, id, ms(now), ms(now), source)
			if err != nil {
				return fmt.Errorf("track %s: %w", id, err)
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	return added, err
}

// RecordCreation tracks id (if it is not yet) and stores the request that
// created it. A task already known keeps its polling state; its request
// fields are filled in, as the proxy sees the creation before any poll. The
// model is written only while the gateway has not reported one.
func (c *DB) RecordCreation(ctx context.Context, id string, req CreationRequest, now time.Time) error {
	params := ""
	if len(req.Params) > 0 {
		params = string(req.Params)
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO tasks (task_id, tracked_at, next_poll_at, model, prompt, request_params,
			key_fingerprint, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (task_id) DO UPDATE SET prompt=excluded.prompt, request_params=excluded.request_params,
			key_fingerprint=excluded.key_fingerprint, source=excluded.source,
			model=CASE WHEN tasks.model='' THEN excluded.model ELSE tasks.model END`,
		id, ms(now), ms(now), req.Model, req.Prompt, params, req.KeyFingerprint, req.Source)
	if err != nil {
		return fmt.Errorf("record creation request of %s: %w", id, err)
	}
	return nil
}
