package archiver_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
)

// TestStorageRefusesOneObject: the fs store refuses for good the objects of
// one task (a file stands where its folder must be) and stores everything
// else. That task ends with the reasons recorded (its video refused, its
// task.json not written); the run goes on, archives the other task and
// returns no error.
func TestStorageRefusesOneObject(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := origin(t, video)
	root := t.TempDir()
	store, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, store)
	finished := time.Now().Add(-time.Hour).Truncate(time.Second)
	day := filepath.Join(root, finished.UTC().Format("2006/01/02"))
	const refused, fine = "asyntask_refused", "asyntask_fine"
	if err := os.MkdirAll(day, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(day, refused), []byte("a file where a folder must be"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/" + id + ".mp4?" + signedQuery(),
			duration: 5, resolution: "720p", finishTime: finished.Unix()})
	}
	if err := f.run(refused, fine); err != nil {
		t.Fatalf("run: %v; want the run to go on past objects the storage refuses", err)
	}

	f.assertGone(refused, catalog.KindResult, catalog.AssetError, "storage refused")
	if task := f.task(refused); task.ArchiveState != catalog.ArchiveIncomplete ||
		!strings.Contains(task.LastError, "task.json not written: storage refused") {
		t.Errorf("%s: archive_state %q, last error %q; want incomplete, saying task.json was refused",
			refused, task.ArchiveState, task.LastError)
	}
	if f.countLogs("task_id="+refused, "level=ERROR") < 2 {
		t.Errorf("the refused video and task.json are not both logged as errors:\n%s", f.logs)
	}
	f.assertArchived(fine, catalog.KindResult, video)
	if task := f.task(fine); task.ArchiveState != catalog.ArchiveArchived {
		t.Errorf("%s: archive_state %q, want archived", fine, task.ArchiveState)
	}
	err = store.List(t.Context(), "", func(o storage.ObjectInfo) error {
		if strings.Contains(o.Key, "probe") {
			t.Errorf("probe object %s left in storage", o.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
