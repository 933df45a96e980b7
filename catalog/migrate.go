package catalog

import (
	"context"
	"fmt"
	"slices"
)

// A migration is one step of the schema: a SQL statement, or, where SQL
// cannot say it, Go code run in the step's transaction.
type migration struct {
	sql string
	run func(ctx context.Context, tx sqlTx) error
}

// statements are migrations of one SQL statement each.
func statements(sql ...string) []migration {
	m := make([]migration, len(sql))
	for i, s := range sql {
		m[i].sql = s
	}
	return m
}

// migrations are applied in order; the schema version is SQLite's
// user_version, the number of steps applied. Never edit a released
// migration: append a new one.
var migrations = slices.Concat(statements(
	// 1: tasks and assets.
	`CREATE TABLE tasks (
		task_id                 TEXT PRIMARY KEY,
		status                  TEXT NOT NULL DEFAULT 'TRACKED',
		archive_state           TEXT NOT NULL DEFAULT '',
		action                  TEXT NOT NULL DEFAULT '',
		model                   TEXT NOT NULL DEFAULT '',
		duration                REAL NOT NULL DEFAULT 0,
		ratio                   TEXT NOT NULL DEFAULT '',
		resolution              TEXT NOT NULL DEFAULT '',
		super_resolution        TEXT NOT NULL DEFAULT '',
		framespersecond         REAL NOT NULL DEFAULT 0,
		generate_audio          INTEGER NOT NULL DEFAULT 0,
		seed                    INTEGER NOT NULL DEFAULT 0,
		completion_tokens       INTEGER NOT NULL DEFAULT 0,
		total_tokens            INTEGER NOT NULL DEFAULT 0,
		super_resolution_tokens INTEGER NOT NULL DEFAULT 0,
		submit_time             INTEGER NOT NULL DEFAULT 0,
		start_time              INTEGER NOT NULL DEFAULT 0,
		finish_time             INTEGER NOT NULL DEFAULT 0,
		progress                TEXT NOT NULL DEFAULT '',
		request_id              TEXT NOT NULL DEFAULT '',
		upstream_id             TEXT NOT NULL DEFAULT '',
		upstream_status         TEXT NOT NULL DEFAULT '',
		fail_reason             TEXT NOT NULL DEFAULT '',
		raw_reply               TEXT NOT NULL DEFAULT '',
		tracked_at              INTEGER NOT NULL,
		polls                   INTEGER NOT NULL DEFAULT 0,
		last_polled_at          INTEGER,
		next_poll_at            INTEGER,
		not_found_count         INTEGER NOT NULL DEFAULT 0,
		last_error              TEXT NOT NULL DEFAULT '',
		task_json_key           TEXT NOT NULL DEFAULT '',
		archived_at             INTEGER
	) STRICT`,
	// The poller asks "which tasks are due" every tick: a partial index on
	// next_poll_at keeps that a range scan over live tasks only.
	`CREATE INDEX tasks_due ON tasks(next_poll_at) WHERE next_poll_at IS NOT NULL`,
	`CREATE INDEX tasks_finish ON tasks(finish_time)`,
	`CREATE INDEX tasks_sidecar ON tasks(task_id) WHERE archive_state = 'pending'`,
	`CREATE TABLE assets (
		task_id         TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
		kind            TEXT NOT NULL,
		source_url      TEXT NOT NULL,
		expires_at      INTEGER NOT NULL,
		state           TEXT NOT NULL DEFAULT 'pending',
		bucket          TEXT NOT NULL DEFAULT '',
		key             TEXT NOT NULL DEFAULT '',
		size            INTEGER NOT NULL DEFAULT 0,
		sha256          TEXT NOT NULL DEFAULT '',
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at INTEGER NOT NULL DEFAULT 0,
		refreshed       INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		archived_at     INTEGER,
		PRIMARY KEY (task_id, kind)
	) STRICT`,
	// The archiver takes pending assets earliest expiry first.
	`CREATE INDEX assets_pending ON assets(expires_at) WHERE state = 'pending'`,
	// 2: what the MP4 itself says (media check), and the creation request
	// seen by the proxy or the intake API.
	`ALTER TABLE assets ADD COLUMN media_duration REAL NOT NULL DEFAULT 0`,
	`ALTER TABLE assets ADD COLUMN media_width INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE assets ADD COLUMN media_height INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE assets ADD COLUMN media_check TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tasks ADD COLUMN prompt TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tasks ADD COLUMN request_params TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tasks ADD COLUMN key_fingerprint TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT ''`,
	// 3: the catalog CLI (list, stats, export), indexes chosen from their
	// query plans (catalog/plan_test.go pins them). Every list order ends in
	// task_id, so an order is total and survives a rebuild; the index on
	// (finish_time, task_id) supersedes the one on finish_time alone.
	`DROP INDEX tasks_finish`,
	`CREATE INDEX tasks_finish_id ON tasks(finish_time, task_id)`,
	`CREATE INDEX tasks_submit_id ON tasks(submit_time, task_id)`,
	// The filters users reach for first, each walked in finish order so a
	// page of 50 reads about 50 rows.
	`CREATE INDEX tasks_model_finish ON tasks(model, finish_time, task_id)`,
	`CREATE INDEX tasks_status_finish ON tasks(status, finish_time, task_id)`,
	`CREATE INDEX tasks_state_finish ON tasks(archive_state, finish_time, task_id)`,
	// archived_bytes is the sum of the task's archived video sizes, kept by
	// triggers whichever code writes assets: `list --sort size` and `stats`
	// then read one table.
	`ALTER TABLE tasks ADD COLUMN archived_bytes INTEGER NOT NULL DEFAULT 0`,
	`UPDATE tasks SET archived_bytes = (SELECT COALESCE(SUM(size), 0) FROM assets a
		WHERE a.task_id = tasks.task_id AND a.state = 'archived')`,
	`CREATE TRIGGER assets_bytes_insert AFTER INSERT ON assets WHEN NEW.state = 'archived' BEGIN
		UPDATE tasks SET archived_bytes = (SELECT COALESCE(SUM(size), 0) FROM assets
			WHERE task_id = NEW.task_id AND state = 'archived') WHERE task_id = NEW.task_id;
	END`,
	`CREATE TRIGGER assets_bytes_update AFTER UPDATE OF state, size ON assets
		WHEN OLD.state IS NOT NEW.state OR OLD.size IS NOT NEW.size BEGIN
		UPDATE tasks SET archived_bytes = (SELECT COALESCE(SUM(size), 0) FROM assets
			WHERE task_id = NEW.task_id AND state = 'archived') WHERE task_id = NEW.task_id;
	END`,
	`CREATE TRIGGER assets_bytes_delete AFTER DELETE ON assets WHEN OLD.state = 'archived' BEGIN
		UPDATE tasks SET archived_bytes = (SELECT COALESCE(SUM(size), 0) FROM assets
			WHERE task_id = OLD.task_id AND state = 'archived') WHERE task_id = OLD.task_id;
	END`,
	`CREATE INDEX tasks_bytes_id ON tasks(archived_bytes, task_id)`,
	// `stats` groups by a prefix of this index (model, UTC day, status,
	// archive state, action, delivered resolution) and sums the rest: one
	// pass over this narrow index in its order, no sort, whatever --by asks
	// for (the table row is read once per group, not per task). The
	// expressions must stay identical to those in stats.go.
	`CREATE INDEX tasks_stats ON tasks(model, finish_time/86400, status, archive_state, action,
		(CASE WHEN super_resolution != '' THEN super_resolution ELSE resolution END),
		duration, completion_tokens, total_tokens, super_resolution_tokens, archived_bytes)`,
), []migration{
	// 4: an asset's bucket was the store's Location ("minio://name",
	// "s3://name", "file:///root"), which a script cannot hand to
	// `aws s3 cp "s3://$bucket/$key"`. That column becomes location (kept
	// for `verify`, which skips other stores' objects); bucket is now the
	// name alone ("" on fs), and url the object's full address.
	{sql: `ALTER TABLE assets RENAME COLUMN bucket TO location`},
	{sql: `ALTER TABLE assets ADD COLUMN bucket TEXT NOT NULL DEFAULT ''`},
	{sql: `ALTER TABLE assets ADD COLUMN url TEXT NOT NULL DEFAULT ''`},
	{run: fillAddresses},
	// A task's archived_at was also set when it settled incomplete (a video
	// lost): settled_at takes that time for both outcomes, and archived_at
	// stays only on archived tasks.
	{sql: `ALTER TABLE tasks ADD COLUMN settled_at INTEGER`},
	{sql: `UPDATE tasks SET settled_at = archived_at WHERE archive_state IN ('archived', 'incomplete')`},
	{sql: `UPDATE tasks SET archived_at = NULL WHERE archive_state != 'archived'`},
}, statements(
	// 5: leases (lease.go). A task's lease covers its poll or its task.json,
	// an asset's its transfer; on SQLite one run holds them all, and they
	// matter only to the run that restarts after it was killed.
	`ALTER TABLE tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tasks ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE assets ADD COLUMN lease_owner TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE assets ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0`,
	// What one owner holds (release at start, the leases gauge) is read
	// through these, not by a scan of every row.
	`CREATE INDEX tasks_lease ON tasks(lease_owner) WHERE lease_owner != ''`,
	`CREATE INDEX assets_lease ON assets(lease_owner) WHERE lease_owner != ''`,
))

// fillAddresses derives bucket and url (Address) from the location and key
// of every stored asset, in batches by rowid, so that memory stays small
// however many assets the catalog holds. File URLs need percent-encoding,
// which SQL has no function for.
func fillAddresses(ctx context.Context, tx sqlTx) error {
	update, err := tx.PrepareContext(ctx, `UPDATE assets SET bucket=?, url=? WHERE rowid=?`)
	if err != nil {
		return err
	}
	defer update.Close()
	type row struct {
		id            int64
		location, key string
	}
	batch := make([]row, 0, 1000)
	for last := int64(-1 << 63); ; last = batch[len(batch)-1].id {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, location, key FROM assets WHERE rowid > ? AND key != ''
			ORDER BY rowid LIMIT 1000`, last)
		if err != nil {
			return err
		}
		batch = batch[:0]
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.location, &r.key); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, r := range batch {
			bucket, url := Address(r.location, r.key)
			if _, err := update.ExecContext(ctx, bucket, url, r.id); err != nil {
				return err
			}
		}
	}
}

func (c *DB) migrate(ctx context.Context) error {
	return c.migrateTo(ctx, len(migrations))
}

// migrateTo applies the migrations up to schema version target (tests
// build a catalog of an older schema with it).
func (c *DB) migrateTo(ctx context.Context, target int) error {
	var version int
	if err := c.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("catalog schema version %d is newer than this reelvault (%d): upgrade reelvault", version, len(migrations))
	}
	for i := version; i < target; i++ {
		err := c.inTx(ctx, func(tx sqlTx) error {
			m := migrations[i]
			var err error
			if m.run != nil {
				err = m.run(ctx, tx)
			} else {
				_, err = tx.ExecContext(ctx, m.sql)
			}
			if err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			_, err = tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
