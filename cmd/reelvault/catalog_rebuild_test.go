package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
)

// TestCatalogRebuildGivesTheSameList is the promise of task.json: after a
// real run, a catalog deleted and rebuilt from the bucket alone lists exactly
// what it listed before (bucket names, urls and times included), on every
// driver.
func TestCatalogRebuildGivesTheSameList(t *testing.T) {
	sqliteOnly(t, "it deletes the catalog file to rebuild into a new one; rebuild's inserts run on Postgres in catalog.Restore's tests")
	templated := func(*testing.T) backend {
		b := fsBackend()
		b.name, b.yaml = "fs with key_template", "storage:\n  key_template: \"videos/{action}/{year}-{month}/{task_id}\"\n"
		return b
	}
	for _, b := range []struct {
		name    string
		backend func(*testing.T) backend
	}{{"fs", func(*testing.T) backend { return fsBackend() }}, {"fs with key_template", templated}, {"s3", s3Backend},
		{"minio", minioBackend}} {
		t.Run(b.name, func(t *testing.T) {
			backend := b.backend(t)
			e := newEnvWith(t, simulator.Config{Seed: 11, NotStartFor: -1, QueuedFor: -1, RunFor: 50 * time.Millisecond,
				FailureRate: -1, SuperResolutionRate: 0.5, VideoBytes: 48 << 10}, envOptions{storage: backend})
			ids := e.createTasks(6)
			if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
				t.Fatalf("track: exit %d: %s", code, stderr)
			}
			if code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "2m"); code != 0 {
				t.Fatalf("run --once: exit %d: %s", code, stderr)
			}
			before := listJSON(t, e)
			if backend.yaml != "" && strings.Contains(backend.yaml, "key_template") && !strings.Contains(before, `"videos/generate/`) {
				t.Fatalf("keys do not follow storage.key_template:\n%s", before)
			}
			var tasks []struct {
				ArchiveState string            `json:"archive_state"`
				Assets       []json.RawMessage `json:"assets"`
			}
			if err := json.Unmarshal([]byte(before), &tasks); err != nil {
				t.Fatal(err)
			}
			twoVideos := 0
			for _, task := range tasks {
				if task.ArchiveState != "archived" {
					t.Fatalf("before rebuild: a task is %q, want every one archived:\n%s", task.ArchiveState, before)
				}
				if len(task.Assets) == 2 {
					twoVideos++
				}
			}
			if len(tasks) != 6 || twoVideos == 0 {
				t.Fatalf("before rebuild: %d tasks, %d with two videos; want 6, some super-resolution", len(tasks), twoVideos)
			}

			db := filepath.Join(e.dir, "reelvault-data", "catalog.db")
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(db + suffix); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			code, stdout, stderr := e.run(t, "", "catalog", "rebuild")
			if code != 0 || !strings.Contains(stdout, "6 task(s) added") {
				t.Fatalf("rebuild: exit %d, stdout %q, stderr %s", code, stdout, stderr)
			}
			if after := listJSON(t, e); after != before {
				t.Errorf("catalog list --format json after rebuild differs.\nbefore:\n%s\nafter:\n%s", before, after)
			}
			checkPresigned(t, e, strings.Split(strings.TrimSpace(ids), "\n")[0])
			code, stdout, _ = e.run(t, "", "catalog", "rebuild", "--format", "json")
			var res struct{ Added, Existing int }
			if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || res.Added != 0 || res.Existing != 6 {
				t.Errorf("second rebuild: exit %d, %+v (%v); want nothing added, 6 already there", code, res, err)
			}
		})
	}
}

func listJSON(t *testing.T, e *env) string {
	t.Helper()
	code, stdout, stderr := e.run(t, "", "catalog", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("catalog list: exit %d: %s", code, stderr)
	}
	return stdout
}

// checkPresigned fetches every video `catalog show --presign` points at (a
// URL for s3, a file for fs) and checks its sha256 against the catalog.
func checkPresigned(t *testing.T, e *env, id string) {
	t.Helper()
	code, stdout, stderr := e.run(t, "", "catalog", "show", id, "--presign", "1h")
	var shown struct {
		Assets []struct {
			Kind   string `json:"kind"`
			SHA256 string `json:"sha256"`
		} `json:"assets"`
		Presigned map[string]string `json:"presigned"`
	}
	if err := json.Unmarshal([]byte(stdout), &shown); code != 0 || err != nil || len(shown.Assets) == 0 {
		t.Fatalf("show --presign: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	for _, a := range shown.Assets {
		where := shown.Presigned[a.Kind]
		var body io.ReadCloser
		if strings.HasPrefix(where, "http") {
			resp, err := http.Get(where)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET presigned %s URL: %v %v", a.Kind, resp, err)
			}
			body = resp.Body
		} else {
			f, err := os.Open(where)
			if err != nil {
				t.Fatalf("%s: path from --presign: %v", a.Kind, err)
			}
			body = f
		}
		h := sha256.New()
		_, err := io.Copy(h, body)
		body.Close()
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || got != a.SHA256 {
			t.Errorf("%s video behind %q: sha256 %s (%v), catalog says %s", a.Kind, where, got, err, a.SHA256)
		}
	}
}
