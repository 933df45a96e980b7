package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/catalog"
)

type migrateOptions struct {
	to string
}

func newCatalogMigrateCommand(gopts *globalOptions) *cobra.Command {
	var opts migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate --to postgres",
		Short: "Copy the SQLite catalog into the Postgres catalog, to run several instances on it",
		Long: `Migrate copies every task and video of the SQLite catalog (catalog.path) into
the Postgres catalog (catalog.postgres.url), which must be empty: signed URLs,
poll schedules and archive states included, so that runs on Postgres go on
where the SQLite runs stopped. It holds the SQLite catalog's run lock while it
copies: stop the SQLite run first. Afterwards set catalog.driver to postgres.

Exit codes: 0 copied; 1 an error (the Postgres catalog is not empty, a server
unreachable); 2 bad command line or config; 6 a reelvault run holds the
SQLite catalog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			return runCatalogMigrate(cmd.Context(), a, opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.to, "to", "", "the engine to copy into: postgres")
	return cmd
}

func runCatalogMigrate(ctx context.Context, a *app, opts migrateOptions, out io.Writer) error {
	if opts.to != "postgres" {
		return &usageError{fmt.Errorf("catalog migrate: --to %q: want --to postgres", opts.to)}
	}
	url := a.cfg.Catalog.Postgres.URL
	if url == "" {
		return &usageError{fmt.Errorf("catalog migrate: catalog.postgres.url is not set: name the Postgres catalog to copy into")}
	}
	unlock, err := catalog.Lock(a.cfg.Catalog.Path)
	if err != nil {
		return err
	}
	defer unlock()
	src, err := catalog.Open(ctx, a.cfg.Catalog.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := catalog.OpenPostgres(ctx, url)
	if err != nil {
		return err
	}
	defer dst.Close()
	tasks, assets, err := src.CopyTo(ctx, dst, func(table string, n int) {
		a.log.Info("copying the catalog", "table", table, "rows", n)
	})
	if err != nil {
		return fmt.Errorf("catalog migrate: %w", err)
	}
	_, err = fmt.Fprintf(out, "copied %d tasks and %d videos from %s to %s; set catalog.driver: postgres\n",
		tasks, assets, src.Where(), dst.Where())
	return err
}
