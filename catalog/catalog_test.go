package catalog_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
)

// mustOpen opens an empty catalog on the suite's backend
// (catalogtest.Backend): these tests are the conformance suite that SQLite
// and Postgres both pass.
func mustOpen(t *testing.T) (*catalog.DB, string) {
	t.Helper()
	return catalogtest.Open(t, filepath.Join(t.TempDir(), "data"))
}

var t0 = time.Date(2026, 4, 27, 11, 0, 0, 0, time.UTC)

func TestTrackIsIdempotentAndSchedulesAPoll(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	n, err := db.Track(ctx, []string{"a", "b", "a"}, t0)
	if err != nil || n != 2 {
		t.Fatalf("Track = %d, %v; want 2 new", n, err)
	}
	n, err = db.Track(ctx, []string{"b", "c"}, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("second Track = %d, %v; want 1 new", n, err)
	}
	due, err := db.DuePolls(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 {
		t.Fatalf("due at t0: %d tasks, want a and b (c is due a minute later)", len(due))
	}
	got, err := db.Get(ctx, "a")
	if err != nil || got.Status != catalog.StatusTracked {
		t.Fatalf("Get(a) = %+v, %v; want status TRACKED", got, err)
	}
}

func TestFinishQueuesAssetsEarliestExpiryFirst(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	if _, err := db.Track(ctx, []string{"late", "early", "failed"}, t0); err != nil {
		t.Fatal(err)
	}
	finish := func(id string, exp time.Time, kinds ...string) {
		var assets []catalog.Asset
		for _, k := range kinds {
			assets = append(assets, catalog.Asset{Kind: k, SourceURL: "https://x/" + id + "/" + k, ExpiresAt: exp})
		}
		if err := db.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS", Model: "m", FinishTime: t0.Unix()}, assets, t0); err != nil {
			t.Fatal(err)
		}
	}
	finish("late", t0.Add(20*time.Hour), catalog.KindResult)
	finish("early", t0.Add(2*time.Hour), catalog.KindResult, catalog.KindOriginal)
	if err := db.Finish(ctx, catalog.Task{TaskID: "failed", Status: "FAILURE", FailReason: "boom"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	due, err := db.ClaimAssets(ctx, "test", t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 3 || due[0].TaskID != "early" || due[2].TaskID != "late" {
		t.Fatalf("due assets %+v: want early's two, then late", due)
	}
	if polls, _ := db.DuePolls(ctx, t0.Add(time.Hour), 10); len(polls) != 0 {
		t.Errorf("finished tasks still due for polling: %+v", polls)
	}
	live, pending, err := db.Outstanding(ctx)
	if err != nil || live != 0 || pending != 2 {
		t.Errorf("Outstanding = %d live, %d pending, %v; want 0, 2", live, pending, err)
	}
	failed, _ := db.Get(ctx, "failed")
	if failed.ArchiveState != catalog.ArchiveNone || failed.FailReason != "boom" {
		t.Errorf("failed task: archive_state %q fail_reason %q", failed.ArchiveState, failed.FailReason)
	}
}

func TestSidecarSettlesArchiveState(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	db.Track(ctx, []string{"ok", "lost"}, t0)
	for _, id := range []string{"ok", "lost"} {
		err := db.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS"},
			[]catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x", ExpiresAt: t0.Add(time.Hour)}}, t0)
		if err != nil {
			t.Fatal(err)
		}
	}
	if ids, _ := db.ClaimSidecars(ctx, "test", t0, time.Minute, 10); len(ids) != 0 {
		t.Fatalf("sidecars due before any video settled: %v", ids)
	}
	if err := db.AssetArchived(ctx, catalog.Asset{TaskID: "ok", Kind: catalog.KindResult, Key: "k", Size: 5, SHA256: "ab"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.AssetGone(ctx, catalog.Asset{TaskID: "lost", Kind: catalog.KindResult}, catalog.AssetExpired, "url expired"); err != nil {
		t.Fatal(err)
	}
	ids, err := db.ClaimSidecars(ctx, "test", t0, time.Minute, 10)
	if err != nil || len(ids) != 2 {
		t.Fatalf("ClaimSidecars = %v, %v; want both", ids, err)
	}
	for _, id := range ids {
		if err := db.SidecarWritten(ctx, id, id+"/task.json", t0); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{"ok": catalog.ArchiveArchived, "lost": catalog.ArchiveIncomplete} {
		got, _ := db.Get(ctx, id)
		if got.ArchiveState != want {
			t.Errorf("%s: archive_state %q, want %q", id, got.ArchiveState, want)
		}
		// archived_at dates an archive; an incomplete task was never archived.
		if got.SettledAt == nil || !got.SettledAt.Equal(t0) {
			t.Errorf("%s: settled_at %v, want %v", id, got.SettledAt, t0)
		}
		if archived := got.ArchivedAt != nil && got.ArchivedAt.Equal(t0); archived != (want == catalog.ArchiveArchived) {
			t.Errorf("%s (%s): archived_at %v", id, want, got.ArchivedAt)
		}
	}
	if n, _ := db.LostAssets(ctx); n != 1 {
		t.Errorf("LostAssets = %d, want 1", n)
	}
}

func TestNotFoundNeedsThreeAnswers(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	db.Track(ctx, []string{"ghost"}, t0)
	for i := 1; i <= 3; i++ {
		n, err := db.NotFound(ctx, "ghost", 3, t0.Add(time.Duration(i)*time.Minute), t0)
		if err != nil || n != i {
			t.Fatalf("answer %d: count %d, %v", i, n, err)
		}
		got, _ := db.Get(ctx, "ghost")
		want := catalog.StatusTracked
		if i == 3 {
			want = catalog.StatusNotFound
		}
		if got.Status != want {
			t.Fatalf("after %d answers: status %q, want %q", i, got.Status, want)
		}
	}
	if _, ok, _ := db.NextPoll(ctx); ok {
		t.Error("a not_found task is still scheduled for polling")
	}
}

func TestFilesArePrivateAndLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "catalog.db")
	db, err := catalog.Open(t.Context(), path) // SQLite's files and lock
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	unlock, err := catalog.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Lock(path); err == nil {
		t.Fatal("second Lock succeeded while the first is held")
	}
	unlock()
	unlock2, err := catalog.Lock(path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}
