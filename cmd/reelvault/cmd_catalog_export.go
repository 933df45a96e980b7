package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
)

func newCatalogExportCommand(gopts *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Stream every task as csv or jsonl, in the order they were tracked",
		Long: `Export writes every task in the catalog to stdout, streaming (memory stays
constant however large the catalog), in the order reelvault learned of them. The
fields are those of "catalog list" in the same format (see catalog list --help);
they are only ever added.`,
		Example: `  reelvault catalog export --format csv > tasks.csv
  reelvault catalog export --format jsonl | gzip > tasks.jsonl.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "csv", "jsonl"); err != nil {
				return asFormat(format, err)
			}
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return asFormat(format, err)
			}
			cat, err := a.openCatalog(cmd.Context())
			if err != nil {
				return asFormat(format, err)
			}
			defer cat.Close()
			_, err = cat.Export(cmd.Context(), cmd.OutOrStdout(), format)
			return asFormat(format, err)
		},
	}
	cmd.Flags().StringVar(&format, "format", "jsonl", "output: csv or jsonl")
	return cmd
}

type rebuildOptions struct {
	format      string
	concurrency int
}

func newCatalogRebuildCommand(gopts *globalOptions) *cobra.Command {
	var opts rebuildOptions
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild a lost catalog from the task.json files in the bucket",
		Long: `Rebuild lists every object under storage.prefix, reads each task.json and inserts its
task and videos into the catalog (created if missing), checking that every archived
video is in the bucket with its recorded size; one that is not comes back in state
"error". Tasks the catalog already holds are left alone, so it also fills in a
partly lost catalog. Tasks that failed or never finished had no task.json and
cannot come back; signed source URLs are not kept, so nothing is re-downloaded.

It prints what it did (--format json: {"sidecars", "added", "existing",
"missing_videos", "unreadable"}). Exit code 1 when some task.json could not be
read (the rest is restored), 6 when a reelvault run holds the catalog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return asFormat(opts.format, runCatalogRebuild(cmd, gopts, opts))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "text", "output: text or json")
	f.IntVar(&opts.concurrency, "concurrency", 8, "task.json files read at once")
	return cmd
}

var errUnreadable = errors.New("some task.json could not be read")

func runCatalogRebuild(cmd *cobra.Command, gopts *globalOptions, opts rebuildOptions) error {
	if err := checkFormat(opts.format, "text", "json"); err != nil {
		return err
	}
	if opts.concurrency < 1 || opts.concurrency > 64 {
		return &usageError{fmt.Errorf("--concurrency %d: want 1 to 64", opts.concurrency)}
	}
	ctx := cmd.Context()
	a, err := loadApp(cmd, gopts)
	if err != nil {
		return err
	}
	cat, store, closeVault, err := a.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer closeVault()
	res, err := archiver.Rebuild(ctx, cat, store, a.cfg.Storage.KeyPrefix(), opts.concurrency, a.log)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if opts.format == "json" {
		if res.MissingVideos == nil {
			res.MissingVideos = []string{}
		}
		if res.Unreadable == nil {
			res.Unreadable = []string{}
		}
		if err := writeJSON(out, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "read %d task.json from %s: %d task(s) added, %d already in the catalog\n",
			res.Sidecars, store.Location(), res.Added, res.Existing)
		for _, k := range res.MissingVideos {
			fmt.Fprintf(out, "missing video (restored as error): %s\n", k)
		}
		for _, k := range res.Unreadable {
			fmt.Fprintf(out, "unreadable task.json (skipped): %s\n", k)
		}
	}
	if len(res.Unreadable) > 0 {
		return fmt.Errorf("%w: %d of %d", errUnreadable, len(res.Unreadable), res.Sidecars)
	}
	return nil
}
