package archiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// Sidecar is the task.json stored beside a task's videos: enough to read the
// task in an S3 console and to rebuild the catalog from the bucket alone.
type Sidecar struct {
	WrittenAt    time.Time       `json:"written_at"`
	Archive      catalog.Task    `json:"archive"`
	GatewayReply json.RawMessage `json:"gateway_reply"`
}

// writeSidecar stores task.json once every video of the task is settled, and
// then settles the task itself. A failure that is about this task alone (no
// key for it, an encoding error, an object the storage refuses) settles the
// task as incomplete with the reason, and the archive goes on; it returns an
// error only when the catalog fails, and a fatalError when the storage
// refuses every object.
func (a *Archiver) writeSidecar(ctx context.Context, id string) error {
	t, err := a.cat.Get(ctx, id)
	if err != nil {
		return err
	}
	if t.ArchiveState != catalog.ArchivePending {
		return a.releaseTask(ctx, id) // settled meanwhile
	}
	key, err := sidecarKey(a.opts.Prefix, a.opts.KeyTemplate, t)
	if err != nil {
		return a.sidecarFailed(ctx, id, fmt.Errorf("no key for task.json: %w", err))
	}
	// The catalog keeps milliseconds: task.json says the same time.
	now := a.opts.Clock().Truncate(time.Millisecond)
	t.TaskJSONKey = key
	t.SettledAt, t.ArchivedAt = &now, &now
	t.ArchiveState = catalog.ArchiveArchived
	for _, as := range t.Assets {
		if as.State != catalog.AssetArchived {
			t.ArchiveState, t.ArchivedAt = catalog.ArchiveIncomplete, nil
		}
	}
	reply := t.Raw
	if !json.Valid(reply) {
		reply = json.RawMessage("null")
	}
	body, err := json.MarshalIndent(Sidecar{WrittenAt: now.UTC(), Archive: t, GatewayReply: reply}, "", "  ")
	if err != nil {
		return a.sidecarFailed(ctx, id, fmt.Errorf("encode task.json: %w", err))
	}
	body = append(body, '\n')
	err = a.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{
		ContentType: "application/json",
		Metadata:    map[string]string{"task-id": id, "kind": "task"},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if permanentStorage(err) {
			rctx, cancel := recordCtx(ctx)
			defer cancel()
			if !a.objectRefused(rctx, err) {
				return &fatalError{fmt.Errorf("storage refused %s: %w", key, err)}
			}
			return a.sidecarFailed(ctx, id, fmt.Errorf("storage refused %s: %w", key, err))
		}
		a.log.Warn("storing task.json failed; will retry", "task_id", id, "err", err)
		sleep(ctx, a.opts.AssetBackoff.Delay(1, err), nil)
		return a.releaseTask(ctx, id)
	}
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	if err := a.cat.SidecarWritten(rctx, id, key, now); err != nil {
		return err
	}
	a.log.Info("task archived", "task_id", id, "archive_state", t.ArchiveState, "key", key)
	return nil
}

// releaseTask hands task id back for any instance to claim again.
func (a *Archiver) releaseTask(ctx context.Context, id string) error {
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	return a.cat.ReleaseTask(rctx, id, a.opts.Owner)
}

// sidecarFailed settles a task whose task.json cannot be written, loudly.
func (a *Archiver) sidecarFailed(ctx context.Context, id string, err error) error {
	a.log.Error("task.json not written; the task is left incomplete, the archive goes on", "task_id", id, "err", err)
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	return a.cat.SidecarFailed(rctx, id, "task.json not written: "+err.Error(), a.opts.Clock())
}
