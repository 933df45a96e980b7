package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Backlog is what is at risk right now: the numbers an operator alerts on.
type Backlog struct {
	// OldestUnarchived is when the longest-waiting succeeded task finished
	// (its tracking time when the gateway gave none); nil when every
	// succeeded task is archived.
	OldestUnarchived *time.Time
	// NextExpiry is when the first pending video's signed URL dies; nil when
	// no video is pending.
	NextExpiry *time.Time
}

// Backlog reads the loss-risk numbers. Both queries walk a partial index
// (tasks_sidecar, assets_pending) that holds only unfinished work, so their
// cost follows the backlog, not the archive's size; INDEXED BY makes SQLite
// fail loudly rather than fall back to a scan should the index go away.
func (c *DB) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var oldest, next sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT
		(SELECT MIN(CASE WHEN finish_time > 0 THEN finish_time*1000 ELSE tracked_at END)
			FROM tasks`+c.db.d.indexedBy("tasks_sidecar")+` WHERE archive_state='pending'),
		(SELECT MIN(expires_at) FROM assets`+c.db.d.indexedBy("assets_pending")+` WHERE state='pending')`).Scan(&oldest, &next)
	if err != nil {
		return b, fmt.Errorf("read backlog: %w", err)
	}
	if oldest.Valid {
		t := time.UnixMilli(oldest.Int64).UTC()
		b.OldestUnarchived = &t
	}
	if next.Valid {
		t := time.UnixMilli(next.Int64).UTC()
		b.NextExpiry = &t
	}
	return b, nil
}

// Counts returns how many tasks have each status and how many assets each
// state. They are one pass over each table (no index holds every status):
// about a millisecond per 10,000 rows, fine for a scrape every 15 s or more.
func (c *DB) Counts(ctx context.Context) (tasksByStatus, assetsByState map[string]int, err error) {
	if tasksByStatus, err = c.groupCount(ctx, `SELECT status, COUNT(*) FROM tasks GROUP BY status`); err != nil {
		return nil, nil, fmt.Errorf("count tasks by status: %w", err)
	}
	if assetsByState, err = c.groupCount(ctx, `SELECT state, COUNT(*) FROM assets GROUP BY state`); err != nil {
		return nil, nil, fmt.Errorf("count assets by state: %w", err)
	}
	return tasksByStatus, assetsByState, nil
}

func (c *DB) groupCount(ctx context.Context, q string) (map[string]int, error) {
	rows, err := c.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// LastArchivedAt returns when a video was last archived, or nil. It scans
// the assets table, so metrics call it once at start-up and follow the
// archiver's events afterwards.
func (c *DB) LastArchivedAt(ctx context.Context) (*time.Time, error) {
	var v sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT MAX(archived_at) FROM assets WHERE state='archived'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("read last archive time: %w", err)
	}
	return fromMS(v), nil
}

// CheckWritable takes the catalog's write lock and releases it, writing
// nothing: it fails when another writer holds the lock past the busy
// timeout or the database cannot be written. For readiness probes.
func (c *DB) CheckWritable(ctx context.Context) error {
	tx, err := c.db.BeginTx(ctx, nil) // on SQLite BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		return fmt.Errorf("catalog not writable: %w", err)
	}
	defer tx.Rollback()
	// A no-op write, so SQLite checks that the file can be written too.
	if _, err := tx.ExecContext(ctx, `UPDATE tasks SET polls=polls WHERE task_id IS NULL`); err != nil {
		return fmt.Errorf("catalog not writable: %w", err)
	}
	return nil
}
