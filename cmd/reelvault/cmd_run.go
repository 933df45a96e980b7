package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/discovery"
	"github.com/reelvault/reelvault/metrics"
	"github.com/reelvault/reelvault/server"
	"github.com/reelvault/reelvault/storage"
)

// errDeadline ends a --once run that ran out of time with work left.
var errDeadline = errors.New("deadline reached with work left")

// errLost ends a --once run in which some video could not be archived.
var errLost = errors.New("some videos could not be archived")

type runOptions struct {
	once     bool
	deadline time.Duration
	listen   listenOptions
}

func newRunCommand(gopts *globalOptions) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Poll tracked tasks and archive their videos (a daemon, or a batch with --once)",
		Long: `Run polls every tracked task that has not finished and archives every video of
every successful task into the configured storage, earliest URL expiry first.

Without --once it runs until interrupted (SIGINT/SIGTERM stop it cleanly: transfers
in flight are aborted and retried next time, the catalog stays consistent).
With --once it returns when every tracked task is finished and every video is
archived or lost; --deadline bounds how long that may take. On a terminal it
draws a progress bar; otherwise it logs a progress line every 30 s.

Both serve HTTP on server.listen: the intake API (POST /v1/tasks), /metrics,
/healthz, /readyz, the web view at /, and with server.proxy: true the forwarding
proxy to the gateway. If the address is taken, archiving goes on without HTTP
(logged as an error): videos expire, ports can wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			if err := opts.listen.apply(a); err != nil {
				return err
			}
			return runRun(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.once, "once", false, "exit when every tracked task is finished and archived (nightly batch)")
	f.DurationVar(&opts.deadline, "deadline", 0, "with --once: give up after this long, exit code 4 (0 = no deadline)")
	opts.listen.AddFlags(f)
	return cmd
}

func runRun(ctx context.Context, a *app, opts runOptions) error {
	cat, store, closeVault, err := a.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer closeVault()
	if cp, ok := store.(interface{ CaseProblem() error }); ok && cp.CaseProblem() != nil {
		a.log.Warn("storage: tasks whose ids differ only in case would share a folder", "err", cp.CaseProblem())
	}
	if cat.Postgres() {
		// Runs share a Postgres catalog; one that starts alone may abort
		// what killed runs left, as no other instance is uploading.
		release, err := cat.LockRuns(ctx, false, func() { abortDeadUploads(ctx, a, store) })
		if err != nil {
			return err
		}
		defer release()
	} else {
		abortDeadUploads(ctx, a, store)
	}
	lostBefore, err := cat.LostAssets(ctx)
	if err != nil {
		return err
	}
	var arch *archiver.Archiver
	keyRejected := func() bool { return arch.KeyRejected() }
	loops := func() []archiver.LoopStatus { return arch.Loops() }
	aopts := a.archiverOptions()
	// The gateway's limit is per API key: on Postgres every instance on the
	// catalog draws from one budget kept in it.
	aopts.Limiter = a.gatewayBudget(cat)
	m := metrics.New(ctx, cat, metrics.Options{Logger: a.log, KeyRejected: keyRejected, Loops: loops,
		Instance: aopts.Owner})
	stats := &runStats{}
	var running atomic.Pointer[archiver.Archiver] // set once built, read by the progress view
	inFlight := func() (int, int64) {
		if ar := running.Load(); ar != nil {
			return ar.InFlight()
		}
		return 0, 0
	}
	stopView := a.startProgress(ctx, opts, cat, stats, inFlight)
	defer stopView()
	aopts.Logger = a.log // after startProgress: the log may go through the bar
	aopts.Observer = observers{m, stats}
	arch = archiver.New(cat, a.gatewayClient(), store, aopts)
	running.Store(arch)
	disc := a.discoverer(cat, arch.WaitGateway, m)
	stopHTTP, err := a.startHTTP(ctx, cat, store, arch, disc, m)
	if err != nil {
		return err
	}
	defer stopHTTP()
	runCtx := ctx
	if opts.once && opts.deadline > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, opts.deadline, errDeadline)
		defer cancel()
	}
	a.log.Info("reelvault running", "once", opts.once, "storage", store.Location(), "catalog", cat.Where(),
		"instance", aopts.Owner,
		"gateway", a.cfg.API.BaseURL, "discover", disc != nil)
	stopDiscovery := a.startDiscovery(runCtx, disc, opts.once)
	err = arch.Run(runCtx, opts.once)
	stopDiscovery()
	if errors.Is(context.Cause(runCtx), errDeadline) {
		live, pending, _ := cat.Outstanding(context.WithoutCancel(ctx))
		return fmt.Errorf("%w after %v: %d task(s) still unfinished, %d awaiting archive", errDeadline, opts.deadline, live, pending)
	}
	if ctx.Err() != nil {
		a.log.Info("stopped on signal; the catalog is consistent, unfinished work resumes next run")
		return nil
	}
	if err != nil {
		return err
	}
	if !opts.once {
		return nil
	}
	lostAfter, err := cat.LostAssets(ctx)
	if err != nil {
		return err
	}
	if n := lostAfter - lostBefore; n > 0 {
		return fmt.Errorf("%w: %d video(s) expired or were refused in this run (see `reelvault catalog list`)", errLost, n)
	}
	a.log.Info("run complete: every tracked task is finished and archived")
	return nil
}

// startHTTP serves the intake API, metrics, health, the web view and, when
// configured, the proxy, for as long as the run lasts. A port that cannot be
// bound is logged, not fatal: archiving matters more than the listener.
func (a *app) startHTTP(ctx context.Context, cat *catalog.DB, store storage.Store, arch *archiver.Archiver,
	disc *discovery.Discoverer, m *metrics.Metrics) (stop func(), err error) {
	opts := server.Options{
		Catalog: cat,
		Wake:    arch.Wake,
		Ready: []server.Check{server.CatalogWritable(cat), server.StorageReachable(store, a.cfg.Storage.KeyPrefix()),
			server.KeyAccepted(arch.KeyRejected), server.LoopsRunning(arch.LoopsHealthy)},
		Metrics: m.Handler(),
		Web:     a.webHandler(cat, store),
	}
	if a.cfg.Server.Proxy {
		if opts.Gateway, err = a.gatewayURL(); err != nil {
			return nil, err
		}
	}
	srv, err := a.listen(opts)
	if err != nil {
		a.log.Error("HTTP server not started; archiving goes on without intake, proxy, metrics or web view", "err", err)
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx); err != nil {
			a.log.Error("HTTP server stopped", "err", err)
		}
	})
	if u := a.cfg.Server.HeartbeatURL; u != "" {
		hb := &server.Heartbeat{URL: u, Margin: time.Duration(a.cfg.Server.HeartbeatMargin), Backlog: cat.Backlog,
			KeyRejected: arch.KeyRejected, Client: &http.Client{Timeout: 10 * time.Second}, Clock: time.Now, Logger: a.log}
		if disc != nil {
			hb.Stale = func() string { return disc.Stale(time.Now(), listingStaleAfter) }
		}
		tick := time.NewTicker(time.Minute)
		wg.Go(func() { defer tick.Stop(); hb.Run(ctx, tick.C) })
	}
	return func() { cancel(); wg.Wait() }, nil
}

// startProgress shows a --once run's progress: a bar on a terminal, else a
// log line every 30 s. The daemon shows none: /metrics is its display.
func (a *app) startProgress(ctx context.Context, opts runOptions, cat *catalog.DB, stats *runStats,
	inFlight func() (int, int64)) (stop func()) {
	if !opts.once {
		return func() {}
	}
	read := func(ctx context.Context) snapshot {
		s := snapshot{polled: stats.polled.Load(), archived: stats.archived.Load(), bytes: stats.bytes.Load(),
			lost: stats.lost.Load()}
		s.unfinished, s.toArchive, _ = cat.Outstanding(ctx)
		s.moving, s.movingBytes = inFlight()
		return s
	}
	var view progressView = statsLine{log: a.log, interval: 30 * time.Second}
	var out *swapWriter
	if isTerminal(os.Stderr) {
		bar := newProgressBar(os.Stderr)
		out = &swapWriter{w: bar}
		a.log = newLogger(out, a.cfg.Log)
		view = bar
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); view.Run(ctx, read) }()
	return func() {
		cancel()
		<-done
		if out != nil {
			out.set(os.Stderr)
		}
	}
}

// abortDeadUploads aborts the multipart uploads (or, on fs, the stale temp
// files) an earlier run left under the prefix when it was killed: they are
// invisible but billed. Holding the SQLite catalog's lock, or alone on a
// Postgres catalog (LockRuns), this run is the only writer under the
// prefix, so nothing in flight is touched. A failure is only logged:
// `reelvault cleanup` can do it later.
func abortDeadUploads(ctx context.Context, a *app, store storage.Store) {
	aborter, ok := store.(storage.UploadAborter)
	if !ok {
		return
	}
	n, err := aborter.AbortIncompleteUploads(ctx, a.cfg.Storage.KeyPrefix())
	switch {
	case err != nil:
		a.log.Warn("could not abort uploads a killed run left; run `reelvault cleanup` later", "err", err)
	case n > 0:
		a.log.Info("aborted uploads a killed run left", "count", n)
	}
}
