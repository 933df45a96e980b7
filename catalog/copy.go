package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotEmpty is returned by CopyTo when the destination already holds
// tasks: a copy merges nothing, so that no row is silently overwritten.
var ErrNotEmpty = errors.New("destination catalog is not empty")

// copyColumns are the columns CopyTo carries over, per table: everything
// but the row order (rowid, seq), which the destination assigns in the
// source's order, and the leases, which belong to the source's runs.
var copyColumns = map[string][]string{
	"tasks": strings.Fields(`task_id status archive_state action model duration ratio resolution super_resolution
		framespersecond generate_audio seed completion_tokens total_tokens super_resolution_tokens submit_time
		start_time finish_time progress request_id upstream_id upstream_status fail_reason raw_reply tracked_at
		polls last_polled_at next_poll_at not_found_count last_error task_json_key archived_at prompt
		request_params key_fingerprint source archived_bytes settled_at`),
	"assets": strings.Fields(`task_id kind source_url expires_at state location key size sha256 attempts
		next_attempt_at refreshed last_error archived_at media_duration media_width media_height media_check
		bucket url`),
}

// boolColumns hold booleans: INTEGER 0/1 on SQLite, BOOLEAN on Postgres.
var boolColumns = map[string]bool{"generate_audio": true, "refreshed": true}

// CopyTo copies every task and asset of c into dst, which must be empty:
// `reelvault catalog migrate` moves a SQLite catalog into Postgres with it.
// Rows keep every field, signed URLs and schedules included, so the new
// catalog's runs go on where the old one's stopped; tasks keep the order
// they were tracked in. Rows are written in transactions of a few thousand,
// so memory stays small however large the catalog; a copy that fails part
// way leaves dst partly filled, and a new copy needs it emptied first.
// progress, when set, is called after each transaction with the rows so far.
func (c *DB) CopyTo(ctx context.Context, dst *DB, progress func(table string, rows int)) (tasks, assets int, err error) {
	n, err := dst.TaskCount(ctx)
	if err != nil {
		return 0, 0, err
	}
	if n > 0 {
		return 0, 0, fmt.Errorf("%s holds %d tasks: %w", dst.Where(), n, ErrNotEmpty)
	}
	if tasks, err = c.copyTable(ctx, dst, "tasks", progress); err != nil {
		return tasks, 0, err
	}
	assets, err = c.copyTable(ctx, dst, "assets", progress)
	return tasks, assets, err
}

// copyBatch is how many rows one destination transaction writes.
const copyBatch = 2000

func (c *DB) copyTable(ctx context.Context, dst *DB, table string, progress func(string, int)) (int, error) {
	cols := copyColumns[table]
	order := c.db.d.rowid()
	if table == "assets" {
		order = "task_id, kind"
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+order)
	if err != nil {
		return 0, fmt.Errorf("copy %s: read %s: %w", table, c.Where(), err)
	}
	defer rows.Close()
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` +
		strings.Repeat(", ?", len(cols)-1) + `)`
	batch := make([][]any, 0, copyBatch)
	total := 0
	flush := func() error {
		err := dst.inTx(ctx, func(tx sqlTx) error {
			stmt, err := tx.PrepareContext(ctx, insert)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, vals := range batch {
				if _, err := stmt.ExecContext(ctx, vals...); err != nil {
					return fmt.Errorf("%s row %v: %w", table, vals[0], err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy %s: write %s: %w", table, dst.Where(), err)
		}
		total += len(batch)
		batch = batch[:0]
		if progress != nil {
			progress(table, total)
		}
		return nil
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return total, fmt.Errorf("copy %s: read %s: %w", table, c.Where(), err)
		}
		for i, col := range cols {
			switch v := vals[i].(type) {
			case []byte:
				vals[i] = string(v)
			case int64:
				if boolColumns[col] {
					vals[i] = v != 0
				}
			}
		}
		batch = append(batch, vals)
		if len(batch) == copyBatch {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return total, fmt.Errorf("copy %s: read %s: %w", table, c.Where(), err)
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return total, err
		}
	}
	return total, nil
}
