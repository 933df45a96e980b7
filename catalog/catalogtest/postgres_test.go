package catalogtest

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPostgresURL creates two databases, checks that each is a separate,
// usable database on the same server, and that both are gone once the test
// that made them has finished.
func TestPostgresURL(t *testing.T) {
	admin := connect(t, adminURL(t)) // skips, or fails under CI, before the subtest can
	var names []string
	t.Run("create", func(t *testing.T) {
		first, second := PostgresURL(t), PostgresURL(t)
		if first == second {
			t.Fatalf("got the same URL twice: %s", first)
		}
		notes := []string{"first database", "second database"}
		for i, dsn := range []string{first, second} {
			conn := connect(t, dsn)
			var name string
			if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
				t.Fatalf("current_database on %s: %v", dsn, err)
			}
			if want := strings.TrimPrefix(mustParse(t, dsn).Path, "/"); name != want {
				t.Errorf("connected to database %q, want %q", name, want)
			}
			names = append(names, name)
			// The same table in both: each database must hold its own.
			if _, err := conn.Exec(t.Context(), "CREATE TABLE clips (id int PRIMARY KEY, note text NOT NULL)"); err != nil {
				t.Fatalf("create table in %s: %v", name, err)
			}
			if _, err := conn.Exec(t.Context(), "INSERT INTO clips VALUES (1, $1)", notes[i]); err != nil {
				t.Fatalf("insert into %s: %v", name, err)
			}
		}
		for i, dsn := range []string{first, second} {
			var note string
			var count int
			err := connect(t, dsn).QueryRow(t.Context(), "SELECT max(note), count(*) FROM clips").Scan(&note, &count)
			if err != nil {
				t.Fatalf("select from %s: %v", names[i], err)
			}
			if note != notes[i] || count != 1 {
				t.Errorf("%s holds %d rows, max note %q; want 1 row, %q", names[i], count, note, notes[i])
			}
		}
	})
	if len(names) != 2 {
		t.Fatalf("got %d databases, want 2", len(names))
	}
	if names[0] == names[1] {
		t.Fatalf("both URLs name database %q", names[0])
	}

	for _, name := range names {
		var exists bool
		err := admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
		if err != nil {
			t.Fatalf("look up database %s: %v", name, err)
		}
		if exists {
			t.Errorf("database %s still exists after its test finished", name)
		}
	}
}

// TestPostgresURLWrongPassword pins what the generated password is for: the
// server checks it over TCP, so tests of bad credentials see a real failure.
func TestPostgresURLWrongPassword(t *testing.T) {
	u := mustParse(t, PostgresURL(t))
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	conn, err := pgx.Connect(t.Context(), u.String())
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("connected with a wrong password, want an authentication error")
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != invalidPassword {
		t.Errorf("got error %v, want SQLSTATE %s (invalid_password)", err, invalidPassword)
	}
}

// invalidPassword is the SQLSTATE of a failed password authentication.
const invalidPassword = "28P01"

// TestPostgresURLWithoutServer runs PostgresURL in a child test process with
// no server configured: it must skip normally and fail under CI=true, so CI
// cannot pass with the Postgres suites silently skipped.
func TestPostgresURLWithoutServer(t *testing.T) {
	if os.Getenv("CATALOGTEST_CHILD") == "1" {
		PostgresURL(t)
		return
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantOut  string
	}{
		{"local", "", false, "SKIP"},
		{"CI", "true", true, "CI=true but no PostgreSQL test server: run tests via `make test`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPostgresURLWithoutServer$", "-test.v")
			cmd.Env = append(os.Environ(), "CATALOGTEST_CHILD=1", "CI="+tt.ci, EnvPostgresURL+"=")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.wantOut) {
				t.Errorf("child failed=%v, output:\n%s\nwant failed=%v and output containing %q", failed, out, tt.wantFail, tt.wantOut)
			}
		})
	}
}

func TestBackend(t *testing.T) {
	tests := []struct{ env, want string }{
		{"", "sqlite"},
		{"sqlite", "sqlite"},
		{"postgres", "postgres"},
		{"Postgres", "sqlite"},
	}
	for _, tt := range tests {
		t.Setenv(EnvCatalog, tt.env)
		if got := Backend(); got != tt.want {
			t.Errorf("Backend() with %s=%q: got %q, want %q", EnvCatalog, tt.env, got, tt.want)
		}
	}
}

// connect opens a connection that tb closes when it finishes.
func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), dsn)
	if err != nil {
		tb.Fatalf("connect to %s: %v", dsn, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustParse(tb testing.TB, dsn string) *url.URL {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse %s: %v", dsn, err)
	}
	return u
}
