package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelvault/reelvault/config"
	"github.com/reelvault/reelvault/simulator"
)

// simulateOptions are the flags of "reelvault simulate".
type simulateOptions struct {
	listen      string
	apiKey      string
	accessToken string
	userID      int
	noListing   bool
	tasks       int
	seed        int64
	timeline    struct{ notStartFor, queuedFor, runFor, urlTTL time.Duration }
	videos      int64
	failRate    float64
	srRate      float64
	faults      simulator.Faults
	pollDelay   time.Duration
}

// AddFlags registers the flags. Unlike simulator.Config, a zero here means
// zero (no failures, no queue phase): runSimulate translates.
func (o *simulateOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.listen, "listen", "127.0.0.1:8418", "address to serve on (the built-in config's gateway address)")
	f.StringVar(&o.apiKey, "api-key", config.SimulatorAPIKey, "Bearer key the simulated gateway accepts")
	f.StringVar(&o.accessToken, "access-token", config.SimulatorAccessToken, "dashboard access token the task listing (GET /api/task/self) accepts")
	f.IntVar(&o.userID, "user-id", config.SimulatorUserID, "account id the task listing expects in New-Api-User")
	f.BoolVar(&o.noListing, "no-task-listing", false, "answer /api/task/self with a 404 page, as a reseller without the dashboard API does")
	f.IntVar(&o.tasks, "tasks", 0, "create `N` tasks at start and print their ids on stdout, one per line, once the listener is up; stdout is then closed so a pipe reader sees the end")
	f.Int64Var(&o.seed, "seed", 0, "seed for task ids, outcomes, faults and video bytes (default: from the clock, and logged)")
	f.DurationVar(&o.timeline.notStartFor, "not-start-for", 2*time.Second, "how long a new task stays NOT_START")
	f.DurationVar(&o.timeline.queuedFor, "queued-for", 3*time.Second, "how long a task then stays QUEUED")
	f.DurationVar(&o.timeline.runFor, "run-for", 10*time.Second, "how long a task then stays IN_PROGRESS (the real gateway takes 1 to 5 minutes)")
	f.DurationVar(&o.timeline.urlTTL, "url-ttl", 24*time.Hour, "how long result URLs stay valid after a task finishes")
	f.Int64Var(&o.videos, "video-bytes", 300<<10, "size of each result video in bytes (super-resolution originals are 4/5 of it)")
	f.Float64Var(&o.failRate, "failure-rate", 0.1, "share of tasks that end FAILURE (0 to 1)")
	f.Float64Var(&o.srRate, "sr-rate", 0.3, "share of tasks that are super-resolution tasks with two videos (0 to 1)")
	f.DurationVar(&o.pollDelay, "poll-delay", 0, "hold every task poll (GET /v1/video/generations/{id}) this long before answering, so that overlapping polls of one task really overlap")

	fl := &o.faults
	f.Float64Var(&fl.API5xx, "fault-api-5xx", 0, "probability that an API request gets a 500, 502 or 503")
	f.Float64Var(&fl.API429, "fault-api-429", 0, "probability that an API request gets a 429 (half with Retry-After)")
	f.Float64Var(&fl.APIHTML, "fault-api-html", 0, "probability that an API request gets a 200 HTML page instead of JSON")
	f.Float64Var(&fl.APITruncated, "fault-api-truncated", 0, "probability that an API reply is JSON cut in half")
	f.Float64Var(&fl.APIReset, "fault-api-reset", 0, "probability that an API request has its connection reset")
	f.Float64Var(&fl.Media5xx, "fault-media-5xx", 0, "probability that a video download gets a 500, 502 or 503")
	f.Float64Var(&fl.MediaTruncated, "fault-media-truncated", 0, "probability that a video body stops early (full Content-Length declared)")
	f.Float64Var(&fl.MediaReset, "fault-media-reset", 0, "probability that a video download is reset mid-body")
	f.Float64Var(&fl.MediaHTML, "fault-media-html", 0, "probability that a video download gets a 200 HTML page")
	f.Float64Var(&fl.MediaSlow, "fault-media-slow", 0, "probability that a video body comes in 32 KiB chunks, --slow-chunk-delay apart")
	f.DurationVar(&fl.RetryAfter, "retry-after", time.Second, "Retry-After sent with the 429 fault")
	f.DurationVar(&fl.SlowChunkDelay, "slow-chunk-delay", 100*time.Millisecond, "wait between 32 KiB chunks of a slow video body")
}

// validate reports every bad flag at once.
func (o *simulateOptions) validate() error {
	var errs []error
	rates := map[string]float64{
		"failure-rate": o.failRate, "sr-rate": o.srRate,
		"fault-api-5xx": o.faults.API5xx, "fault-api-429": o.faults.API429, "fault-api-html": o.faults.APIHTML,
		"fault-api-truncated": o.faults.APITruncated, "fault-api-reset": o.faults.APIReset,
		"fault-media-5xx": o.faults.Media5xx, "fault-media-truncated": o.faults.MediaTruncated,
		"fault-media-reset": o.faults.MediaReset, "fault-media-html": o.faults.MediaHTML,
		"fault-media-slow": o.faults.MediaSlow,
	}
	for name, r := range rates {
		if r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("--%s %v: want a probability from 0 to 1", name, r))
		}
	}
	durations := map[string]time.Duration{
		"not-start-for": o.timeline.notStartFor, "queued-for": o.timeline.queuedFor, "run-for": o.timeline.runFor,
		"retry-after": o.faults.RetryAfter, "slow-chunk-delay": o.faults.SlowChunkDelay,
		"poll-delay": o.pollDelay,
	}
	for name, d := range durations {
		if d < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: want 0 or more", name, d))
		}
	}
	if o.timeline.urlTTL <= 0 {
		errs = append(errs, fmt.Errorf("--url-ttl %v: want more than 0", o.timeline.urlTTL))
	}
	if o.videos <= 0 {
		errs = append(errs, fmt.Errorf("--video-bytes %d: want more than 0", o.videos))
	}
	if o.tasks < 0 {
		errs = append(errs, fmt.Errorf("--tasks %d: want 0 or more", o.tasks))
	}
	if o.apiKey == "" {
		errs = append(errs, errors.New("--api-key: want a non-empty key"))
	}
	if o.accessToken == "" {
		errs = append(errs, errors.New("--access-token: want a non-empty token"))
	}
	if o.userID <= 0 {
		errs = append(errs, fmt.Errorf("--user-id %d: want a positive id", o.userID))
	}
	return errors.Join(errs...)
}

// config translates the flags, where zero means zero, into a
// simulator.Config, where zero means "the default" and negative means none.
func (o *simulateOptions) config() simulator.Config {
	zeroIsNone := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	rate := func(r float64) float64 {
		if r == 0 {
			return -1
		}
		return r
	}
	return simulator.Config{
		APIKey:              o.apiKey,
		AccessToken:         o.accessToken,
		UserID:              o.userID,
		NoTaskListing:       o.noListing,
		Seed:                o.seed,
		NotStartFor:         zeroIsNone(o.timeline.notStartFor),
		QueuedFor:           zeroIsNone(o.timeline.queuedFor),
		RunFor:              zeroIsNone(o.timeline.runFor),
		URLTTL:              o.timeline.urlTTL,
		FailureRate:         rate(o.failRate),
		SuperResolutionRate: rate(o.srRate),
		VideoBytes:          o.videos,
		Faults:              o.faults,
		PollDelay:           o.pollDelay,
	}
}

func newSimulateCommand() *cobra.Command {
	var opts simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Serve a simulated video-generation gateway, to try reelvault without an API key",
		Long: `Simulate serves a stand-in for the video-generation gateway: the task API
(GET and POST /v1/video/generations, Bearer key), the dashboard's task listing
(GET /api/task/self, access token), tasks that go NOT_START, QUEUED,
IN_PROGRESS, then SUCCESS or FAILURE, signed result URLs that really expire, small
valid MP4 videos, and, on request, the faults of a real network (--fault-*).

The built-in configuration polls it at http://127.0.0.1:8418 with the key "sim-key":

  reelvault simulate --tasks 20 | reelvault track -
  reelvault run --once

To check a fleet of "reelvault run" instances sharing one catalog, it counts
every task poll, whatever its key or fault, and serves the counts without a
key and without faults:

  curl 'http://127.0.0.1:8418/_sim/poll-stats?window=1s'

The JSON reply has "total" polls, "max_concurrent_per_task" (the most polls of
one task id in flight at once: above 1, two instances overlapped on
"max_concurrent_task_id"), "max_concurrent" (of any ids), "in_flight",
"max_in_window" (the most polls that arrived within any sliding window of
that length, default 1s), "recorded" (arrival times kept for it: the latest
1,000,000), "first" and "last". --poll-delay makes every poll take that long,
so that overlapping polls really overlap.

It serves until interrupted, then shuts down gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return &usageError{err}
			}
			if !cmd.Flags().Changed("seed") {
				opts.seed = time.Now().UnixNano()
			}
			return runSimulate(cmd.Context(), opts, cmd.OutOrStdout(), simulateLogger(cmd))
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// simulateLogger honours the global --log-level and --log-format flags; the
// config file is not read, as the simulator needs nothing from it.
func simulateLogger(cmd *cobra.Command) *slog.Logger {
	level, _ := cmd.Flags().GetString("log-level")
	format, _ := cmd.Flags().GetString("log-format")
	return newLogger(cmd.ErrOrStderr(), config.Log{Level: level, Format: format})
}

// runSimulate serves the simulator until ctx ends. Task ids go to out only
// once the listener accepts connections, so whoever reads them can poll at
// once.
func runSimulate(ctx context.Context, opts simulateOptions, out io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	sim := simulator.New(opts.config())
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		// Request contexts end with ctx, so slow bodies stop on a signal
		// instead of holding up the shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	log.Info("simulator listening", "addr", addr, "base_url", "http://"+addr,
		"api_key_hint", simulateKeyHint(opts.apiKey), "seed", opts.seed)
	for range opts.tasks {
		if _, err := fmt.Fprintln(out, sim.CreateTask(simulator.TaskOptions{})); err != nil {
			log.Warn("simulator: cannot print task ids", "err", err)
			break
		}
	}
	if opts.tasks > 0 {
		log.Info("simulator tasks created", "count", opts.tasks)
		// Closing stdout lets a pipe reader such as "reelvault track -" see
		// the end of the list while the gateway keeps serving.
		if c, ok := out.(io.Closer); ok {
			_ = c.Close()
		}
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("simulator: serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		log.Warn("simulator: shutdown cut short", "err", err)
	}
	log.Info("simulator stopped")
	return nil
}

// simulateKeyHint shows enough of the key to recognise it in a log.
func simulateKeyHint(key string) string {
	if len(key) <= 4 {
		return key
	}
	return key[:4] + "…"
}
