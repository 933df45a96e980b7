package catalog

import (
	"context"
	"fmt"
)

// SchemaVersion reports the catalog's schema version and the newest this
// build knows; after Open they are equal.
func (c *DB) SchemaVersion(ctx context.Context) (version, latest int, err error) {
	if c.db.d.postgres {
		if err := c.db.QueryRowContext(ctx, `SELECT version FROM reelvault_schema`).Scan(&version); err != nil {
			return 0, 0, fmt.Errorf("read schema version: %w", err)
		}
		return version, len(postgresMigrations), nil
	}
	if err := c.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, len(migrations), nil
}

// TaskCount returns how many tasks the catalog holds.
func (c *DB) TaskCount(ctx context.Context) (int, error) {
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}
