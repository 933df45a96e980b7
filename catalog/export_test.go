package catalog_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// TestExportMatchesList: export reads tasks through its own join, and must
// print exactly what list prints for the same tasks.
func TestExportMatchesList(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	var ids []string
	for i := range 7 {
		ids = append(ids, fmt.Sprintf("asyntask_exp%02d", i))
	}
	if _, err := db.Track(ctx, ids, t0); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:5] {
		kinds := []string{catalog.KindResult}
		if i%2 == 1 {
			kinds = append(kinds, catalog.KindOriginal)
		}
		var assets []catalog.Asset
		for _, k := range kinds {
			assets = append(assets, catalog.Asset{Kind: k, SourceURL: "https://x/" + k, ExpiresAt: t0.Add(time.Hour)})
		}
		task := catalog.Task{TaskID: id, Status: "SUCCESS", Model: "m", FinishTime: t0.Unix() + int64(i), Prompt: "p"}
		if err := db.Finish(ctx, task, assets, t0); err != nil {
			t.Fatal(err)
		}
		for _, a := range assets {
			a.TaskID, a.Key, a.Size, a.MediaCheck = id, id+"/"+a.Kind+".mp4", int64(100*i+1), "ok"
			if err := db.AssetArchived(ctx, a, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, format := range []string{"jsonl", "csv"} {
		var exported, listed bytes.Buffer
		n, err := db.Export(ctx, &exported, format)
		if err != nil || n != len(ids) {
			t.Fatalf("export %s: %d tasks, %v", format, n, err)
		}
		tw, _ := catalog.NewTaskWriter(&listed, format)
		for task, err := range db.Tasks(ctx, catalog.Filter{Sort: "tracked"}) {
			if err != nil {
				t.Fatal(err)
			}
			tw.Write(task)
		}
		tw.Close()
		if exported.String() != listed.String() {
			t.Errorf("export --format %s differs from list --sort tracked:\n%s\nvs\n%s", format, exported.String(), listed.String())
		}
		if format == "jsonl" && !slices.ContainsFunc(strings.Split(exported.String(), "\n"), func(l string) bool {
			return strings.Contains(l, `"kind":"result"`) && strings.Contains(l, `"kind":"original"`) &&
				strings.Index(l, `"kind":"result"`) < strings.Index(l, `"kind":"original"`)
		}) {
			t.Errorf("export: no task lists its result video before its original:\n%s", exported.String())
		}
	}
}
