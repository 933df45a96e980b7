package catalog_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// TestTasksStreamsEveryTaskWithItsOwnAssets crosses several read batches:
// every task comes once, in order, with its own videos, and the byte totals
// kept by the assets triggers follow archiving.
func TestTasksStreamsEveryTaskWithItsOwnAssets(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	const n = 1203
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("asyntask_list%05d", i)
	}
	if _, err := db.Track(ctx, ids, t0); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		finished := t0.Add(time.Duration(i) * time.Second)
		a := catalog.Asset{Kind: catalog.KindResult, SourceURL: "https://x/" + id, ExpiresAt: finished.Add(24 * time.Hour)}
		if err := db.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS", FinishTime: finished.Unix()}, []catalog.Asset{a}, t0); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			a.TaskID, a.Key, a.Size = id, id+"/result.mp4", int64(i)
			if err := db.AssetArchived(ctx, a, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	i := n - 1
	for task, err := range db.Tasks(ctx, catalog.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if task.TaskID != ids[i] || len(task.Assets) != 1 {
			t.Fatalf("task %d of the listing is %s with %d assets, want %s with 1 (newest first)", n-1-i, task.TaskID, len(task.Assets), ids[i])
		}
		if wantKey := map[bool]string{true: ids[i] + "/result.mp4", false: ""}[i%2 == 0]; task.Assets[0].Key != wantKey {
			t.Fatalf("%s carries asset key %q, want %q", task.TaskID, task.Assets[0].Key, wantKey)
		}
		i--
	}
	if i != -1 {
		t.Fatalf("listing stopped with %d tasks left", i+1)
	}
	seen := 0
	for range db.Tasks(ctx, catalog.Filter{Sort: "tracked"}) {
		if seen++; seen == 600 {
			break // an early stop must release the cursor: the next query still works
		}
	}
	top, err := db.List(ctx, catalog.Filter{Sort: "-size", Limit: 2})
	if err != nil || len(top) != 2 || top[0].TaskID != ids[1202] || top[1].TaskID != ids[1200] {
		t.Fatalf("--sort -size: %v, %v; want the two largest archived videos", top, err)
	}
	// Archived sizes are 0, 2, ..., 1202: 2*(0+1+...+601) = 601*602.
	st, err := db.Stats(ctx, nil)
	if err != nil || st.Total.Tasks != n || st.Total.BytesStored != 601*602 {
		t.Fatalf("stats: %d tasks, %d bytes stored, %v; want %d and %d", st.Total.Tasks, st.Total.BytesStored, err, n, 601*602)
	}
}
