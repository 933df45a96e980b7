package archiver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
)

// wantAddress is what a script must read for key in store: the bucket's name
// alone ("" on fs) and the object's full address.
func wantAddress(t *testing.T, store storage.Store, key string) (bucket, objectURL string) {
	t.Helper()
	if p, ok := store.(*fs.Store); ok {
		path, err := p.Path(key)
		if err != nil {
			t.Fatal(err)
		}
		return "", (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	}
	_, bucket, _ = strings.Cut(store.Location(), "://")
	return bucket, "s3://" + bucket + "/" + key
}

// readSidecar reads a task.json back from the store.
func readSidecar(t *testing.T, store storage.Store, key string) archiver.Sidecar {
	t.Helper()
	r, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	var sc archiver.Sidecar
	if err := json.NewDecoder(r).Decode(&sc); err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return sc
}

// TestOldTaskJSONRebuildsWithBucketNameAndURL: task.json files written
// before the bucket name and url were split carry the store's Location in
// bucket ("minio://name", "s3://name", "file:///root"), no url, and an
// archived_at on an incomplete task. A rebuild from them must give what a
// catalog of today holds: the bucket's name, the object's url, archived_at
// only on the archived task, and the old time as settled_at.
func TestOldTaskJSONRebuildsWithBucketNameAndURL(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			ctx := t.Context()
			written := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
			video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
			put := func(key string, body []byte) {
				t.Helper()
				if err := store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			for _, task := range []struct{ id, state string }{{"asyntask_oldok", "archived"}, {"asyntask_oldlost", "incomplete"}} {
				dir := "vault/2026/11/28/" + task.id + "/"
				put(dir+"result.mp4", video)
				assets := []map[string]any{{"kind": "result", "state": "archived", "bucket": store.Location(),
					"key": dir + "result.mp4", "size": len(video), "sha256": sha256Hex(video), "archived_at": written}}
				if task.state == "incomplete" {
					assets = append(assets, map[string]any{"kind": "original", "state": "expired", "bucket": "", "key": "",
						"last_error": "url expired"})
				}
				old, err := json.Marshal(map[string]any{"written_at": written, "gateway_reply": nil, "archive": map[string]any{
					"task_id": task.id, "status": "SUCCESS", "archive_state": task.state, "tracked_at": written,
					"task_json_key": dir + "task.json", "archived_at": written, "assets": assets}})
				if err != nil {
					t.Fatal(err)
				}
				put(dir+"task.json", old)
			}
			cat, _ := catalogtest.Open(t, t.TempDir())
			res, err := archiver.Rebuild(ctx, cat, store, "vault/", 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil || res.Added != 2 {
				t.Fatalf("rebuild: %+v, %v; want both tasks added", res, err)
			}
			for id, archived := range map[string]bool{"asyntask_oldok": true, "asyntask_oldlost": false} {
				task, err := cat.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				a, _ := task.Asset(catalog.KindResult)
				bucket, objectURL := wantAddress(t, store, a.Key)
				if a.Bucket != bucket || a.URL != objectURL {
					t.Errorf("%s: bucket %q, url %q; want %q, %q", id, a.Bucket, a.URL, bucket, objectURL)
				}
				if o, _ := task.Asset(catalog.KindOriginal); o.Kind != "" && (o.Bucket != "" || o.URL != "") {
					t.Errorf("%s: the expired original has bucket %q, url %q; want none", id, o.Bucket, o.URL)
				}
				if (task.ArchivedAt != nil) != archived || task.SettledAt == nil || !task.SettledAt.Equal(written) {
					t.Errorf("%s (%s): archived_at %v, settled_at %v; want archived_at only when archived, settled_at %v",
						id, task.ArchiveState, task.ArchivedAt, task.SettledAt, written)
				}
			}
		})
	}
}

// TestIncompleteTaskIsNotDatedArchived: a task whose video expired settles
// incomplete. Neither the catalog nor its task.json may say when it was
// "archived"; both say when it settled.
func TestIncompleteTaskIsNotDatedArchived(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src := refusingOrigin(t, video)
	f := newFixture(t, fsStore(t))
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/stale/" + id + ".mp4", duration: 5, resolution: "720p"})
	}
	const id = "asyntask_settled"
	if err := f.run(id); err != nil {
		t.Fatalf("run: %v", err)
	}
	task := f.task(id)
	if task.ArchiveState != catalog.ArchiveIncomplete || task.ArchivedAt != nil || task.SettledAt == nil {
		t.Fatalf("catalog: archive_state %q, archived_at %v, settled_at %v; want incomplete, no archived_at, a settled_at",
			task.ArchiveState, task.ArchivedAt, task.SettledAt)
	}
	sc := readSidecar(t, f.store, task.TaskJSONKey)
	if sc.Archive.ArchivedAt != nil || sc.Archive.SettledAt == nil || !sc.Archive.SettledAt.Equal(sc.WrittenAt) ||
		!sc.Archive.SettledAt.Equal(*task.SettledAt) {
		t.Errorf("task.json: archived_at %v, settled_at %v, written_at %v; want no archived_at, settled_at %v",
			sc.Archive.ArchivedAt, sc.Archive.SettledAt, sc.WrittenAt, task.SettledAt)
	}
	// A catalog rebuilt from task.json lists the task as this one does.
	rebuilt, _ := catalogtest.Open(t, t.TempDir())
	if _, err := archiver.Rebuild(t.Context(), rebuilt, f.store, "", 1, nil); err != nil {
		t.Fatal(err)
	}
	again, err := rebuilt.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(task)
	if got, _ := json.Marshal(again); string(got) != string(want) {
		t.Errorf("after rebuild:\n%s\nwant\n%s", got, want)
	}
}

// TestURLIsTheRealFileInAnEscapedRoot: on a case-insensitive filesystem the
// fs driver stores asyntask_AbC under an escaped name, not root + key. The
// url in the catalog and in task.json must still open the video.
func TestURLIsTheRealFileInAnEscapedRoot(t *testing.T) {
	root := t.TempDir()
	// What the driver records in a root it escapes (chosen on a filesystem
	// that folds case; written here by hand, as this one does not).
	if err := os.WriteFile(filepath.Join(root, ".reelvault-layout"), []byte("escape-upper-case v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := origin(t, video)
	f := newFixture(t, store)
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/" + id + ".mp4", duration: 5, resolution: "720p"})
	}
	const id = "asyntask_AbCdE"
	if err := f.run(id); err != nil {
		t.Fatalf("run: %v", err)
	}
	a := f.assertArchived(id, catalog.KindResult, video)
	if sc := readSidecar(t, store, f.task(id).TaskJSONKey); len(sc.Archive.Assets) != 1 || sc.Archive.Assets[0].URL != a.URL {
		t.Errorf("task.json assets %+v; want the catalog's url %s", sc.Archive.Assets, a.URL)
	}
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme != "file" || a.Bucket != "" {
		t.Fatalf("bucket %q, url %q (%v); want no bucket and a file URL", a.Bucket, a.URL, err)
	}
	body, err := os.ReadFile(filepath.FromSlash(u.Path))
	if err != nil || sha256Hex(body) != a.SHA256 {
		t.Errorf("the file at url %s: %v; want the archived video", a.URL, err)
	}
}
