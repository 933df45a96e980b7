package catalog

import (
	"context"
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
	err := c.inTx(ctx, func(tx sqlTx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO tasks (task_id, tracked_at, next_poll_at, source) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
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
// created it. A task already known keeps its polling state, and the first
// record of its creation request wins: prompt, parameters and key
// fingerprint are written as a whole, only while none of them is recorded
// yet, so a later record (an intake request that anyone on loopback, or a
// forged browser request, could send) adds to what is known and never
// rewrites it. The model is written only while neither the gateway nor an
// earlier record has given one, and the source only while none is known.
// That the proxy sees the creation before any poll is the common case: the
// row then has only what the poller knows, and the request fills it in.
func (c *DB) RecordCreation(ctx context.Context, id string, req CreationRequest, now time.Time) error {
	params := ""
	if len(req.Params) > 0 {
		params = string(req.Params)
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO tasks (task_id, tracked_at, next_poll_at, model, prompt, request_params,
			key_fingerprint, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (task_id) DO UPDATE SET
			prompt=CASE WHEN `+unrecorded+` THEN excluded.prompt ELSE tasks.prompt END,
			request_params=CASE WHEN `+unrecorded+` THEN excluded.request_params ELSE tasks.request_params END,
			key_fingerprint=CASE WHEN `+unrecorded+` THEN excluded.key_fingerprint ELSE tasks.key_fingerprint END,
			source=CASE WHEN tasks.source='' THEN excluded.source ELSE tasks.source END,
			model=CASE WHEN tasks.model='' THEN excluded.model ELSE tasks.model END`,
		id, ms(now), ms(now), req.Model, req.Prompt, params, req.KeyFingerprint, req.Source)
	if err != nil {
		return fmt.Errorf("record creation request of %s: %w", id, err)
	}
	return nil
}

// unrecorded is true for a row with no creation request recorded yet. In an
// UPSERT every SET expression sees the row as it was, so the three fields
// are written together or not at all.
const unrecorded = `(tasks.prompt='' AND tasks.request_params='' AND tasks.key_fingerprint='')`
