package catalog

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// schemaBeforeAddresses is the schema version of catalogs written before an
// asset had a url and a bucket name, and a task a settled_at: their bucket
// held the store's Location and an incomplete task had an archived_at.
const schemaBeforeAddresses = 27

// openAtVersion creates a catalog at path migrated only up to version, as
// an older reelvault left it.
func openAtVersion(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // BEGIN and COMMIT on one connection
	if err := (&DB{db: sqlDB{DB: db}}).migrateTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMigrationSplitsBucketAndSettledAt opens a catalog of the old schema,
// its rows written with raw SQL as the old archiver wrote them, and checks
// what a script reads after the upgrade: bucket is the bucket's name alone,
// url the object's address, archived_at only on archived tasks, and the time
// an incomplete task settled in settled_at.
func TestMigrationSplitsBucketAndSettledAt(t *testing.T) {
	if !strings.Contains(migrations[schemaBeforeAddresses].sql, "RENAME COLUMN bucket TO location") {
		t.Fatalf("migration %d is not the bucket split: %+v", schemaBeforeAddresses+1, migrations[schemaBeforeAddresses])
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	old := openAtVersion(t, path, schemaBeforeAddresses)
	settled := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, task := range []struct{ id, state string }{
		{"asyntask_minio", "archived"}, {"asyntask_s3", "archived"}, {"asyntask_fs", "incomplete"},
		{"asyntask_refused", "incomplete"}, {"asyntask_pending", "pending"},
	} {
		archived := any(settled.UnixMilli())
		if task.id == "asyntask_refused" || task.id == "asyntask_pending" {
			archived = nil // task.json refused: the old SidecarFailed set no time
		}
		exec(`INSERT INTO tasks (task_id, status, archive_state, tracked_at, task_json_key, archived_at)
			VALUES (?, 'SUCCESS', ?, 1, ?, ?)`, task.id, task.state, task.id+"/task.json", archived)
	}
	asset := func(id, kind, state, bucket, key string) {
		exec(`INSERT INTO assets (task_id, kind, source_url, expires_at, state, bucket, key, size, sha256, archived_at)
			VALUES (?, ?, 'https://x', 1, ?, ?, ?, 10, 'ab', ?)`, id, kind, state, bucket, key, settled.UnixMilli())
	}
	asset("asyntask_minio", KindResult, AssetArchived, "minio://reelvault-acceptance", "vault/2026/11/28/asyntask_minio/result.mp4")
	asset("asyntask_s3", KindResult, AssetArchived, "s3://my-bucket", "2026/11/28/asyntask_s3/result.mp4")
	asset("asyntask_fs", KindResult, AssetArchived, "file:///srv/video archive", "2026/11/28/asyntask_fs/result.mp4")
	asset("asyntask_fs", KindOriginal, AssetExpired, "", "")
	asset("asyntask_refused", KindResult, AssetArchived, "file:///srv/a", "2026/11/28/asyntask_refused/result.mp4")
	exec(`INSERT INTO assets (task_id, kind, source_url, expires_at) VALUES ('asyntask_pending', 'result', 'https://x', 1)`)
	// More assets than the migration reads in one batch.
	exec(`BEGIN`)
	for i := range 2500 {
		id := fmt.Sprintf("asyntask_bulk%04d", i)
		exec(`INSERT INTO tasks (task_id, status, archive_state, tracked_at) VALUES (?, 'SUCCESS', 'archived', 1)`, id)
		asset(id, KindResult, AssetArchived, "s3://bulk", id+"/result.mp4")
	}
	exec(`COMMIT`)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	c, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open a catalog of schema %d: %v", schemaBeforeAddresses, err)
	}
	defer c.Close()
	if v, latest, err := c.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("schema version %d of %d after Open (%v)", v, latest, err)
	}
	for _, want := range []struct {
		id, kind, bucket, url, location string
	}{
		{"asyntask_minio", KindResult, "reelvault-acceptance", "s3://reelvault-acceptance/vault/2026/11/28/asyntask_minio/result.mp4", "minio://reelvault-acceptance"},
		{"asyntask_s3", KindResult, "my-bucket", "s3://my-bucket/2026/11/28/asyntask_s3/result.mp4", "s3://my-bucket"},
		{"asyntask_fs", KindResult, "", "file:///srv/video%20archive/2026/11/28/asyntask_fs/result.mp4", "file:///srv/video archive"},
		{"asyntask_fs", KindOriginal, "", "", ""},
		{"asyntask_pending", KindResult, "", "", ""},
	} {
		task, err := c.Get(ctx, want.id)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := task.Asset(want.kind)
		if a.Bucket != want.bucket || a.URL != want.url || a.Location != want.location {
			t.Errorf("%s %s: bucket %q, url %q, location %q; want %q, %q, %q", want.id, want.kind,
				a.Bucket, a.URL, a.Location, want.bucket, want.url, want.location)
		}
	}
	var unfilled int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets WHERE task_id LIKE 'asyntask_bulk%'
		AND (bucket != 'bulk' OR url != 's3://bulk/' || task_id || '/result.mp4')`).Scan(&unfilled); err != nil || unfilled != 0 {
		t.Errorf("%d of 2500 assets without their bucket name and url after the migration (%v)", unfilled, err)
	}
	for id, want := range map[string]struct{ archived, settled bool }{
		"asyntask_minio": {true, true}, "asyntask_s3": {true, true}, "asyntask_fs": {false, true},
		"asyntask_refused": {false, false}, "asyntask_pending": {false, false},
	} {
		task, _ := c.Get(ctx, id)
		// ok: the time is the old archived_at when wanted, else absent.
		ok := func(at *time.Time, want bool) bool {
			return at == nil && !want || at != nil && want && at.Equal(settled)
		}
		if !ok(task.ArchivedAt, want.archived) || !ok(task.SettledAt, want.settled) {
			t.Errorf("%s (%s): archived_at %v, settled_at %v; want %v set: %v, %v", id, task.ArchiveState,
				task.ArchivedAt, task.SettledAt, settled, want.archived, want.settled)
		}
	}
	// verify still tells this store's objects from another store's.
	objs, err := c.StoredObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.TaskID == "asyntask_minio" && o.Location != "minio://reelvault-acceptance" {
			t.Errorf("stored object %s %s: location %q, want minio://reelvault-acceptance", o.TaskID, o.Kind, o.Location)
		}
	}
}
