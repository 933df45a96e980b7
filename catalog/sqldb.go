package catalog

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"unicode/utf8"
)

// dialect is everything that differs between the two engines the catalog
// runs on. The queries are written once, in the SQL both engines speak, with
// SQLite's "?" placeholders; Postgres gets them rewritten to "$n". What SQL
// cannot say alike (the schema and its version, row order, claim locking)
// is asked of the dialect by name.
type dialect struct {
	postgres bool
}

// rowid is the column that orders tasks as they were tracked.
func (d dialect) rowid() string {
	if d.postgres {
		return "seq"
	}
	return "rowid"
}

// skipLocked ends a claim's subquery: on Postgres it locks the rows it picks
// and passes over those another instance is claiming this instant, so two
// instances never take one row. SQLite has one writer at a time and needs
// nothing.
func (d dialect) skipLocked() string {
	if d.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// indexedBy pins a SQLite query to an index (it fails loudly should the
// index go away); Postgres has no such clause.
func (d dialect) indexedBy(index string) string {
	if d.postgres {
		return ""
	}
	return " INDEXED BY " + index
}

// like is the case-insensitive LIKE: SQLite's LIKE already ignores ASCII
// case, Postgres's does not.
func (d dialect) like() string {
	if d.postgres {
		return "ILIKE"
	}
	return "LIKE"
}

// noLimit is the LIMIT value that means "all rows".
func (d dialect) noLimit() any {
	if d.postgres {
		return nil
	}
	return -1
}

// query rewrites a query's placeholders for the engine: "?" becomes "$n" in
// order and "?n" becomes "$n" on Postgres. Quoted strings and identifiers
// are copied as they are.
func (d dialect) query(q string) string {
	if !d.postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
				i = j - 1
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// args makes string arguments storable on Postgres, whose text type holds
// neither NUL nor invalid UTF-8 (SQLite takes both). Gateway replies are
// hostile input: a fail_reason carrying "\u0000" must not make the row
// unwritable, or the task would be polled for ever and its video lost.
func (d dialect) args(args []any) []any {
	if !d.postgres {
		return args
	}
	copied := false
	for i, a := range args {
		if s, ok := a.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			if !copied {
				args, copied = append([]any(nil), args...), true
			}
			args[i] = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
		}
	}
	return args
}

// sqlDB is the catalog's *sql.DB with every query passed through its
// dialect. The methods that take SQL are shadowed, so none can bypass it.
type sqlDB struct {
	*sql.DB
	d dialect
}

func (h sqlDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return h.DB.ExecContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.DB.QueryContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.DB.QueryRowContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (sqlTx, error) {
	tx, err := h.DB.BeginTx(ctx, opts)
	return sqlTx{tx, h.d}, err
}

func (h sqlDB) Conn(ctx context.Context) (sqlConn, error) {
	c, err := h.DB.Conn(ctx)
	return sqlConn{c, h.d}, err
}

// sqlTx is a *sql.Tx through the dialect.
type sqlTx struct {
	*sql.Tx
	d dialect
}

func (h sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return h.Tx.ExecContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.Tx.QueryContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.Tx.QueryRowContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlTx) PrepareContext(ctx context.Context, q string) (sqlStmt, error) {
	s, err := h.Tx.PrepareContext(ctx, h.d.query(q))
	return sqlStmt{s, h.d}, err
}

// sqlStmt is a prepared *sql.Stmt whose arguments pass through the dialect.
type sqlStmt struct {
	*sql.Stmt
	d dialect
}

func (h sqlStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return h.Stmt.ExecContext(ctx, h.d.args(args)...)
}

// sqlConn is a *sql.Conn through the dialect.
type sqlConn struct {
	*sql.Conn
	d dialect
}

func (h sqlConn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return h.Conn.ExecContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlConn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.Conn.QueryContext(ctx, h.d.query(q), h.d.args(args)...)
}

func (h sqlConn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.Conn.QueryRowContext(ctx, h.d.query(q), h.d.args(args)...)
}
