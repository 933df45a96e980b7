package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
)

// errDeadline ends a --once run that ran out of time with work left.
var errDeadline = errors.New("deadline reached with work left")

// errLost ends a --once run in which some video could not be archived.
var errLost = errors.New("some videos could not be archived")

type runOptions struct {
	once     bool
	deadline time.Duration
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
archived or lost; --deadline bounds how long that may take.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			return runRun(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.once, "once", false, "exit when every tracked task is finished and archived (nightly batch)")
	f.DurationVar(&opts.deadline, "deadline", 0, "with --once: give up after this long, exit code 4 (0 = no deadline)")
	return cmd
}

func runRun(ctx context.Context, a *app, opts runOptions) error {
	unlock, err := catalog.Lock(a.cfg.Catalog.Path)
	if err != nil {
		return err
	}
	defer unlock()
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	store, err := a.openStore(ctx)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	lostBefore, err := cat.LostAssets(ctx)
	if err != nil {
		return err
	}
	arch := archiver.New(cat, a.gatewayClient(), store, a.archiverOptions())
	runCtx := ctx
	if opts.once && opts.deadline > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, opts.deadline, errDeadline)
		defer cancel()
	}
	a.log.Info("reelvault running", "once", opts.once, "storage", store.Location(), "catalog", a.cfg.Catalog.Path,
		"gateway", a.cfg.API.BaseURL)
	err = arch.Run(runCtx, opts.once)
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
