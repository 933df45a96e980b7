package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Asset kinds: the video a user sees, and for super-resolution tasks the
// pre-enhancement original.
const (
	KindResult   = "result"
	KindOriginal = "original"
)

// Asset states.
const (
	AssetPending  = "pending"
	AssetArchived = "archived"
	AssetExpired  = "expired" // the signed URL died before a verified copy was made
	AssetError    = "error"   // refused for good (e.g. a URL the policy forbids)
)

// Asset is one video of a task. Bucket is the name of the bucket it is in
// ("" on fs) and URL its full address ("s3://bucket/key", or the file://
// URL of the file): see Address. Both are "" until the video is archived.
type Asset struct {
	TaskID     string     `json:"-"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	Bucket     string     `json:"bucket"`
	Key        string     `json:"key"`
	URL        string     `json:"url"`
	Size       int64      `json:"size"`
	SHA256     string     `json:"sha256"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ArchivedAt *time.Time `json:"archived_at"`
	Attempts   int        `json:"attempts"`
	LastError  string     `json:"last_error"`
	Refreshed  bool       `json:"-"`

	// The media check: what the stored MP4's own boxes say, and whether it
	// agrees with the task record ("ok", or what differs; "" = not checked).
	MediaDuration float64 `json:"media_duration"`
	MediaWidth    int     `json:"media_width"`
	MediaHeight   int     `json:"media_height"`
	MediaCheck    string  `json:"media_check"`

	// SourceURL is the signed URL; it never leaves the catalog.
	SourceURL string `json:"-"`
	// Lease is the instance whose lease the asset was claimed under
	// (ClaimAssets); writes of the outcome hold only while it still is.
	Lease string `json:"-"`
	// Location is the store the video went to (storage.Store.Location:
	// "minio://bucket" tells the drivers apart where URL does not), for
	// `reelvault verify` to skip objects of another store.
	Location string `json:"-"`
}

const assetColumns = `task_id, kind, state, bucket, key, url, size, sha256, expires_at, archived_at, attempts, last_error,
	refreshed, source_url, location, media_duration, media_width, media_height, media_check`

func scanAsset(s interface{ Scan(...any) error }) (Asset, error) {
	var a Asset
	var expires int64
	var archived sql.NullInt64
	err := s.Scan(&a.TaskID, &a.Kind, &a.State, &a.Bucket, &a.Key, &a.URL, &a.Size, &a.SHA256, &expires, &archived,
		&a.Attempts, &a.LastError, &a.Refreshed, &a.SourceURL, &a.Location, &a.MediaDuration, &a.MediaWidth,
		&a.MediaHeight, &a.MediaCheck)
	a.ExpiresAt = timeMS(expires)
	a.ArchivedAt = timePtrMS(archived)
	return a, err
}

// NextAssetAttempt returns when the earliest pending asset may be tried.
func (c *DB) NextAssetAttempt(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM assets WHERE state='pending'`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(v.Int64), true, nil
}

// AssetArchived records a stored and verified video: where (Location,
// Bucket, Key, URL), its size and sha256, and its media check.
func (c *DB) AssetArchived(ctx context.Context, a Asset, now time.Time) error {
	res, err := c.db.ExecContext(ctx, `UPDATE assets SET state='archived', location=?, bucket=?, key=?, url=?, size=?,
		sha256=?, archived_at=?, attempts=attempts+1, last_error='', media_duration=?, media_width=?, media_height=?,
		media_check=?, lease_owner='', lease_until=0 WHERE task_id=? AND kind=? AND `+leaseHeld,
		a.Location, a.Bucket, a.Key, a.URL, a.Size, a.SHA256, ms(now), a.MediaDuration, a.MediaWidth, a.MediaHeight,
		a.MediaCheck, a.TaskID, a.Kind, a.Lease, a.Lease)
	if err != nil {
		return fmt.Errorf("record archived %s %s: %w", a.TaskID, a.Kind, err)
	}
	n, _ := res.RowsAffected()
	return checkLease(a, n)
}

// AssetRetry records a failed attempt and when to try again.
func (c *DB) AssetRetry(ctx context.Context, a Asset, reason string, next time.Time) error {
	err := c.inTx(ctx, func(tx sqlTx) error {
		_, err := failedAttempt(ctx, tx, a, `attempts=attempts+1, last_error=?, next_attempt_at=?`, reason, ms(next))
		return err
	})
	if err != nil {
		return fmt.Errorf("record failed attempt %s %s: %w", a.TaskID, a.Kind, err)
	}
	return nil
}

// AssetGone ends an asset that can no longer be archived: state is
// AssetExpired or AssetError, and reason says why.
func (c *DB) AssetGone(ctx context.Context, a Asset, state, reason string) error {
	err := c.inTx(ctx, func(tx sqlTx) error {
		_, err := failedAttempt(ctx, tx, a, `state=?, attempts=attempts+1, last_error=?`, state, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("record %s %s as %s: %w", a.TaskID, a.Kind, state, err)
	}
	return nil
}

// AssetRefreshing marks that a fresh URL was asked for (once per asset) and
// schedules the task's re-poll; the asset waits until the poll updates it,
// or until retryAt if the poll brings nothing.
func (c *DB) AssetRefreshing(ctx context.Context, a Asset, reason string, now, retryAt time.Time) error {
	return c.inTx(ctx, func(tx sqlTx) error {
		fresh, err := failedAttempt(ctx, tx, a, `refreshed=TRUE, attempts=attempts+1, last_error=?, next_attempt_at=?`,
			reason, ms(retryAt))
		if err != nil || fresh {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET next_poll_at=? WHERE task_id=?`, ms(now), a.TaskID)
		return err
	})
}

// failedAttempt records what a failed attempt at a means (set, with its
// arguments) and ends its lease; it returns ErrLeaseLost when another
// instance holds the asset now. A re-poll may have brought a fresh URL
// while the attempt ran on the old one (a.SourceURL): the failure says
// nothing of the fresh URL then, so only the lease is ended (fresh), and
// the next attempt uses the fresh URL.
func failedAttempt(ctx context.Context, tx sqlTx, a Asset, set string, args ...any) (fresh bool, err error) {
	args = append(args, a.TaskID, a.Kind, a.Lease, a.Lease, a.SourceURL, a.SourceURL)
	res, err := tx.ExecContext(ctx, `UPDATE assets SET `+set+`, lease_owner='', lease_until=0
		WHERE task_id=? AND kind=? AND `+leaseHeld+` AND (?='' OR source_url=?)`, args...)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 || a.SourceURL == "" {
		return false, checkLease(a, n)
	}
	res, err = tx.ExecContext(ctx, `UPDATE assets SET lease_owner='', lease_until=0
		WHERE task_id=? AND kind=? AND `+leaseHeld+` AND source_url!=?`, a.TaskID, a.Kind, a.Lease, a.Lease, a.SourceURL)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return true, nil
	}
	return false, checkLease(a, 0)
}

// SidecarWritten records the stored task.json and settles the task's archive
// state: archived when every video is, incomplete otherwise. settled_at is
// now either way; archived_at only when the task is archived, so that it
// never dates an archive that did not happen.
func (c *DB) SidecarWritten(ctx context.Context, id, key string, now time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET task_json_key=?1, settled_at=CAST(?2 AS BIGINT), lease_owner='', lease_until=0,
		archive_state=CASE WHEN EXISTS (SELECT 1 FROM assets WHERE task_id=?3 AND state!='archived') THEN 'incomplete' ELSE 'archived' END,
		archived_at=CASE WHEN EXISTS (SELECT 1 FROM assets WHERE task_id=?3 AND state!='archived') THEN NULL ELSE CAST(?2 AS BIGINT) END
		WHERE task_id=?3`, key, ms(now), id)
	if err != nil {
		return fmt.Errorf("record task.json of %s: %w", id, err)
	}
	return nil
}

// SidecarFailed settles a task whose task.json can never be written (the
// storage refuses that object, or it cannot be encoded): incomplete, with
// the reason in last_error and settled_at now, so that it stops being
// retried and the rest of the archive goes on. Its videos keep their own
// states.
func (c *DB) SidecarFailed(ctx context.Context, id, reason string, now time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tasks SET archive_state='incomplete', last_error=?, settled_at=?,
		lease_owner='', lease_until=0 WHERE task_id=? AND archive_state='pending'`, reason, ms(now), id)
	if err != nil {
		return fmt.Errorf("record failed task.json of %s: %w", id, err)
	}
	return nil
}

// LostAssets counts videos that ended expired or refused.
func (c *DB) LostAssets(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets WHERE state IN ('expired','error')`).Scan(&n)
	return n, err
}
