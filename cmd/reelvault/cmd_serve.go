package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/metrics"
	"github.com/reelvault/reelvault/server"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/web"
)

// listenOptions is the --listen flag shared by run, proxy and serve.
type listenOptions struct{ listen string }

func (o *listenOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.listen, "listen", "", "serve HTTP on `host:port` (overrides server.listen; port 0 picks a free one)")
}

// apply puts the flag into the config and validates again, since a
// non-loopback address needs server.token.
func (o *listenOptions) apply(a *app) error {
	if o.listen == "" {
		return nil
	}
	a.cfg.Server.Listen = o.listen
	if err := a.cfg.Validate(); err != nil {
		return &usageError{fmt.Errorf("--listen %s:\n%w", o.listen, err)}
	}
	return nil
}

func newServeCommand(gopts *globalOptions) *cobra.Command {
	var lopts listenOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web view of the archive, /metrics and health checks, without archiving",
		Long: `Serve shows the catalog in a browser (at / on server.listen), with /metrics for
Prometheus and /healthz, /readyz for probes. It archives nothing and tracks nothing,
so it can run beside 'reelvault run' or on another machine that shares the catalog
and the bucket. Without server.token it answers loopback clients only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			if err := lopts.apply(a); err != nil {
				return err
			}
			return runServe(cmd.Context(), a)
		},
	}
	lopts.AddFlags(cmd.Flags())
	return cmd
}

func runServe(ctx context.Context, a *app) error {
	cat, store, closeVault, err := a.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer closeVault()
	m := metrics.New(ctx, cat, metrics.Options{Logger: a.log})
	srv, err := a.listen(server.Options{
		Ready:   []server.Check{server.CatalogWritable(cat), server.StorageReachable(store, a.cfg.Storage.KeyPrefix())},
		Metrics: m.Handler(),
		Web:     a.webHandler(cat, store),
	})
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// webHandler is the web view, behind the same token as the intake API. Its
// videos stream from storage through reelvault (no pre-signed URLs), so they
// play even when the bucket's endpoint is not reachable from the browser.
func (a *app) webHandler(cat *catalog.DB, store storage.Store) http.Handler {
	return web.New(cat, store, web.Options{Token: a.cfg.Server.Token, Logger: a.log})
}

// gatewayURL is api.base_url, for the proxy.
func (a *app) gatewayURL() (*url.URL, error) {
	u, err := url.Parse(a.cfg.API.BaseURL)
	if err != nil {
		return nil, &usageError{fmt.Errorf("api.base_url: %w", err)}
	}
	return u, nil
}

// listen binds server.listen for opts and says at start-up what it serves
// and how it is guarded.
func (a *app) listen(opts server.Options) (*server.Server, error) {
	opts.Token = a.cfg.Server.Token
	opts.AllowedHosts = a.cfg.Server.AllowedHosts
	opts.Logger = a.log
	srv, err := server.Listen(a.cfg.Server.Listen, server.New(opts), a.log)
	if err != nil {
		return nil, err
	}
	var serves []string
	if opts.Catalog != nil {
		serves = append(serves, "intake (POST /v1/tasks)")
	}
	if opts.Gateway != nil {
		serves = append(serves, "proxy to "+opts.Gateway.Redacted())
	}
	if opts.Metrics != nil {
		serves = append(serves, "/metrics")
	}
	if opts.Web != nil {
		serves = append(serves, "web view (/)")
	}
	serves = append(serves, "/healthz", "/readyz")
	a.log.Info("http server listening", "addr", srv.Addr(), "url", "http://"+srv.Addr(), "serves", serves)
	if opts.Token == "" {
		a.log.Warn("server.token is not set: the HTTP server listens on loopback only and answers loopback clients only")
	}
	return srv, nil
}
