package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/catalog"
)

type statsOptions struct {
	by     []string
	format string
}

func newCatalogStatsCommand(gopts *globalOptions) *cobra.Command {
	var opts statsOptions
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count tasks by status and archive state; sum bytes stored, video seconds and tokens",
		Long: `Stats summarises the catalog, in total or per group with --by (one or several of
model, day, month, resolution, action; days and months are finish times in UTC,
resolution is the delivered one), so the archive doubles as the record of what was
spent.

--format json prints {"by": [...], "groups": [...], "total": {...}}; a group (and the
total) has key (its --by values), tasks, by_status, by_archive_state ("none" =
nothing to archive), bytes_stored, video_seconds (of SUCCESS tasks),
completion_tokens, total_tokens, super_resolution_tokens. Fields are only added.`,
		Example: `  reelvault catalog stats
  reelvault catalog stats --by model,month
  reelvault catalog stats --by day --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return asFormat(opts.format, runCatalogStats(cmd, gopts, opts))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&opts.by, "by", nil, "group by model, day, month, resolution and/or action (comma-separated)")
	f.StringVar(&opts.format, "format", "table", "output: table or json")
	return cmd
}

func runCatalogStats(cmd *cobra.Command, gopts *globalOptions, opts statsOptions) error {
	if err := checkFormat(opts.format, "table", "json"); err != nil {
		return err
	}
	for _, d := range opts.by {
		if !slices.Contains(catalog.StatsDims, d) {
			return &usageError{fmt.Errorf("--by %q: want %s", d, strings.Join(catalog.StatsDims, ", "))}
		}
	}
	a, err := loadApp(cmd, gopts)
	if err != nil {
		return err
	}
	cat, err := a.openCatalog(cmd.Context())
	if err != nil {
		return err
	}
	defer cat.Close()
	st, err := cat.Stats(cmd.Context(), opts.by)
	if err != nil {
		return err
	}
	if opts.format == "json" {
		return writeJSON(cmd.OutOrStdout(), st)
	}
	if len(opts.by) > 0 {
		if err := writeStatsTable(cmd.OutOrStdout(), st); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout())
	}
	return writeStatsTotal(cmd.OutOrStdout(), st.Total)
}

// writeStatsTable prints one line per group: its key (left-aligned), then
// the counts that matter most, the bytes, the video time and the total
// tokens (right-aligned).
func writeStatsTable(w io.Writer, st catalog.Stats) error {
	keys := make([][]string, 0, len(st.Groups)+2)
	head := make([]string, len(st.By))
	for i, d := range st.By {
		head[i] = strings.ToUpper(d)
	}
	keys = append(keys, head)
	short := make([]map[string]string, len(st.By)) // per dimension, so two models stay apart
	for i, d := range st.By {
		values := []string{}
		for _, g := range st.Groups {
			values = append(values, dash(g.Key[d]))
		}
		slices.Sort(values)
		short[i] = shortNames(slices.Compact(values), 24)
	}
	for _, g := range st.Groups {
		key := make([]string, len(st.By))
		for i, d := range st.By {
			key[i] = short[i][dash(g.Key[d])]
		}
		keys = append(keys, key)
	}
	total := make([]string, len(st.By))
	if len(total) > 0 {
		total[0] = "total"
	}
	keys = append(keys, total)
	for i := range st.By {
		width := 0
		for _, k := range keys {
			width = max(width, utf8.RuneCountInString(k[i]))
		}
		for _, k := range keys {
			k[i] += strings.Repeat(" ", width-utf8.RuneCountInString(k[i]))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(append(keys[0], "TASKS", "SUCCESS", "FAILURE", "ARCHIVED", "LOST", "STORED", "VIDEO",
		"TOKENS"), "\t")+"\t")
	row := func(key []string, g catalog.StatsGroup) {
		cells := append(key, thousands(g.Tasks), thousands(g.ByStatus["SUCCESS"]), thousands(g.ByStatus["FAILURE"]),
			thousands(g.ByArchiveState[catalog.ArchiveArchived]), thousands(g.ByArchiveState[catalog.ArchiveIncomplete]),
			shortBytes(g.BytesStored), videoTime(g.VideoSeconds), shortCount(g.TotalTokens))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	for i, g := range st.Groups {
		row(keys[i+1], g)
	}
	row(keys[len(keys)-1], st.Total)
	return tw.Flush()
}

// writeStatsTotal prints the totals in full, every status and state named.
func writeStatsTotal(w io.Writer, g catalog.StatsGroup) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	counts := func(m map[string]int64) string {
		keys := slices.Sorted(maps.Keys(m))
		slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + thousands(m[k])
		}
		return cmp.Or(strings.Join(parts, ", "), "-")
	}
	fmt.Fprintf(tw, "tasks\t%s\n", thousands(g.Tasks))
	fmt.Fprintf(tw, "by status\t%s\n", counts(g.ByStatus))
	fmt.Fprintf(tw, "by archive state\t%s\n", counts(g.ByArchiveState))
	fmt.Fprintf(tw, "bytes stored\t%s (%s bytes)\n", cmp.Or(humanBytes(g.BytesStored), "0"), thousands(g.BytesStored))
	fmt.Fprintf(tw, "video\t%s (%s s, SUCCESS tasks)\n", videoTime(g.VideoSeconds), thousands(int64(g.VideoSeconds)))
	fmt.Fprintf(tw, "tokens\tcompletion %s, total %s, super-resolution %s\n", thousands(g.CompletionTokens),
		thousands(g.TotalTokens), thousands(g.SuperResolutionTokens))
	return tw.Flush()
}

func videoTime(s float64) string {
	if s <= 0 {
		return "-"
	}
	if s < 60 {
		return seconds(s)
	}
	return shortDuration(time.Duration(s * float64(time.Second)))
}

// shortCount is n in at most 6 columns: 999, 12.3K, 4.5M, 1.2G.
func shortCount(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n < 1000:
		return fmt.Sprint(n)
	}
	v, units := float64(n), "KMGTPE"
	for i := range units {
		v /= 1000
		if v < 1000 {
			return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + string(units[i])
		}
	}
	return fmt.Sprint(n)
}
