package catalog_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
)

// finished tracks n tasks, finishes them with one pending video each, and
// returns their ids.
func finished(t *testing.T, db *catalog.DB, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("asyntask_lease%03d", i))
	}
	if _, err := db.Track(t.Context(), ids, t0); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		a := []catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x/" + id, ExpiresAt: t0.Add(time.Duration(n-i) * time.Minute)}}
		if err := db.Finish(t.Context(), catalog.Task{TaskID: id, Status: "SUCCESS", Model: "m"}, a, t0); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestClaimsAreDisjointAndRunOut: instances claiming at once never get one
// row twice; a claimed row is nobody else's until its lease runs out, and
// then another instance takes it.
func TestClaimsAreDisjointAndRunOut(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	ids := finished(t, db, 40)
	if _, err := db.Track(ctx, []string{"asyntask_live1", "asyntask_live2", "asyntask_live3"}, t0); err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute
	var mu sync.Mutex
	videos := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		owner := fmt.Sprintf("instance-%d", w)
		wg.Go(func() {
			for {
				got, err := db.ClaimAssets(ctx, owner, t0, lease, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, a := range got {
					if prev, ok := videos[a.TaskID]; ok {
						t.Errorf("%s claimed by %s and %s", a.TaskID, prev, owner)
					}
					videos[a.TaskID] = owner
					if a.Lease != owner {
						t.Errorf("claimed asset carries lease %q, want %q", a.Lease, owner)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(videos) != len(ids) {
		t.Fatalf("%d videos claimed, want %d", len(videos), len(ids))
	}
	if more, _ := db.ClaimAssets(ctx, "late", t0.Add(lease/2), lease, 100); len(more) != 0 {
		t.Errorf("%d videos claimed again before their leases ran out", len(more))
	}
	again, err := db.ClaimAssets(ctx, "survivor", t0.Add(lease+time.Millisecond), lease, 100)
	if err != nil || len(again) != len(ids) {
		t.Fatalf("after the leases ran out: %d claimed, %v; want %d", len(again), err, len(ids))
	}
	for i := 1; i < len(again); i++ {
		if again[i].ExpiresAt.Before(again[i-1].ExpiresAt) {
			t.Fatalf("claims not in expiry order at %d", i)
		}
	}

	// The first holder's outcome no longer counts; the survivor's does.
	stale := again[0]
	stale.Lease = videos[stale.TaskID]
	if err := db.AssetArchived(ctx, stale, t0); !errors.Is(err, catalog.ErrLeaseLost) {
		t.Errorf("AssetArchived by the lapsed holder = %v, want ErrLeaseLost", err)
	}
	if err := db.RenewAsset(ctx, stale, t0.Add(time.Hour)); !errors.Is(err, catalog.ErrLeaseLost) {
		t.Errorf("RenewAsset by the lapsed holder = %v, want ErrLeaseLost", err)
	}
	if err := db.RenewAsset(ctx, again[0], t0.Add(time.Hour)); err != nil {
		t.Errorf("RenewAsset by the holder: %v", err)
	}
	again[0].Key, again[0].Size = "k", 1
	if err := db.AssetArchived(ctx, again[0], t0); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Get(ctx, again[0].TaskID)
	if a, _ := got.Asset(catalog.KindResult); a.State != catalog.AssetArchived {
		t.Errorf("state %q after the holder archived it", a.State)
	}

	// Polls: two instances split the live tasks; a released lease frees
	// its tasks at once.
	p1, err := db.ClaimPolls(ctx, "a", t0, lease, 2)
	if err != nil || len(p1) != 2 {
		t.Fatalf("ClaimPolls a = %d, %v", len(p1), err)
	}
	p2, err := db.ClaimPolls(ctx, "b", t0, lease, 10)
	if err != nil || len(p2) != 1 || p2[0].TaskID == p1[0].TaskID || p2[0].TaskID == p1[1].TaskID {
		t.Fatalf("ClaimPolls b = %+v, %v; want the one task a did not take", p2, err)
	}
	if held, _, _ := db.Leases(ctx, "a", t0); held != 2 {
		t.Errorf("Leases(a) = %d tasks, want 2", held)
	}
	if err := db.ReleaseLeases(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	p3, _ := db.ClaimPolls(ctx, "c", t0, lease, 10)
	if len(p3) != 2 {
		t.Errorf("after a released its leases, c claimed %d tasks, want 2", len(p3))
	}
	if err := db.PollFailed(ctx, p3[0].TaskID, "boom", t0, t0); err != nil {
		t.Fatal(err)
	}
	if p4, _ := db.ClaimPolls(ctx, "d", t0, lease, 10); len(p4) != 1 || p4[0].TaskID != p3[0].TaskID {
		t.Errorf("a recorded poll clears its lease: d claimed %+v, want %s", p4, p3[0].TaskID)
	}
}

// TestHostileStringsAreStorable: a gateway reply's strings may carry NUL or
// bytes that are not UTF-8; recording the reply must not fail on either
// engine, or the task would be polled for ever and its video lost.
func TestHostileStringsAreStorable(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	if _, err := db.Track(ctx, []string{"asyntask_nul"}, t0); err != nil {
		t.Fatal(err)
	}
	task := catalog.Task{TaskID: "asyntask_nul", Status: "FAILURE", FailReason: "bad\x00reason \xff\xfe", Model: "m\x00"}
	if err := db.Finish(ctx, task, nil, t0); err != nil {
		t.Fatalf("Finish with NUL and invalid UTF-8: %v", err)
	}
	got, err := db.Get(ctx, "asyntask_nul")
	if err != nil || got.Status != "FAILURE" || got.FailReason == "" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

// TestCopyToPostgresKeepsEveryField: `catalog migrate` copies a SQLite
// catalog into Postgres; both then list and export byte for byte the same,
// and the copy's runs go on where the original's stopped.
func TestCopyToPostgresKeepsEveryField(t *testing.T) {
	src, err := catalog.Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := catalog.OpenPostgres(t.Context(), catalogtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	ctx := t.Context()
	ids := finished(t, src, 25)
	if _, err := src.Track(ctx, []string{"asyntask_zz_live"}, t0); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:10] {
		a := catalog.Asset{TaskID: id, Kind: catalog.KindResult, Key: id + "/result.mp4", Size: int64(1000 + i), SHA256: "ab", MediaCheck: "ok"}
		if err := src.AssetArchived(ctx, a, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := src.SidecarWritten(ctx, id, id+"/task.json", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	claimed, _ := src.ClaimAssets(ctx, "old-run", t0, time.Hour, 3) // leases do not travel
	tasks, assets, err := src.CopyTo(ctx, dst, nil)
	if err != nil || tasks != 26 || assets != 25 {
		t.Fatalf("CopyTo = %d tasks, %d assets, %v; want 26, 25", tasks, assets, err)
	}
	for _, format := range []string{"jsonl", "csv"} {
		var a, b bytes.Buffer
		if _, err := src.Export(ctx, &a, format); err != nil {
			t.Fatal(err)
		}
		if _, err := dst.Export(ctx, &b, format); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("export %s differs after the copy:\n%s\nvs\n%s", format, a.String(), b.String())
		}
	}
	want, _ := src.Stats(ctx, []string{"model", "day"})
	got, _ := dst.Stats(ctx, []string{"model", "day"})
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("stats differ after the copy:\n%v\nvs\n%v", want, got)
	}
	live, pending, _ := dst.Outstanding(ctx)
	if live != 1 || pending != 15 {
		t.Errorf("copy has %d live tasks and %d pending, want 1 and 15", live, pending)
	}
	if got, _ := dst.ClaimAssets(ctx, "new-run", t0, time.Minute, 100); len(got) != 15 {
		t.Errorf("the copy's run claims %d videos, want all 15 pending (the old run's %d leases stay behind)", len(got), len(claimed))
	}
	if _, _, err := src.CopyTo(ctx, dst, nil); !errors.Is(err, catalog.ErrNotEmpty) {
		t.Errorf("second CopyTo = %v, want ErrNotEmpty", err)
	}
}

// TestRunLockOnPostgres: runs share a Postgres catalog's run lock; the
// first alone may clean up, later ones may not; cleanup (exclusive) is
// refused while any run holds it, and a closed run's lock is released.
func TestRunLockOnPostgres(t *testing.T) {
	url := catalogtest.PostgresURL(t)
	open := func() *catalog.DB {
		db, err := catalog.OpenPostgres(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b, c := open(), open(), open()
	ctx := t.Context()
	var aloneA, aloneB bool
	releaseA, err := a.LockRuns(ctx, false, func() { aloneA = true })
	if err != nil || !aloneA {
		t.Fatalf("first run: alone %v, %v; want alone", aloneA, err)
	}
	releaseB, err := b.LockRuns(ctx, false, func() { aloneB = true })
	if err != nil || aloneB {
		t.Fatalf("second run: alone %v, %v; want not alone", aloneB, err)
	}
	if _, err := c.LockRuns(ctx, true, nil); !errors.Is(err, catalog.ErrLocked) {
		t.Fatalf("cleanup beside two runs = %v, want ErrLocked", err)
	}
	releaseA()
	if _, err := c.LockRuns(ctx, true, nil); !errors.Is(err, catalog.ErrLocked) {
		t.Fatalf("cleanup beside one run = %v, want ErrLocked", err)
	}
	releaseB()
	releaseC, err := c.LockRuns(ctx, true, nil)
	if err != nil {
		t.Fatalf("cleanup with no run: %v", err)
	}
	releaseC()
}
