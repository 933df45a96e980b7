package catalog

import (
	"context"
	"fmt"
	"strings"
)

// CountMatching returns how many tasks match f, ignoring its Limit, Offset
// and Sort: the "of N" beside a page of List.
func (c *DB) CountMatching(ctx context.Context, f Filter) (int, error) {
	where, args := f.where(c.db.d)
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}

// likeEscaper escapes LIKE's wildcards so a prompt word matches literally
// (Filter.PromptWords).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Facets are the distinct values a filter form offers, sorted.
type Facets struct {
	Statuses      []string
	ArchiveStates []string
	Models        []string
	Resolutions   []string
}

// Facets reads the distinct statuses, archive states, models and
// resolutions (plain and super-resolution) in the catalog; empty values are
// left out.
func (c *DB) Facets(ctx context.Context) (Facets, error) {
	var f Facets
	for _, q := range []struct {
		dst *[]string
		sql string
	}{
		{&f.Statuses, `SELECT DISTINCT status AS v FROM tasks`},
		{&f.ArchiveStates, `SELECT DISTINCT archive_state AS v FROM tasks`},
		{&f.Models, `SELECT DISTINCT model AS v FROM tasks`},
		{&f.Resolutions, `SELECT resolution AS v FROM tasks UNION SELECT super_resolution FROM tasks`},
	} {
		vals, err := c.distinct(ctx, `SELECT v FROM (`+q.sql+`) AS f WHERE v != '' ORDER BY v`)
		if err != nil {
			return Facets{}, fmt.Errorf("read filter values: %w", err)
		}
		*q.dst = vals
	}
	return f, nil
}

func (c *DB) distinct(ctx context.Context, q string) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
