package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// StatsDims are the dimensions Stats can group by. day and month are the
// task's finish time in UTC ("unfinished" when it has none); resolution is
// the delivered one (the super-resolution target when there is one).
var StatsDims = []string{"model", "day", "month", "resolution", "action"}

// Unfinished labels the day and month of tasks without a finish time.
const Unfinished = "unfinished"

// StatsGroup is what one group of tasks holds and cost. JSON field names are
// stable: fields are only ever added.
type StatsGroup struct {
	// Key holds the group's value of each --by dimension.
	Key                   map[string]string `json:"key,omitempty"`
	Tasks                 int64             `json:"tasks"`
	ByStatus              map[string]int64  `json:"by_status"`
	ByArchiveState        map[string]int64  `json:"by_archive_state"` // "none": nothing to archive
	BytesStored           int64             `json:"bytes_stored"`
	VideoSeconds          float64           `json:"video_seconds"` // of SUCCESS tasks
	CompletionTokens      int64             `json:"completion_tokens"`
	TotalTokens           int64             `json:"total_tokens"`
	SuperResolutionTokens int64             `json:"super_resolution_tokens"`
}

// Stats is the answer of DB.Stats: groups in key order, and the total.
type Stats struct {
	By     []string     `json:"by"`
	Groups []StatsGroup `json:"groups"`
	Total  StatsGroup   `json:"total"`
}

// statsColumns are the leading columns of the tasks_stats index, in order;
// the expressions must match the index definition exactly.
var statsColumns = []struct{ dim, expr string }{
	{"model", "model"},
	{"day", "finish_time/86400"},
	{"status", "status"},
	{"archive_state", "archive_state"},
	{"action", "action"},
	{"resolution", "(CASE WHEN super_resolution != '' THEN super_resolution ELSE resolution END)"},
}

// statsQuery groups by the shortest prefix of the tasks_stats index that
// holds every dimension asked for plus status and archive state, so SQLite
// aggregates in index order without sorting; Stats rolls the rows up.
func statsQuery(by []string) (string, int) {
	n := 4 // model, day, status, archive_state
	for _, d := range by {
		for i, c := range statsColumns {
			if c.dim == d || d == "month" && c.dim == "day" {
				n = max(n, i+1)
			}
		}
	}
	exprs := make([]string, n)
	for i := range n {
		exprs[i] = statsColumns[i].expr
	}
	cols := strings.Join(exprs, ", ")
	return `SELECT ` + cols + `, COUNT(*), SUM(archived_bytes), SUM(duration), SUM(completion_tokens),
		SUM(total_tokens), SUM(super_resolution_tokens) FROM tasks GROUP BY ` + cols, n
}

// Stats counts tasks by status and archive state and sums bytes stored,
// video seconds and tokens, per group of the dimensions in by (see
// StatsDims; none gives the total only).
func (c *DB) Stats(ctx context.Context, by []string) (Stats, error) {
	for _, d := range by {
		if !slices.Contains(StatsDims, d) {
			return Stats{}, fmt.Errorf("unknown stats dimension %q: want %s", d, strings.Join(StatsDims, ", "))
		}
	}
	q, n := statsQuery(by)
	conn, err := c.readConn(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	out := Stats{By: slices.Clone(by), Groups: []StatsGroup{}, Total: newStatsGroup(nil)}
	if out.By == nil {
		out.By = []string{}
	}
	groups := map[string]*StatsGroup{}
	vals := make([]any, n+6)
	keys := make([]string, n)
	var day int64
	var g StatsGroup
	for i := range n {
		vals[i] = &keys[i]
	}
	vals[1] = &day
	vals[n], vals[n+1], vals[n+2] = &g.Tasks, &g.BytesStored, &g.VideoSeconds
	vals[n+3], vals[n+4], vals[n+5] = &g.CompletionTokens, &g.TotalTokens, &g.SuperResolutionTokens
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		status, state := keys[2], cmp.Or(keys[3], "none")
		if status != "SUCCESS" {
			g.VideoSeconds = 0
		}
		key := map[string]string{}
		for _, d := range by {
			key[d] = dimValue(d, keys, day)
		}
		id := groupID(by, key)
		dst := groups[id]
		if dst == nil {
			ng := newStatsGroup(key)
			dst = &ng
			groups[id] = dst
		}
		for _, sum := range []*StatsGroup{dst, &out.Total} {
			sum.add(g, status, state)
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	if len(by) > 0 {
		for _, g := range groups {
			out.Groups = append(out.Groups, *g)
		}
		slices.SortFunc(out.Groups, func(a, b StatsGroup) int {
			for _, d := range by {
				if c := strings.Compare(a.Key[d], b.Key[d]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	return out, nil
}

func newStatsGroup(key map[string]string) StatsGroup {
	return StatsGroup{Key: key, ByStatus: map[string]int64{}, ByArchiveState: map[string]int64{}}
}

func (s *StatsGroup) add(g StatsGroup, status, state string) {
	s.Tasks += g.Tasks
	s.ByStatus[status] += g.Tasks
	s.ByArchiveState[state] += g.Tasks
	s.BytesStored += g.BytesStored
	s.VideoSeconds += g.VideoSeconds
	s.CompletionTokens += g.CompletionTokens
	s.TotalTokens += g.TotalTokens
	s.SuperResolutionTokens += g.SuperResolutionTokens
}

func dimValue(dim string, keys []string, day int64) string {
	switch dim {
	case "model":
		return keys[0]
	case "day", "month":
		if day <= 0 {
			return Unfinished
		}
		layout := "2006-01-02"
		if dim == "month" {
			layout = "2006-01"
		}
		return time.Unix(day*86400, 0).UTC().Format(layout)
	case "action":
		return keys[4]
	default:
		return keys[5]
	}
}

func groupID(by []string, key map[string]string) string {
	var b strings.Builder
	for _, d := range by {
		b.WriteString(key[d])
		b.WriteByte(0)
	}
	return b.String()
}
