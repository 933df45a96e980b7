package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; the schema version is SQLite's
// user_version. Never edit a released migration: append a new one.
var migrations = []string{
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
}

func (c *DB) migrate(ctx context.Context) error {
	var version int
	if err := c.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("catalog schema version %d is newer than this reelvault (%d): upgrade reelvault", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		err := c.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
