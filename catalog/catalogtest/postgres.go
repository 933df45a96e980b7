// Package catalogtest gives tests a real catalog database: a fresh
// PostgreSQL database per test on the server scripts/with-postgres.sh starts,
// and the switch that picks which catalog backend a suite runs on.
//
// It is a regular package, not a _test file, so the tests of every package
// that opens a catalog (archiver, cmd, web, server, ...) can share it.
package catalogtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables exported by scripts/with-postgres.sh, and the one
// that selects the catalog backend for a test run.
const (
	EnvPostgresURL   = "REELVAULT_TEST_PG_URL"   // admin URL of the test server
	EnvPostgresStop  = "REELVAULT_TEST_PG_STOP"  // script that stops it
	EnvPostgresStart = "REELVAULT_TEST_PG_START" // script that starts it again
	EnvCatalog       = "REELVAULT_TEST_CATALOG"  // "postgres" selects the Postgres catalog
)

// adminTimeout bounds each CREATE or DROP DATABASE: a server that hangs should
// fail the test with a message, not run into the go test deadline.
const adminTimeout = time.Minute

// Backend returns the catalog backend the suites should run on: "postgres"
// when REELVAULT_TEST_CATALOG=postgres (the second pass of `make test`),
// "sqlite" otherwise, so a plain `go test` needs no server.
func Backend() string {
	if os.Getenv(EnvCatalog) == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// PostgresURL creates a fresh, uniquely named database on the test server
// and returns its URL (same credentials, host and port as the admin URL). A
// database per test keeps parallel tests and packages, which share the one
// server, from seeing each other's rows or schema versions. The database is
// dropped, with any connections left open to it, when tb finishes.
//
// Without a server the test is skipped, except under CI=true: there a skip
// would hide a suite that never ran, so it fails instead.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := adminURL(tb)
	name := "rv_" + randomHex(8)
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(tb.Context(), adminTimeout)
	defer cancel()
	if err := execAdmin(ctx, admin, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		tb.Fatalf("create test database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		// tb.Context() is already cancelled when cleanups run, and a
		// connection from before a RestartPostgres may be dead: dial anew.
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := execAdmin(ctx, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})

	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// RestartPostgres stops the test server and starts it again on the same port
// and data, for tests of reconnecting after the database went away. Every
// open connection breaks, including those of other packages' tests running
// at the same time, so a caller should expect only its own database to be
// usable afterwards, not anyone else's connections.
//
// It fails the test when scripts/with-postgres.sh did not export the helpers.
func RestartPostgres(tb testing.TB) {
	tb.Helper()
	stop, start := os.Getenv(EnvPostgresStop), os.Getenv(EnvPostgresStart)
	if stop == "" || start == "" {
		tb.Fatalf("%s or %s unset: run the test via scripts/with-postgres.sh", EnvPostgresStop, EnvPostgresStart)
	}
	for _, script := range []string{stop, start} {
		// Not tb.Context(): a start must not be cut short, leaving the
		// server down for every other test.
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		out, err := exec.CommandContext(ctx, script).CombinedOutput()
		cancel()
		if err != nil {
			tb.Fatalf("restart postgres: %s: %v\n%s", script, err, out)
		}
	}
}

// adminURL returns the server's admin URL, or skips or fails tb without one.
func adminURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvPostgresURL); u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("CI=true but no PostgreSQL test server: run tests via `make test`")
	}
	tb.Skip("no PostgreSQL test server (" + EnvPostgresURL + " unset): run via scripts/with-postgres.sh")
	return ""
}

// execAdmin runs one statement on a short-lived connection to the admin URL.
// CREATE and DROP DATABASE cannot run inside a transaction, so no pool or
// transaction is involved.
func execAdmin(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// randomHex returns n random bytes in hex: lower case, so the database name
// needs no quoting in psql, and unique enough for every test of a run.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
