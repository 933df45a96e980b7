package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Filter narrows and orders Tasks and List. Zero values match everything.
type Filter struct {
	Status       string
	ArchiveState string
	Model        string
	Action       string
	// Resolution matches the task's resolution or its super-resolution
	// target, so "1080p" finds videos that were enhanced to 1080p.
	Resolution string
	Ratio      string
	// Since and Until bound the finish time: Since <= finish < Until. Either
	// one leaves out unfinished tasks.
	Since, Until time.Time
	// PromptWords must all appear in the prompt, case-insensitively (ASCII).
	PromptWords []string
	// Sort is one of Sorts, with a leading "-" for descending; "" is
	// "-finish_time", most recently finished first. Ties go by task id in
	// the same direction, so an order is total and survives a rebuild.
	Sort   string
	Limit  int // 0 = no limit
	Offset int
}

// Sorts are the fields Filter.Sort accepts.
var Sorts = []string{"finish_time", "submit_time", "task_id", "size", "model", "tracked"}

// orderBy maps a sort field to its ORDER BY terms; each is served by an
// index (see migrations) so a sorted page with LIMIT reads only that page.
var orderBy = map[string][]string{
	"finish_time": {"finish_time", "task_id"},
	"submit_time": {"submit_time", "task_id"},
	"task_id":     {"task_id"},
	"size":        {"archived_bytes", "task_id"},
	"model":       {"model", "finish_time", "task_id"},
	// tracked is table order, the order reelvault learned of the tasks: the
	// cheapest full scan, used by export.
	"tracked": {"rowid"}, // dialect.rowid
}

// ParseSort checks a --sort value: a field of Sorts, optionally with a
// leading "-" for descending.
func ParseSort(s string) error {
	if s == "" || slices.Contains(Sorts, strings.TrimPrefix(s, "-")) {
		return nil
	}
	return fmt.Errorf("unknown sort %q: want one of %s, with a leading - for descending", s, strings.Join(Sorts, ", "))
}

// query builds the SELECT of f over cols.
func (f Filter) query(d dialect, cols string) (string, []any, error) {
	where, args := f.where(d)
	sort := f.Sort
	if sort == "" {
		sort = "-finish_time"
	}
	if err := ParseSort(sort); err != nil {
		return "", nil, err
	}
	dir := " ASC"
	if strings.HasPrefix(sort, "-") {
		dir = " DESC"
	}
	terms := slices.Clone(orderBy[strings.TrimPrefix(sort, "-")])
	for i := range terms {
		if terms[i] == "rowid" {
			terms[i] = d.rowid()
		}
		terms[i] += dir
	}
	q := `SELECT ` + cols + ` FROM tasks` + where + ` ORDER BY ` + strings.Join(terms, ", ")
	if f.Limit > 0 || f.Offset > 0 {
		var limit any = f.Limit
		if f.Limit <= 0 {
			limit = d.noLimit()
		}
		q += ` LIMIT ? OFFSET ?`
		args = append(args, limit, f.Offset)
	}
	return q, args, nil
}

// where is f's WHERE clause ("" when f matches everything) and its arguments.
func (f Filter) where(d dialect) (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"status", f.Status}, {"archive_state", f.ArchiveState}, {"model", f.Model}, {"action", f.Action},
		{"ratio", f.Ratio},
	} {
		if c.val != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.Resolution != "" {
		conds = append(conds, "(resolution = ? OR super_resolution = ?)")
		args = append(args, f.Resolution, f.Resolution)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "finish_time >= ?")
		args = append(args, max(f.Since.Unix(), 1))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "finish_time > 0", "finish_time < ?")
		args = append(args, f.Until.Unix())
	}
	for _, w := range f.PromptWords {
		if w != "" {
			conds = append(conds, `prompt `+d.like()+` ? ESCAPE '\'`)
			args = append(args, "%"+likeEscaper.Replace(w)+"%")
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, " AND "), args
}
