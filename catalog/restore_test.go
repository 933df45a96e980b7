package catalog_test

import (
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// TestRestoreAddsOnceAndKeepsTheRecord: `catalog rebuild` restores tasks
// from their task.json; a restored task reads back as written, and one
// already in the catalog is left alone.
func TestRestoreAddsOnceAndKeepsTheRecord(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	archived := t0.Add(time.Hour)
	task := catalog.Task{TaskID: "asyntask_restored", Status: "SUCCESS", ArchiveState: catalog.ArchiveArchived,
		Model: "m", Duration: 5, GenerateAudio: true, FinishTime: t0.Unix(), TrackedAt: t0, TaskJSONKey: "k/task.json",
		ArchivedAt: &archived, SettledAt: &archived, Source: "rebuild",
		Assets: []catalog.Asset{{Kind: catalog.KindResult, State: catalog.AssetArchived, Key: "k/result.mp4", Size: 42,
			SHA256: "ab", ExpiresAt: t0.Add(24 * time.Hour), ArchivedAt: &archived, MediaCheck: "ok"}}}
	added, err := db.Restore(ctx, task)
	if err != nil || !added {
		t.Fatalf("Restore = %v, %v; want added", added, err)
	}
	got, err := db.Get(ctx, task.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := got.Asset(catalog.KindResult)
	if got.Status != "SUCCESS" || got.ArchiveState != catalog.ArchiveArchived || !got.GenerateAudio ||
		got.ArchivedAt == nil || !got.ArchivedAt.Equal(archived) || a.Size != 42 || a.State != catalog.AssetArchived {
		t.Errorf("restored task reads back as %+v", got)
	}
	task.Status = "FAILURE"
	if added, err := db.Restore(ctx, task); err != nil || added {
		t.Errorf("second Restore = %v, %v; want left alone", added, err)
	}
	if got, _ := db.Get(ctx, task.TaskID); got.Status != "SUCCESS" {
		t.Errorf("a second Restore rewrote the task: status %q", got.Status)
	}
}
