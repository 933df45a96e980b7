package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/catalog"
)

func newCatalogCommand(gopts *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Query, export and rebuild the catalog of tracked tasks and archived videos",
		Long: `The catalog commands read the catalog (catalog.path, or catalog.postgres.url with
catalog.driver: postgres) and, for show --presign
and rebuild, the configured storage. Data goes to stdout, errors to stderr; with
--format json (or jsonl) an error is printed as {"error": "..."} on stderr too.

Exit codes: 0 done; 1 an error (catalog unreadable, task not found, storage
refused, some task.json unreadable in rebuild); 2 bad command line or config;
6 (rebuild) a reelvault run holds the catalog.`,
	}
	// A bad flag is a bad command line: exit code 2, as for the other commands.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	cmd.AddCommand(newCatalogListCommand(gopts), newCatalogShowCommand(gopts), newCatalogStatsCommand(gopts),
		newCatalogExportCommand(gopts), newCatalogRebuildCommand(gopts), newCatalogMigrateCommand(gopts))
	return cmd
}

// jsonError is an error the user asked to see as JSON: main prints it as
// {"error": "..."}.
type jsonError struct{ err error }

func (e *jsonError) Error() string { return e.err.Error() }
func (e *jsonError) Unwrap() error { return e.err }

// asFormat marks err for JSON reporting when the output format is JSON.
func asFormat(format string, err error) error {
	if err != nil && (format == "json" || format == "jsonl") {
		return &jsonError{err}
	}
	return err
}

// reportError prints err on w (stderr) as main does for every command: plain
// text, or one JSON object when the command's output is JSON.
func reportError(w io.Writer, err error) {
	var je *jsonError
	if errors.As(err, &je) {
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	fmt.Fprintln(w, "reelvault:", err)
}

// checkFormat reports a --format value outside allowed as a usage error.
func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return &usageError{fmt.Errorf("--format %q: want %s", format, strings.Join(allowed, ", "))}
	}
	return nil
}

type listOptions struct {
	filter       catalog.Filter
	format       string
	since, until string
	prompt       string
}

const listFields = `Fields of json, jsonl (one object per line) and of each json array element:
  task_id, status, archive_state, action, model, duration, ratio, resolution,
  super_resolution, framespersecond, generate_audio, seed, completion_tokens,
  total_tokens, super_resolution_tokens, submit_time, start_time, finish_time
  (unix seconds, 0 = not yet), fail_reason, progress, request_id, upstream_id,
  upstream_status, tracked_at, polls, last_error, task_json_key, archived_at
  (when the task was archived; null unless archive_state is archived),
  settled_at (when its archive state became archived or incomplete), prompt,
  request_params (when known), key_fingerprint, source, and assets: an array of
  {kind, state, bucket, key, url, size, sha256, expires_at, archived_at,
  attempts, last_error, media_duration, media_width, media_height, media_check}.
  bucket is the bucket's name ("" on fs) and url the video's full address:
  s3://bucket/key (s3 and minio drivers), file:///root/key percent-encoded (fs).
csv columns, in this order:`

func newCatalogListCommand(gopts *globalOptions) *cobra.Command {
	var opts listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, filtered and sorted; as a table, json, jsonl or csv",
		Long: `List prints the tasks matching every filter given, most recently finished first
unless --sort says otherwise. The table fits a 100-column terminal and shortens
ids (catalog show accepts any unique prefix); json, jsonl and csv are for scripts,
and their fields are stable: they are only ever added.

` + listFields + wrapList(catalog.CSVHeader, 80) + `
  (times RFC 3339 UTC; result_* and original_* describe the two videos).`,
		Example: `  reelvault catalog list --since 24h --archive-state incomplete
  reelvault catalog list --model seedance-turbo --status SUCCESS --limit 50
  reelvault catalog list --prompt "cat astronaut" --sort -size --format jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return asFormat(opts.format, runCatalogList(cmd, gopts, &opts))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "table", "output: table, json, jsonl or csv")
	f.StringVar(&opts.filter.Status, "status", "", "only this status (SUCCESS, FAILURE, IN_PROGRESS, TRACKED, not_found, given_up, ...)")
	f.StringVar(&opts.filter.ArchiveState, "archive-state", "", "only this archive state (pending, archived, incomplete)")
	f.StringVar(&opts.filter.Model, "model", "", "only this model")
	f.StringVar(&opts.filter.Action, "action", "", "only this action (generate, referenceGenerate, firstTailGenerate, omniGenerate)")
	f.StringVar(&opts.filter.Resolution, "resolution", "", "only this resolution or super-resolution target (480p, 720p, 1080p)")
	f.StringVar(&opts.filter.Ratio, "ratio", "", "only this aspect ratio (16:9, 9:16, 1:1, ...)")
	f.StringVar(&opts.since, "since", "", "finished at or after: RFC 3339, YYYY-MM-DD (UTC), or a duration ago (24h, 7d)")
	f.StringVar(&opts.until, "until", "", "finished before: RFC 3339, YYYY-MM-DD (UTC, the whole day included), or a duration ago")
	f.StringVar(&opts.prompt, "prompt", "", "prompt contains every one of these words (case-insensitive)")
	f.StringVar(&opts.filter.Sort, "sort", "-finish_time", "order by finish_time, submit_time, task_id, size, model or tracked; -field descends")
	f.IntVar(&opts.filter.Limit, "limit", 0, "at most this many tasks (0 = all)")
	f.IntVar(&opts.filter.Offset, "offset", 0, "skip this many tasks")
	return cmd
}

func runCatalogList(cmd *cobra.Command, gopts *globalOptions, opts *listOptions) error {
	if err := checkFormat(opts.format, "table", "json", "jsonl", "csv"); err != nil {
		return err
	}
	now := time.Now()
	var err error
	if opts.filter.Since, err = parseWhen(opts.since, now, false); err != nil {
		return &usageError{fmt.Errorf("--since: %w", err)}
	}
	if opts.filter.Until, err = parseWhen(opts.until, now, true); err != nil {
		return &usageError{fmt.Errorf("--until: %w", err)}
	}
	if err := catalog.ParseSort(opts.filter.Sort); err != nil {
		return &usageError{fmt.Errorf("--sort: %w", err)}
	}
	if opts.filter.Limit < 0 || opts.filter.Offset < 0 {
		return &usageError{errors.New("--limit and --offset must not be negative")}
	}
	opts.filter.PromptWords = strings.Fields(opts.prompt)
	a, err := loadApp(cmd, gopts)
	if err != nil {
		return err
	}
	cat, err := a.openCatalog(cmd.Context())
	if err != nil {
		return err
	}
	defer cat.Close()
	tasks := cat.Tasks(cmd.Context(), opts.filter)
	if opts.format == "table" {
		return writeTable(cmd.OutOrStdout(), tasks)
	}
	tw, err := catalog.NewTaskWriter(cmd.OutOrStdout(), opts.format)
	if err != nil {
		return err
	}
	for t, err := range tasks {
		if err != nil {
			return err
		}
		if err := tw.Write(t); err != nil {
			return err
		}
	}
	return tw.Close()
}

// parseWhen reads a --since/--until value: RFC 3339, a UTC date (for an end
// bound, the end of that day), or a duration ago ("24h", "90m", "7d").
func parseWhen(s string, now time.Time, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == days {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-28T10:00:00Z), a date (2026-11-28) or a duration ago (24h, 7d)", s)
}

// wrapList joins items with ", " into lines of at most width characters,
// each indented by two spaces.
func wrapList(items []string, width int) string {
	var b strings.Builder
	line := 0
	for i, it := range items {
		switch {
		case i == 0:
			b.WriteString("\n  ")
			line = 2
		case line+len(it)+2 > width:
			b.WriteString(",\n  ")
			line = 2
		default:
			b.WriteString(", ")
			line += 2
		}
		b.WriteString(it)
		line += len(it)
	}
	return b.String()
}
