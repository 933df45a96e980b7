package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/discovery"
)

type discoverOptions struct {
	once   bool
	since  time.Duration
	format string
}

func newDiscoverCommand(gopts *globalOptions) *cobra.Command {
	var opts discoverOptions
	cmd := &cobra.Command{
		Use:   "discover --once [--since 24h]",
		Short: "Track the account's tasks from the gateway's own task listing (GET /api/task/self)",
		Long: `Discover reads the gateway's dashboard listing of the account's tasks with the
access token (discover.access_token, from the gateway's dashboard settings; not the
API key) and tracks every video task the catalog does not know yet, so that videos
created from the gateway's playground or someone else's script are archived too.

With --once it does one pass over the last --since (default discover.lookback) and
prints what it tracked, for a nightly cron before 'reelvault run --once'. Without
--once it lists every discover.interval until interrupted. 'reelvault run' does the
same by itself when discover.enabled is true.

A gateway without the listing (404, an HTML page) or a refused token is one clear
error, exit code 1; tracked tasks are not affected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return asFormat(opts.format, runDiscover(cmd, gopts, opts))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.once, "once", false, "one pass, then exit")
	f.DurationVar(&opts.since, "since", 0, "with --once: how far back to list (default discover.lookback)")
	f.StringVar(&opts.format, "format", "table", "output: table or json")
	return cmd
}

// discoverReport is the JSON output of discover --once.
type discoverReport struct {
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Listed   int              `json:"listed"`
	Skipped  int              `json:"skipped"`
	Requests int              `json:"requests"`
	Tracked  []discoveredTask `json:"tracked"`
}

type discoveredTask struct {
	TaskID     string     `json:"task_id"`
	Status     string     `json:"status"`
	SubmitTime *time.Time `json:"submit_time"`
}

func runDiscover(cmd *cobra.Command, gopts *globalOptions, opts discoverOptions) error {
	if err := checkFormat(opts.format, "table", "json"); err != nil {
		return err
	}
	if opts.since < 0 || (opts.since > 0 && !opts.once) {
		return &usageError{errors.New("--since takes a positive duration, with --once")}
	}
	a, err := loadApp(cmd, gopts)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	d := discovery.New(a.dashboard(), cat, discovery.Options{
		Interval: time.Duration(a.cfg.Discover.Interval),
		Lookback: time.Duration(a.cfg.Discover.Lookback),
		ValidID:  archiver.ValidTaskID,
		Wait:     a.gatewayBudget(cat).Wait,
		Logger:   a.log,
	})
	if !opts.once {
		a.log.Info("discovering tasks until interrupted", "interval", a.cfg.Discover.Interval.String())
		return d.Run(ctx)
	}
	since := opts.since
	if since == 0 {
		since = time.Duration(a.cfg.Discover.Lookback)
	}
	now := time.Now()
	res, err := d.Pass(ctx, now.Add(-since), now)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	rep := discoverReport{From: res.From.UTC(), To: res.To.UTC(), Listed: res.Listed, Skipped: res.Skipped,
		Requests: res.Requests, Tracked: []discoveredTask{}}
	for _, it := range res.Tracked {
		dt := discoveredTask{TaskID: it.TaskID, Status: it.Status}
		if it.SubmitTime > 0 {
			t := time.Unix(it.SubmitTime, 0).UTC()
			dt.SubmitTime = &t
		}
		rep.Tracked = append(rep.Tracked, dt)
	}
	out := cmd.OutOrStdout()
	if opts.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK_ID\tSTATUS\tSUBMITTED")
	for _, t := range rep.Tracked {
		sub := "-"
		if t.SubmitTime != nil {
			sub = t.SubmitTime.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.TaskID, t.Status, sub)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "tracked %d new task(s) of %d listed between %s and %s (%d skipped: not video tasks)\n",
		len(rep.Tracked), rep.Listed, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339), rep.Skipped)
	return nil
}
