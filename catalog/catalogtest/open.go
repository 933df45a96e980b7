package catalogtest

import (
	"path/filepath"
	"testing"

	"github.com/reelvault/reelvault/catalog"
)

// Open opens an empty catalog on the backend the suite runs on (Backend):
// a SQLite file under dir, or a fresh Postgres database. It is closed when
// the test ends. Where says what a config names it by: the SQLite path, or
// the Postgres URL.
func Open(tb testing.TB, dir string) (db *catalog.DB, where string) {
	tb.Helper()
	where = filepath.Join(dir, "catalog.db")
	var err error
	if Backend() == "postgres" {
		where = PostgresURL(tb)
		db, err = catalog.OpenPostgres(tb.Context(), where)
	} else {
		db, err = catalog.Open(tb.Context(), where)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, where
}
