package server_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // these two read the catalog behind its back
	_ "github.com/mattn/go-sqlite3"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/server"
)

func openCatalog(t *testing.T) *catalog.DB {
	t.Helper()
	cat, _ := openCatalogAt(t)
	return cat
}

// openCatalogAt opens a fresh catalog and says where it is (its SQLite file
// or Postgres URL), for tests that read its rows behind the catalog's back.
func openCatalogAt(t *testing.T) (*catalog.DB, string) {
	t.Helper()
	return catalogtest.Open(t, t.TempDir())
}

// taskRow is every column of the task's row in the catalog at where, as
// text, read with plain SQL: what anyone who copies the file, or can read
// the database, can read.
func taskRow(t *testing.T, where, id string) string {
	t.Helper()
	driver, dsn, query := "sqlite3", "file:"+where+"?mode=ro", `SELECT * FROM tasks WHERE task_id = ?`
	if catalogtest.Backend() == "postgres" {
		driver, dsn, query = "pgx", where, `SELECT * FROM tasks WHERE task_id = $1`
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), query, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("task %s has no row in the catalog (%v)", id, rows.Err())
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, c := range cols {
		if v, ok := vals[i].([]byte); ok {
			vals[i] = string(v)
		}
		fmt.Fprintf(&b, "%s=%v\n", c, vals[i])
	}
	return b.String()
}

// logBuffer collects log lines for assertions; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	var buf logBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// serve starts the server's handler on a loopback test listener.
func serve(t *testing.T, opts server.Options) string {
	t.Helper()
	srv := httptest.NewServer(server.New(opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("reply is not the expected JSON: %v\n%s", err, b)
	}
	return v
}
