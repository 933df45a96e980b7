package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/s3"
)

// Every driver can leave unfinished uploads behind, and can clean them up.
var (
	_ storage.UploadAborter = (*fs.Store)(nil)
	_ storage.UploadAborter = (*s3.Store)(nil)
	_ storage.UploadAborter = (*minio.Store)(nil)
)

func newCleanupCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Abort unfinished uploads a crashed run left under the key prefix",
		Long: `Cleanup removes what interrupted uploads leave behind under the configured key
prefix: unfinished multipart uploads on S3 and MinIO (invisible in listings, but
their parts are stored and billed), and temp files older than an hour on fs.
Stored objects are never touched.

It takes the catalog's lock (SQLite's lock file, or on a Postgres catalog its
run lock exclusively), so it refuses to run while any reelvault run is going
(it would abort that run's uploads). Other programs must not upload
under the same prefix while it runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd, gopts)
			if err != nil {
				return err
			}
			return runCleanup(cmd.Context(), a, cmd.OutOrStdout())
		},
	}
}

func runCleanup(ctx context.Context, a *app, out io.Writer) error {
	unlock, err := a.lockAlone(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	store, err := a.openStore(ctx)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	prefix := a.cfg.Storage.KeyPrefix()
	where := store.Location() + "/" + prefix
	aborter, ok := store.(storage.UploadAborter)
	if !ok {
		_, err := fmt.Fprintf(out, "cleanup %s: this storage leaves no unfinished uploads; nothing to do\n", where)
		return err
	}
	n, err := aborter.AbortIncompleteUploads(ctx, prefix)
	if err != nil {
		return fmt.Errorf("cleanup %s: %d unfinished upload(s) aborted before: %w", where, n, err)
	}
	_, err = fmt.Fprintf(out, "cleanup %s: aborted %d unfinished upload(s)\n", where, n)
	return err
}
