package catalog

import (
	"context"
	"fmt"
	"time"
)

// SourceDiscover marks ids found in the gateway's own task listing.
const SourceDiscover = "discover"

// TrackDiscovered tracks ids found by discovery, in one transaction, and
// returns those that were not tracked before, in the order given: what a
// discovery pass prints. Ids already tracked keep their first source.
func (c *DB) TrackDiscovered(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	var added []string
	err := c.inTx(ctx, func(tx sqlTx) error {
		added = added[:0]
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO tasks (task_id, tracked_at, next_poll_at, source) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			res, err := stmt.ExecContext(ctx, id, ms(now), ms(now), SourceDiscover)
			if err != nil {
				return fmt.Errorf("track %s: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added = append(added, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}
