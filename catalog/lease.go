package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Leases share the work among instances on one catalog. A claim marks due
// rows with the claimer's name and an expiry (lease_owner, lease_until) in
// one statement; on Postgres its subquery locks the rows it picks with
// FOR UPDATE SKIP LOCKED, so two instances claiming at once get disjoint
// rows. Another instance passes over a leased row until the lease ends:
// when its holder dies, the row is claimed again after at most one lease.
// Recording the outcome (a poll's reply, a transfer's result) clears the
// lease. A task's lease covers its poll or its task.json, an asset's lease
// its transfer, renewed while the bytes move (RenewAsset).
//
// On SQLite one run holds the catalog (Lock), and leases only tell a
// restarted run what its killed predecessor had in hand: it releases them
// all at start (ReleaseLeases).

// ErrLeaseLost is returned when an instance records the outcome of work
// whose lease another instance has taken over meanwhile: the other
// instance's record stands.
var ErrLeaseLost = errors.New("lease lost to another instance")

// ClaimPolls leases up to limit live tasks whose next poll time has come to
// owner until now+lease, and returns them most overdue first. Tasks owner
// already holds are claimed again: the poll loop claims only between its
// batches, so such a lease is left from a batch whose replies could not be
// recorded (the catalog was locked, the key refused), and must not make
// the task wait out the lease.
func (c *DB) ClaimPolls(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]PollTarget, error) {
	rows, err := c.db.QueryContext(ctx, `UPDATE tasks SET lease_owner=?, lease_until=? WHERE task_id IN (
			SELECT task_id FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?
			AND (lease_until <= ? OR lease_owner = ?)
			ORDER BY next_poll_at LIMIT ?`+c.db.d.skipLocked()+`)
		RETURNING task_id, status, tracked_at, submit_time, not_found_count, polls, next_poll_at`,
		owner, ms(now.Add(lease)), ms(now), ms(now), owner, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due polls: %w", err)
	}
	defer rows.Close()
	type claimed struct {
		PollTarget
		next int64
	}
	var got []claimed
	for rows.Next() {
		var p claimed
		var tracked int64
		if err := rows.Scan(&p.TaskID, &p.Status, &tracked, &p.SubmitTime, &p.NotFoundCount, &p.Polls, &p.next); err != nil {
			return nil, fmt.Errorf("claim due polls: %w", err)
		}
		p.TrackedAt = time.UnixMilli(tracked)
		got = append(got, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim due polls: %w", err)
	}
	// RETURNING comes in no particular order.
	slices.SortFunc(got, func(a, b claimed) int { return int(min(max(a.next-b.next, -1), 1)) })
	out := make([]PollTarget, len(got))
	for i, p := range got {
		out[i] = p.PollTarget
	}
	return out, nil
}

// ClaimSidecars leases to owner up to limit tasks whose videos are all
// settled but whose task.json is not written yet. NOT IN reads the few
// pending videos once; Postgres planned the NOT EXISTS form, on young
// statistics that saw no pending video, as a re-read of every pending video
// per pending task: most of its query time in a fleet's archive runs
// (bench/results-ha.md).
func (c *DB) ClaimSidecars(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `UPDATE tasks SET lease_owner=?, lease_until=? WHERE task_id IN (
			SELECT task_id FROM tasks WHERE archive_state='pending' AND lease_until <= ?
			AND task_id NOT IN (SELECT task_id FROM assets WHERE state='pending')
			LIMIT ?`+c.db.d.skipLocked()+`)
		RETURNING task_id`, owner, ms(now.Add(lease)), ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim tasks awaiting task.json: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("claim tasks awaiting task.json: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClaimAssets leases to owner up to limit pending videos whose next attempt
// has come, and returns them earliest URL expiry first: the video closest
// to being lost goes first. Each carries its lease (Asset.Lease), which the
// outcome's record checks.
func (c *DB) ClaimAssets(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Asset, error) {
	rows, err := c.db.QueryContext(ctx, `UPDATE assets SET lease_owner=?, lease_until=? WHERE (task_id, kind) IN (
			SELECT task_id, kind FROM assets WHERE state='pending' AND next_attempt_at <= ? AND lease_until <= ?
			ORDER BY expires_at LIMIT ?`+c.db.d.skipLocked()+`)
		RETURNING `+assetColumns, owner, ms(now.Add(lease)), ms(now), ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim pending videos: %w", err)
	}
	defer rows.Close()
	var out []Asset
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, fmt.Errorf("claim pending videos: %w", err)
		}
		a.Lease = owner
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim pending videos: %w", err)
	}
	slices.SortFunc(out, func(a, b Asset) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, nil
}

// RenewAsset extends a's lease to until. It returns ErrLeaseLost when the
// lease is no longer a.Lease's (it ran out and another instance took the
// video): the transfer must stop.
func (c *DB) RenewAsset(ctx context.Context, a Asset, until time.Time) error {
	res, err := c.db.ExecContext(ctx, `UPDATE assets SET lease_until=? WHERE task_id=? AND kind=? AND lease_owner=?
		AND state='pending'`, ms(until), a.TaskID, a.Kind, a.Lease)
	if err != nil {
		return fmt.Errorf("renew lease of %s %s: %w", a.TaskID, a.Kind, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %s: %w", a.TaskID, a.Kind, ErrLeaseLost)
	}
	return nil
}

// ReleaseLeases ends every lease that owner holds, or every lease when
// owner is "": a SQLite run that holds the catalog lock releases what a
// killed predecessor left, so nothing waits a lease out.
func (c *DB) ReleaseLeases(ctx context.Context, owner string) error {
	return c.releaseLeases(ctx, owner, "tasks", "assets")
}

// ReleaseVideoLeases ends the video leases owner holds: an archive loop
// that starts again after an error (a catalog that went away mid-write) has
// no transfer in flight, and its videos need not wait their leases out.
func (c *DB) ReleaseVideoLeases(ctx context.Context, owner string) error {
	return c.releaseLeases(ctx, owner, "assets")
}

func (c *DB) releaseLeases(ctx context.Context, owner string, tables ...string) error {
	return c.inTx(ctx, func(tx sqlTx) error {
		for _, table := range tables {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET lease_owner='', lease_until=0
				WHERE lease_owner != '' AND (?='' OR lease_owner=?)`, owner, owner); err != nil {
				return fmt.Errorf("release leases: %w", err)
			}
		}
		return nil
	})
}

// Leases counts the leases owner holds that have not run out: polls and
// task.json writes (tasks), and transfers (videos).
func (c *DB) Leases(ctx context.Context, owner string, now time.Time) (tasks, videos int, err error) {
	err = c.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM tasks WHERE lease_owner=? AND lease_until > ?),
		(SELECT COUNT(*) FROM assets WHERE lease_owner=? AND lease_until > ?)`,
		owner, ms(now), owner, ms(now)).Scan(&tasks, &videos)
	if err != nil {
		return 0, 0, fmt.Errorf("count leases: %w", err)
	}
	return tasks, videos, nil
}

// leaseHeld is the condition that a write of an asset's outcome is still
// its lease holder's: true for a caller without a lease (tools, tests).
const leaseHeld = `(?='' OR lease_owner=?)`

// checkLease turns an asset write that matched no row into ErrLeaseLost.
func checkLease(a Asset, n int64) error {
	if n == 0 && a.Lease != "" {
		return fmt.Errorf("%s %s: %w", a.TaskID, a.Kind, ErrLeaseLost)
	}
	return nil
}

// ReleaseTask ends owner's lease of task id, if it still holds it: for work
// on a task that ended without a record that clears the lease (a task.json
// that will be tried again), so the task need not wait its lease out.
func (c *DB) ReleaseTask(ctx context.Context, id, owner string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET lease_owner='', lease_until=0 WHERE task_id=? AND lease_owner=?`, id, owner)
	if err != nil {
		return fmt.Errorf("release lease of %s: %w", id, err)
	}
	return nil
}

// ReleaseAsset ends a's lease (a.Lease), if it still holds it: for a claimed
// video the instance will not work on now (its previous attempt is still
// winding down), so it need not wait its lease out.
func (c *DB) ReleaseAsset(ctx context.Context, a Asset) error {
	_, err := c.db.ExecContext(ctx, `UPDATE assets SET lease_owner='', lease_until=0 WHERE task_id=? AND kind=?
		AND lease_owner=?`, a.TaskID, a.Kind, a.Lease)
	if err != nil {
		return fmt.Errorf("release lease of %s %s: %w", a.TaskID, a.Kind, err)
	}
	return nil
}
