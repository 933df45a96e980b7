package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/catalog"
)

func newCatalogCommand(gopts *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Query what reelvault tracks and has archived",
	}
	cmd.AddCommand(newCatalogListCommand(gopts), newCatalogShowCommand(gopts))
	return cmd
}

type listOptions struct {
	filter catalog.Filter
	format string
}

func newCatalogListCommand(gopts *globalOptions) *cobra.Command {
	var opts listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, most recently finished first",
		Long: `List prints tasks with their archive state. --format json prints an array of
task objects (fields: task_id, status, archive_state, action, model, duration, ratio,
resolution, super_resolution, framespersecond, generate_audio, seed, completion_tokens,
total_tokens, super_resolution_tokens, submit_time, finish_time, fail_reason, assets[...]);
fields are only ever added.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			cat, err := a.openCatalog(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			tasks, err := cat.List(cmd.Context(), opts.filter)
			if err != nil {
				return err
			}
			switch opts.format {
			case "json":
				return writeJSON(cmd.OutOrStdout(), tasks)
			case "table":
				return writeTable(cmd.OutOrStdout(), tasks)
			default:
				return &usageError{fmt.Errorf("--format %q: want table or json", opts.format)}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "table", "output: table or json")
	f.StringVar(&opts.filter.Status, "status", "", "only tasks with this status (SUCCESS, FAILURE, IN_PROGRESS, not_found, given_up, ...)")
	f.StringVar(&opts.filter.ArchiveState, "archive-state", "", "only tasks in this archive state (pending, archived, incomplete)")
	f.StringVar(&opts.filter.Model, "model", "", "only tasks of this model")
	f.IntVar(&opts.filter.Limit, "limit", 0, "at most this many tasks (0 = all)")
	f.IntVar(&opts.filter.Offset, "offset", 0, "skip this many tasks")
	return cmd
}

func newCatalogShowCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show TASK_ID",
		Short: "Print one task with every field and both assets, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			cat, err := a.openCatalog(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			t, err := cat.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), t)
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeTable prints one aligned line per task, sized for a 100-column terminal.
func writeTable(w io.Writer, tasks []catalog.Task) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK_ID\tSTATUS\tARCHIVE\tMODEL\tRES\tDUR\tSIZE\tFINISHED")
	for _, t := range tasks {
		var size int64
		for _, a := range t.Assets {
			size += a.Size
		}
		res := t.Resolution
		if t.SuperResolution != "" {
			res = t.SuperResolution
		}
		finished := "-"
		if t.FinishTime > 0 {
			finished = time.Unix(t.FinishTime, 0).UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ellipsis(t.TaskID, 26), t.Status, dash(t.ArchiveState),
			ellipsis(dash(t.Model), 18), dash(res), seconds(t.Duration), humanBytes(size), finished)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func seconds(d float64) string {
	if d <= 0 {
		return "-"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", d), ".0") + "s"
}

func humanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
