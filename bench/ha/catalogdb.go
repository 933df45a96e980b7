package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "github.com/mattn/go-sqlite3"    // registers the "sqlite3" driver
)

// catalogDB is the catalog of one trial: a fresh Postgres database on the
// server of scripts/with-postgres.sh, or a SQLite file. The driver reads it
// (counts only) while the instances run; reelvault creates the schema.
type catalogDB struct {
	driver string // "postgres" or "sqlite"
	url    string // postgres: the database's URL
	path   string // sqlite: the file
	admin  string // postgres: the server's admin URL, to drop the database
	name   string
	db     *sql.DB
}

// newPostgresCatalog creates an empty database for one trial.
func newPostgresCatalog(ctx context.Context, admin string) (*catalogDB, error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "rv_ha_" + hex.EncodeToString(b)
	if err := execAdmin(ctx, admin, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE template0`); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("REELVAULT_TEST_PG_URL: %w", err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return &catalogDB{driver: "postgres", url: u.String(), admin: admin, name: name}, nil
}

func newSQLiteCatalog(path string) *catalogDB {
	return &catalogDB{driver: "sqlite", path: path}
}

// open connects the driver's own reader; call it once reelvault has
// created the schema (after track).
func (c *catalogDB) open() error {
	var err error
	if c.driver == "postgres" {
		c.db, err = sql.Open("pgx", c.url)
	} else {
		c.db, err = sql.Open("sqlite3", "file:"+c.path+"?mode=ro&_busy_timeout=5000")
	}
	if err == nil {
		c.db.SetMaxOpenConns(1)
	}
	return err
}

// close closes the reader and drops the Postgres database, with any
// connection an instance left.
func (c *catalogDB) close() error {
	if c.db != nil {
		c.db.Close()
	}
	if c.driver != "postgres" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return execAdmin(ctx, c.admin, `DROP DATABASE IF EXISTS `+pgx.Identifier{c.name}.Sanitize()+` WITH (FORCE)`)
}

// videoCounts are the catalog's videos by outcome.
type videoCounts struct{ total, archived, lost int }

func (c *catalogDB) videos(ctx context.Context) (videoCounts, error) {
	var v videoCounts
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN state = 'archived' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state IN ('expired', 'error') THEN 1 ELSE 0 END), 0) FROM assets`).
		Scan(&v.total, &v.archived, &v.lost)
	return v, err
}

// sample is the number of archived videos at an instant.
type sample struct {
	at       time.Time
	archived int
}

// sampleArchived counts the archived videos every interval until ctx ends,
// then returns the samples.
func (c *catalogDB) sampleArchived(ctx context.Context, interval time.Duration) <-chan []sample {
	out := make(chan []sample, 1)
	go func() {
		var got []sample
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			var n int
			// A failed read (SQLite busy) only costs a sample.
			if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets WHERE state = 'archived'`).Scan(&n); err == nil {
				got = append(got, sample{time.Now(), n})
			}
			select {
			case <-ctx.Done():
				out <- got
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// serverVersion is Postgres's version string.
func serverVersion(ctx context.Context, admin string) string {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "unknown"
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		return "unknown"
	}
	return "PostgreSQL " + v
}

// execAdmin runs one statement on a short-lived connection to the admin
// URL: CREATE and DROP DATABASE cannot run in a transaction.
func execAdmin(ctx context.Context, admin, q string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, q)
	return err
}
