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
// then settles the task itself.
func (a *Archiver) writeSidecar(ctx context.Context, id string) error {
	t, err := a.cat.Get(ctx, id)
	if err != nil {
		return err
	}
	if t.ArchiveState != catalog.ArchivePending {
		return nil // settled by a worker that ran from the same stale listing
	}
	key, err := sidecarKey(a.opts.Prefix, a.opts.KeyTemplate, t)
	if err != nil {
		return err
	}
	now := a.opts.Clock()
	t.TaskJSONKey = key
	t.ArchivedAt = &now
	t.ArchiveState = catalog.ArchiveArchived
	for _, as := range t.Assets {
		if as.State != catalog.AssetArchived {
			t.ArchiveState = catalog.ArchiveIncomplete
		}
	}
	reply := t.Raw
	if !json.Valid(reply) {
		reply = json.RawMessage("null")
	}
	body, err := json.MarshalIndent(Sidecar{WrittenAt: now.UTC(), Archive: t, GatewayReply: reply}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode task.json of %s: %w", id, err)
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
			return fmt.Errorf("storage refused %s: %w", key, err)
		}
		a.log.Warn("storing task.json failed; will retry", "task_id", id, "err", err)
		sleep(ctx, a.opts.AssetBackoff.Delay(1, err), nil)
		return nil
	}
	if err := a.cat.SidecarWritten(context.WithoutCancel(ctx), id, key, now); err != nil {
		return err
	}
	a.log.Info("task archived", "task_id", id, "archive_state", t.ArchiveState, "key", key)
	return nil
}
