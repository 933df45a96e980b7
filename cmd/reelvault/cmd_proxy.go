package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/metrics"
	"github.com/reelvault/reelvault/server"
)

func newProxyCommand(gopts *globalOptions) *cobra.Command {
	var lopts listenOptions
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Forward requests to the gateway, tracking every task created through it (no archiving)",
		Long: `Proxy sits between your application and the gateway: point the application's base
URL at reelvault (http://` + "127.0.0.1:8417" + ` by default) and change nothing else.
Every request is forwarded to api.base_url unchanged, with the caller's own key, and
the gateway's reply comes back as is, streamed. When a task is created
(POST /v1/video/generations), its id, model, prompt and parameters go into the
catalog (the caller's key only as an 8-digit fingerprint), so that 'reelvault run'
archives its video.

It also serves the intake API (POST /v1/tasks), /metrics, /healthz and /readyz.
It archives nothing: run 'reelvault run' (the daemon, or a nightly --once) beside it,
or set server.proxy: true to have 'run' proxy by itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			if err := lopts.apply(a); err != nil {
				return err
			}
			return runProxy(cmd.Context(), a)
		},
	}
	lopts.AddFlags(cmd.Flags())
	return cmd
}

func runProxy(ctx context.Context, a *app) error {
	gw, err := a.gatewayURL()
	if err != nil {
		return err
	}
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	m := metrics.New(ctx, cat, metrics.Options{Logger: a.log})
	srv, err := a.listen(server.Options{
		Catalog: cat,
		Gateway: gw,
		Ready:   []server.Check{server.CatalogWritable(cat)},
		Metrics: m.Handler(),
	})
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}
