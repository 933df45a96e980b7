package catalog

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestExportKeepsOrderAcrossChunks shrinks the chunks so parallel workers
// each encode a few tasks: the output must still be every task, once, in
// table order, as list --sort tracked prints them.
func TestExportKeepsOrderAcrossChunks(t *testing.T) {
	defer func(old int64) { exportChunk = old }(exportChunk)
	exportChunk = 3
	c, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("asyntask_%02d", (i*7)%20)) // table order differs from id order
	}
	if _, err := c.Track(t.Context(), ids, now); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:12] {
		a := Asset{Kind: KindResult, SourceURL: "https://x/" + id, ExpiresAt: now.Add(time.Hour)}
		if err := c.Finish(t.Context(), Task{TaskID: id, Status: "SUCCESS", FinishTime: now.Unix()}, []Asset{a}, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{"csv", "jsonl"} {
		var exported, listed bytes.Buffer
		if n, err := c.Export(t.Context(), &exported, format); err != nil || n != len(ids) {
			t.Fatalf("export %s: %d tasks, %v; want %d", format, n, err, len(ids))
		}
		tw, _ := NewTaskWriter(&listed, format)
		for task, err := range c.Tasks(t.Context(), Filter{Sort: "tracked"}) {
			if err != nil {
				t.Fatal(err)
			}
			tw.Write(task)
		}
		tw.Close()
		if exported.String() != listed.String() {
			t.Errorf("export --format %s in chunks of %d:\n%s\nwant\n%s", format, exportChunk, exported.String(), listed.String())
		}
	}
}
