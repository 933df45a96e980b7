package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
)

func newTrackCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "track TASK_ID... | track -",
		Short: "Start tracking task ids (from arguments, or one per line / JSON lines on stdin with -)",
		Long: `Track adds task ids to the catalog; a running or next 'reelvault run' polls them.

With "-" it reads standard input: one id per line, or JSON lines carrying "task_id"
(or "task_ids"). Ids are committed as they arrive, so it can sit at the end of a pipe
that never closes. Ids must match [A-Za-z0-9_-]{1,128}; bad lines are reported with
their line number and the valid ids are still tracked (exit code 2 then).`,
		Args: cobra.MinimumNArgs(1),
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
			var bad []string
			added, seen := 0, 0
			track := func(ids []string) error {
				n, err := cat.TrackFrom(cmd.Context(), ids, catalog.SourceCLI, time.Now())
				added += n
				seen += len(ids)
				return err
			}
			if len(args) == 1 && args[0] == "-" {
				bad, err = readIDs(os.Stdin, track)
			} else {
				var ids []string
				for _, id := range args {
					if archiver.ValidTaskID(id) {
						ids = append(ids, id)
					} else {
						bad = append(bad, fmt.Sprintf("argument %q: not a task id ([A-Za-z0-9_-]{1,128})", id))
					}
				}
				err = track(ids)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tracking %d new task(s) (%d given, %d already tracked)\n", added, seen, seen-added)
			if len(bad) > 0 {
				return &usageError{fmt.Errorf("%d input(s) rejected:\n  %s", len(bad), strings.Join(bad, "\n  "))}
			}
			return nil
		},
	}
}

// readIDs reads ids from r, one per line or as JSON lines, and hands each
// line's ids to track as soon as it is read. It returns the rejected lines.
func readIDs(r io.Reader, track func([]string) error) ([]string, error) {
	var bad []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		ids, err := parseIDLine(text)
		if err == nil {
			for _, id := range ids {
				if !archiver.ValidTaskID(id) {
					err = fmt.Errorf("%q is not a task id ([A-Za-z0-9_-]{1,128})", id)
				}
			}
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if err := track(ids); err != nil {
			return bad, err
		}
	}
	if err := sc.Err(); err != nil {
		return bad, fmt.Errorf("read standard input: %w", err)
	}
	return bad, nil
}

func parseIDLine(text string) ([]string, error) {
	if !strings.HasPrefix(text, "{") {
		return []string{text}, nil
	}
	var v struct {
		TaskID  string   `json:"task_id"`
		TaskIDs []string `json:"task_ids"`
		Data    *struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	ids := v.TaskIDs
	if v.TaskID != "" {
		ids = append(ids, v.TaskID)
	}
	if v.Data != nil && v.Data.TaskID != "" {
		ids = append(ids, v.Data.TaskID)
	}
	if len(ids) == 0 {
		return nil, errors.New(`JSON line has no "task_id"`)
	}
	return ids, nil
}
