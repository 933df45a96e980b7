package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

type showOptions struct {
	format  string
	presign time.Duration
}

// shown is what `catalog show` prints: the task with every catalog field,
// the gateway's last reply, and with --presign where to fetch each video.
type shown struct {
	catalog.Task
	GatewayReply json.RawMessage `json:"gateway_reply,omitempty"`
	// Presigned maps a video kind to a pre-signed GET URL (s3, minio) or a
	// file path (fs).
	Presigned map[string]string `json:"presigned,omitempty"`
}

func newCatalogShowCommand(gopts *globalOptions) *cobra.Command {
	var opts showOptions
	cmd := &cobra.Command{
		Use:   "show TASK_ID",
		Short: "Print one task: every field, both videos, the media check, the object keys",
		Long: `Show prints one task with every field the catalog holds, its videos (state, bucket,
object key, url, size, sha256, the media check of the stored MP4) and the gateway's
last reply (signatures redacted). TASK_ID may be any unique prefix of an id.

--format json (the default) prints the fields of "catalog list --format json" plus
gateway_reply and, with --presign, presigned: {kind: URL or file path}.
--presign 1h adds pre-signed GET URLs valid that long (s3, minio), or the files'
paths (fs).`,
		Example: `  reelvault catalog show asyntask_Qk3 --format text --presign 1h`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("catalog show takes one task id, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return asFormat(opts.format, runCatalogShow(cmd, gopts, opts, args[0]))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "json", "output: json or text")
	f.DurationVar(&opts.presign, "presign", 0, "print pre-signed GET URLs valid this long (1s to 168h), or file paths for fs")
	return cmd
}

func runCatalogShow(cmd *cobra.Command, gopts *globalOptions, opts showOptions, id string) error {
	if err := checkFormat(opts.format, "json", "text"); err != nil {
		return err
	}
	if opts.presign != 0 && (opts.presign < time.Second || opts.presign > 7*24*time.Hour) {
		return &usageError{fmt.Errorf("--presign %s: want between 1s and 168h (the S3 limit)", opts.presign)}
	}
	ctx := cmd.Context()
	a, err := loadApp(cmd, gopts)
	if err != nil {
		return err
	}
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	full, err := cat.ResolveID(ctx, id)
	if err != nil {
		return err
	}
	t, err := cat.Get(ctx, full)
	if err != nil {
		return err
	}
	out := shown{Task: t}
	if json.Valid(t.Raw) {
		out.GatewayReply = t.Raw
	}
	if opts.presign > 0 {
		store, err := a.openStore(ctx)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		out.Presigned = map[string]string{}
		for _, as := range t.Assets {
			if as.State != catalog.AssetArchived || as.Key == "" {
				continue
			}
			if out.Presigned[as.Kind], err = locate(ctx, store, as.Key, opts.presign); err != nil {
				return err
			}
		}
	}
	if opts.format == "text" {
		return writeShowText(cmd.OutOrStdout(), out)
	}
	return writeJSON(cmd.OutOrStdout(), out)
}

// locate is where a user can fetch key: a pre-signed URL, or a file path.
func locate(ctx context.Context, store storage.Store, key string, ttl time.Duration) (string, error) {
	if p, ok := store.(storage.Presigner); ok {
		u, err := p.Presign(ctx, key, ttl)
		if err != nil {
			return "", fmt.Errorf("presign %s: %w", key, err)
		}
		return u, nil
	}
	// The fs driver names the file itself: on a case-insensitive filesystem
	// it is not root + key.
	if fp, ok := store.(interface {
		Path(key string) (string, error)
	}); ok {
		p, err := fp.Path(key)
		if err != nil {
			return "", fmt.Errorf("path of %s: %w", key, err)
		}
		return p, nil
	}
	return "", errors.New("this storage driver cannot pre-sign URLs")
}

// writeShowText prints a task for people: one labelled line per fact.
func writeShowText(w io.Writer, s shown) error {
	t := s.Task
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		if v := fmt.Sprintf(format, args...); strings.TrimSpace(v) != "" {
			fmt.Fprintf(tw, "%s\t%s\n", label, v)
		}
	}
	when := func(s int64) string {
		if s <= 0 {
			return "-"
		}
		return time.Unix(s, 0).UTC().Format(time.RFC3339)
	}
	line("task", "%s", t.TaskID)
	line("status", "%s (upstream %s, %s)", t.Status, dash(t.UpstreamStatus), dash(t.Progress))
	line("archive", "%s", dash(t.ArchiveState))
	if t.ArchivedAt != nil {
		line("archived at", "%s", t.ArchivedAt.Format(time.RFC3339))
	}
	if t.SettledAt != nil {
		line("settled at", "%s", t.SettledAt.Format(time.RFC3339))
	}
	line("task.json", "%s", t.TaskJSONKey)
	line("model", "%s (%s)", dash(t.Model), dash(t.Action))
	res := dash(t.Resolution)
	if t.SuperResolution != "" {
		res += " -> " + t.SuperResolution + " (super-resolution)"
	}
	line("video", "%s, %s, %s, %g fps, audio %t, seed %d", seconds(t.Duration), res, dash(t.Ratio),
		t.FramesPerSecond, t.GenerateAudio, t.Seed)
	line("tokens", "completion %s, total %s, super-resolution %s", thousands(t.CompletionTokens),
		thousands(t.TotalTokens), thousands(t.SuperResolutionTokens))
	line("submitted", "%s", when(t.SubmitTime))
	line("started", "%s", when(t.StartTime))
	line("finished", "%s", when(t.FinishTime))
	line("tracked", "%s via %s, %d polls", t.TrackedAt.Format(time.RFC3339), dash(t.Source), t.Polls)
	line("request id", "%s", t.RequestID)
	line("upstream id", "%s", t.UpstreamID)
	line("prompt", "%s", t.Prompt)
	line("fail reason", "%s", t.FailReason)
	line("last error", "%s", t.LastError)
	for _, a := range t.Assets {
		line(a.Kind, "%s, %s, sha256 %s", a.State, humanBytes(a.Size), dash(a.SHA256))
		line("  bucket", "%s", a.Bucket)
		line("  key", "%s", a.Key)
		line("  url", "%s", a.URL)
		if a.MediaCheck != "" {
			line("  media", "%s, %dx%d, check: %s", seconds(a.MediaDuration), a.MediaWidth, a.MediaHeight, a.MediaCheck)
		}
		line("  url expiry", "%s", a.ExpiresAt.Format(time.RFC3339))
		if a.ArchivedAt != nil {
			line("  archived at", "%s", a.ArchivedAt.Format(time.RFC3339))
		}
		line("  last error", "%s", a.LastError)
		if u := s.Presigned[a.Kind]; u != "" {
			line("  fetch", "%s", u)
		}
	}
	return tw.Flush()
}
