package catalog

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Formats are the machine-readable outputs of TaskWriter. Their fields are
// stable: they are only ever added, never renamed or removed.
//
//   - json: one array of Task objects (the JSON field names of Task and
//     Asset), indented.
//   - jsonl: the same objects, one per line.
//   - csv: a header line, then one line per task with CSVHeader's columns;
//     times are RFC 3339 UTC, empty when unknown; the result and original
//     videos get a column group each. Columns added later come last, so a
//     reader that takes columns by position keeps working.
var Formats = []string{"json", "jsonl", "csv"}

// CSVHeader is the column list of the csv format.
var CSVHeader = []string{
	"task_id", "status", "archive_state", "action", "model", "duration", "ratio", "resolution",
	"super_resolution", "framespersecond", "generate_audio", "seed", "completion_tokens", "total_tokens",
	"super_resolution_tokens", "submit_time", "start_time", "finish_time", "fail_reason", "prompt", "source",
	"task_json_key", "archived_at", "bucket",
	"result_state", "result_key", "result_size", "result_sha256", "result_media_check",
	"original_state", "original_key", "original_size", "original_sha256", "original_media_check",
	"settled_at", "result_url", "original_url",
}

// TaskWriter encodes tasks one at a time in one of Formats, so a listing of
// any size streams.
type TaskWriter struct {
	w      *bufio.Writer
	format string
	csv    *csv.Writer
	n      int
	row    []string
}

// NewTaskWriter returns a writer of format (one of Formats) onto w.
func NewTaskWriter(w io.Writer, format string) (*TaskWriter, error) {
	return newTaskWriter(w, format, true)
}

// newTaskWriter is NewTaskWriter, without the csv header line when header
// is false (for a chunk of a longer output).
func newTaskWriter(w io.Writer, format string, header bool) (*TaskWriter, error) {
	tw := &TaskWriter{w: bufio.NewWriterSize(w, 64<<10), format: format}
	switch format {
	case "json", "jsonl":
	case "csv":
		tw.csv = csv.NewWriter(tw.w)
		tw.row = make([]string, len(CSVHeader))
		if !header {
			break
		}
		if err := tw.csv.Write(CSVHeader); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown format %q: want json, jsonl or csv", format)
	}
	return tw, nil
}

// Write encodes one task.
func (tw *TaskWriter) Write(t Task) error {
	tw.n++
	switch tw.format {
	case "json":
		b, err := json.MarshalIndent(t, "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n  "
		if tw.n == 1 {
			sep = "[\n  "
		}
		tw.w.WriteString(sep)
		_, err = tw.w.Write(b)
		return err
	case "jsonl":
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		tw.w.Write(b)
		return tw.w.WriteByte('\n')
	default:
		return tw.csv.Write(tw.csvRow(t))
	}
}

// Close ends the output (the json array's closing bracket) and flushes it.
func (tw *TaskWriter) Close() error {
	switch {
	case tw.format == "json" && tw.n == 0:
		tw.w.WriteString("[]\n")
	case tw.format == "json":
		tw.w.WriteString("\n]\n")
	case tw.csv != nil:
		tw.csv.Flush()
		if err := tw.csv.Error(); err != nil {
			return err
		}
	}
	return tw.w.Flush()
}

func (tw *TaskWriter) csvRow(t Task) []string {
	unix := func(s int64) string {
		if s <= 0 {
			return ""
		}
		return time.Unix(s, 0).UTC().Format(time.RFC3339)
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	r := append(tw.row[:0], t.TaskID, t.Status, t.ArchiveState, t.Action, t.Model, num(t.Duration), t.Ratio,
		t.Resolution, t.SuperResolution, num(t.FramesPerSecond), strconv.FormatBool(t.GenerateAudio),
		strconv.FormatInt(t.Seed, 10), strconv.FormatInt(t.CompletionTokens, 10),
		strconv.FormatInt(t.TotalTokens, 10), strconv.FormatInt(t.SuperResolutionTokens, 10),
		unix(t.SubmitTime), unix(t.StartTime), unix(t.FinishTime), t.FailReason, t.Prompt, t.Source,
		t.TaskJSONKey, when(t.ArchivedAt), "")
	bucket := len(r) - 1
	var urls [2]string
	for i, kind := range []string{KindResult, KindOriginal} {
		var cells [5]string
		for _, a := range t.Assets {
			if a.Kind != kind {
				continue
			}
			if r[bucket] == "" {
				r[bucket] = a.Bucket
			}
			size := ""
			if a.Size > 0 {
				size = strconv.FormatInt(a.Size, 10)
			}
			cells = [5]string{a.State, a.Key, size, a.SHA256, a.MediaCheck}
			urls[i] = a.URL
		}
		r = append(r, cells[:]...)
	}
	return append(r, when(t.SettledAt), urls[0], urls[1])
}

// csvUnused are the columns the csv format does not print: export leaves
// them out of its query, as each column read costs a conversion per row.
var csvUnused = map[string]string{
	"t.progress": "''", "t.request_id": "''", "t.upstream_id": "''", "t.upstream_status": "''",
	"t.tracked_at": "0", "t.polls": "0", "t.last_error": "''", "t.request_params": "''", "t.key_fingerprint": "''",
	"a.expires_at": "0", "a.archived_at": "NULL", "a.attempts": "0", "a.last_error": "''", "a.refreshed": "0",
	"a.media_duration": "0", "a.media_width": "0", "a.media_height": "0",
}

// exportQuery reads every task with its assets in one pass: the table in its
// own order, each task's assets found through the primary key of assets. One
// query instead of one per batch spares SQLite building and sorting an IN
// list per batch.
func exportQuery(d dialect, format string) string {
	var cols []string
	add := func(col, expr string) {
		if v, ok := csvUnused[col]; ok && format == "csv" {
			expr = v
		}
		cols = append(cols, expr)
	}
	for c := range strings.SplitSeq(listColumns, ",") {
		c = strings.TrimSpace(c)
		if c == "''" {
			add(c, c)
			continue
		}
		add("t."+c, "t."+c)
	}
	for c := range strings.SplitSeq(listAssetColumns, ",") {
		switch c = strings.TrimSpace(c); c {
		case "''":
			add(c, c)
		case "archived_at":
			add("a."+c, "a."+c)
		case "refreshed":
			add("a."+c, "COALESCE(a."+c+", FALSE)")
		case "size", "expires_at", "attempts", "media_duration", "media_width", "media_height":
			add("a."+c, "COALESCE(a."+c+", 0)")
		default:
			add("a."+c, "COALESCE(a."+c+", '')")
		}
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM tasks t LEFT JOIN assets a ON a.task_id = t.task_id
		WHERE t.` + d.rowid() + ` >= ? AND t.` + d.rowid() + ` < ? ORDER BY t.` + d.rowid()
}

// everyTask calls fn for every task of query (an exportQuery, with its
// rowid range in args) with its assets (the result video first), in table
// order, holding one task in memory at a time.
func (c *DB) everyTask(ctx context.Context, query string, args []any, fn func(Task) error) error {
	conn, err := c.readConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var tr taskRow
	var ar assetRow
	dest := append(tr.dest(), ar.dest()...)
	var cur Task
	emit := func() error {
		if cur.TaskID == "" {
			return nil
		}
		slices.SortFunc(cur.Assets, func(x, y Asset) int { return strings.Compare(y.Kind, x.Kind) })
		return fn(cur)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if tr.t.TaskID != cur.TaskID {
			if err := emit(); err != nil {
				return err
			}
			cur = tr.task()
		}
		if ar.a.Kind != "" {
			cur.Assets = append(cur.Assets, ar.asset())
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return emit()
}

// assetRow holds the scan destinations of one row of assetColumns, in
// scanAsset's order (TestExportMatchesList catches a drift).
type assetRow struct {
	a        Asset
	expires  int64
	archived sql.NullInt64
}

func (r *assetRow) dest() []any {
	a := &r.a
	return []any{&a.TaskID, &a.Kind, &a.State, &a.Bucket, &a.Key, &a.URL, &a.Size, &a.SHA256, &r.expires, &r.archived,
		&a.Attempts, &a.LastError, &a.Refreshed, &a.SourceURL, &a.Location, &a.MediaDuration, &a.MediaWidth,
		&a.MediaHeight, &a.MediaCheck}
}

func (r *assetRow) asset() Asset {
	a := r.a
	a.ExpiresAt = timeMS(r.expires)
	a.ArchivedAt = timePtrMS(r.archived)
	return a
}
