// Package catalog is reelvault's memory: a database of every tracked task,
// its gateway reply, its polling schedule, and every video asset with where
// it was archived and how it was verified. SQLite is the zero-setup default
// (one `run` at a time, under Lock); Postgres lets several instances share
// the work, each poll and each transfer leased to one instance at a time
// (lease.go). Both engines run the same queries (sqldb.go says how).
//
// The catalog is the source of truth for resuming after a crash: a task's
// next poll time and an asset's next attempt live here, so a restarted
// process picks up exactly where the killed one stopped. An asset is marked
// archived only after the object is stored and verified; a crash in between
// leaves it pending, and the deterministic object key makes the retry
// overwrite rather than duplicate.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// ErrNotFound is returned when a task is not in the catalog.
var ErrNotFound = errors.New("task not in catalog")

// DB is an open catalog.
type DB struct {
	db sqlDB // its dialect is the engine's
	// where names the database for messages: the SQLite file, or the
	// Postgres host, port and database (never the password).
	where string
}

// Open opens (creating if needed) the catalog at path and migrates it to the
// current schema. The directory is created 0700 and the file 0600: the
// catalog holds signed URLs.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	f.Close()
	// WAL lets readers (catalog list) run beside the daemon; the busy
	// timeout makes a brief write overlap wait instead of failing.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	c := &DB{db: sqlDB{DB: db}, where: path}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate catalog %s: %w", path, err)
	}
	return c, nil
}

// Close closes the database.
func (c *DB) Close() error { return c.db.Close() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) *time.Time {
	if !v.Valid || v.Int64 == 0 {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}

// Postgres reports whether the catalog is on Postgres (several instances
// may share it) rather than SQLite (one run at a time, under Lock).
func (c *DB) Postgres() bool { return c.db.d.postgres }

// Where names the catalog for messages and health checks: the SQLite file,
// or "postgres host:port/database"; never a password.
func (c *DB) Where() string { return c.where }

// inTx runs fn in one transaction, committing when it returns nil.
func (c *DB) inTx(ctx context.Context, fn func(tx sqlTx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
