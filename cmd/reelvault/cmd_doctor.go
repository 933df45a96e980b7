package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/config"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/storage"
)

// errChecksFailed is doctor's verdict when a check fails: exit code 1.
var errChecksFailed = errors.New("some checks failed")

// checkTimeout bounds each network check, so a black-holed endpoint is
// reported rather than waited on.
const checkTimeout = 30 * time.Second

func newDoctorCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the config, the API key, the storage and the catalog, and say what is wrong",
		Long: `doctor checks, one line each, in this order:

  config   the config file loads and validates
  key      the gateway accepts the API key (one request for a made-up task id:
           task_not_exist means the key works; 401/403 means it is rejected)
  storage  a probe object under the key prefix can be written (with tags and
           metadata), read back with the same sha256, and deleted; an upload of
           unknown length (multipart on s3/minio) works too
  catalog  the catalog opens (it is created or migrated if needed), is writable,
           and is at the schema version this reelvault expects
  discover with discover.enabled: the gateway serves its task listing and
           accepts the access token (one page of the last hour)

It prints "ok" or "FAIL: reason" per check and exits 1 when any check fails
(2 when the config itself does not load).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd, gopts, cmd.OutOrStdout())
		},
	}
}

// check is one named probe; it returns what it found, or why it failed.
type check struct {
	name string
	run  func(ctx context.Context, a *app) (string, error)
}

func runDoctor(cmd *cobra.Command, gopts *globalOptions, w io.Writer) error {
	ctx := cmd.Context()
	checks := []check{{"key", checkKey}, {"storage", checkStorage}, {"catalog", checkCatalog}, {"discover", checkDiscover}}

	a, err := loadApp(cmd, gopts)
	if err != nil {
		printCheck(w, "config", "", err)
		for _, c := range checks {
			fmt.Fprintf(w, "%-8s skipped: no usable config\n", c.name+":")
		}
		return &usageError{fmt.Errorf("%w: the config", errChecksFailed)}
	}
	printCheck(w, "config", describeConfig(a.cfg, gopts), nil)

	var failed []string
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		detail, err := c.run(cctx, a)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		printCheck(w, c.name, detail, err)
		if err != nil {
			failed = append(failed, c.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errChecksFailed, strings.Join(failed, ", "))
	}
	return nil
}

// printCheck writes one line (continuation lines indented) per check.
func printCheck(w io.Writer, name, detail string, err error) {
	line := "ok"
	if detail != "" {
		line += " (" + detail + ")"
	}
	if err != nil {
		line = "FAIL: " + err.Error()
	}
	fmt.Fprintf(w, "%-8s %s\n", name+":", strings.ReplaceAll(strings.TrimSpace(line), "\n", "\n          "))
}

func describeConfig(cfg config.Config, gopts *globalOptions) string {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	path := config.Resolve(gopts.configPath, os.LookupEnv, exists)
	if path == "" {
		path = "built-in defaults"
	}
	return fmt.Sprintf("%s; gateway %s, storage %s, catalog %s", path, gateway.RedactURL(cfg.API.BaseURL),
		cfg.Storage.Driver, cfg.Catalog.Describe())
}

// checkKey asks the gateway about a task id nobody created: an answer of
// task_not_exist proves the key was accepted without touching a real task.
func checkKey(ctx context.Context, a *app) (string, error) {
	id := "reelvault_doctor_" + rand.Text()
	_, _, err := a.gatewayClient().Task(ctx, id)
	var apiErr *gateway.APIError
	switch {
	case err == nil, errors.Is(err, gateway.ErrTaskNotFound):
		return "the gateway accepted it: a made-up task id got task_not_exist", nil
	case errors.Is(err, gateway.ErrKeyRejected):
		return "", fmt.Errorf("%w; check api.api_key (or the variable it names) and the key's quota", err)
	case errors.Is(err, gateway.ErrBadReply):
		return "", fmt.Errorf("the gateway's reply is not its API's: %w; check api.base_url", err)
	case errors.As(err, &apiErr):
		return "", fmt.Errorf("cannot tell whether the key works, the gateway answered: %w", err)
	default:
		return "", fmt.Errorf("cannot reach the gateway: %w", err)
	}
}

// checkDiscover reads one page of the task listing when discovery is on.
func checkDiscover(ctx context.Context, a *app) (string, error) {
	if !a.cfg.Discover.Enabled {
		return "off (discover.enabled: false)", nil
	}
	now := time.Now()
	page, err := a.dashboard().ListTasks(ctx, gateway.ListQuery{Page: 1, PageSize: 1, From: now.Add(-time.Hour), To: now})
	switch {
	case err == nil:
		return fmt.Sprintf("the gateway lists the account's tasks: %d in the last hour", page.Total), nil
	case errors.Is(err, gateway.ErrTokenRejected):
		return "", fmt.Errorf("%w; check discover.access_token (the dashboard's access token, not the API key) and discover.user_id", err)
	case errors.Is(err, gateway.ErrNoListing), errors.Is(err, gateway.ErrBadReply):
		return "", fmt.Errorf("this gateway does not serve its task listing (%w); `run` goes on without discovery: "+
			"set discover.enabled: false and give reelvault the ids (track, intake, proxy)", err)
	default:
		return "", fmt.Errorf("cannot reach the task listing: %w", err)
	}
}

// checkStorage writes, reads back and deletes a probe object under the key
// prefix, and reports what the endpoint did not keep (tags, metadata, the
// content type) or could not do (uploads of unknown length).
func checkStorage(ctx context.Context, a *app) (string, error) {
	store, err := a.openStore(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot open the %s store: %w", a.cfg.Storage.Driver, err)
	}
	where := store.Location()
	key := a.cfg.Storage.KeyPrefix() + "reelvault-doctor-probe-" + rand.Text()
	body := []byte("reelvault doctor probe, " + time.Now().UTC().Format(time.RFC3339Nano) + "\n")
	opts := storage.PutOptions{ContentType: "text/plain; charset=utf-8", Metadata: map[string]string{"probe": "doctor"},
		Tags: map[string]string{"reelvault": "doctor"}}
	var notes []string

	// Remove the probes whatever happens, even when ctx was cancelled.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		store.Delete(cctx, key)
		store.Delete(cctx, key+"-stream")
	}()

	if err := store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
		// Some S3-compatible endpoints refuse object tagging; see if that is all.
		opts.Tags = nil
		if err2 := store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), opts); err2 != nil {
			return "", fmt.Errorf("cannot write %s to %s: %w", key, where, err)
		}
		notes = append(notes, fmt.Sprintf("object tags refused (%v); reelvault does not need them", err))
	} else if a.cfg.Storage.Driver != "fs" {
		notes = append(notes, "tags accepted")
	}
	info, err := store.Stat(ctx, key)
	if err != nil {
		return "", fmt.Errorf("wrote %s to %s but cannot stat it: %w", key, where, err)
	}
	if info.Size != int64(len(body)) {
		return "", fmt.Errorf("wrote %d bytes to %s in %s, the store says it holds %d", len(body), key, where, info.Size)
	}
	if info.ContentType != opts.ContentType {
		notes = append(notes, fmt.Sprintf("content type came back as %q", info.ContentType))
	}
	if info.Metadata["probe"] != "doctor" {
		notes = append(notes, "user metadata was dropped")
	}
	if err := readBack(ctx, store, key, body); err != nil {
		return "", fmt.Errorf("%s in %s: %w", key, where, err)
	}
	// The archiver streams a video whose length it does not know through
	// multipart uploads: the path where endpoints' checksum quirks show.
	// io.MultiReader hides the length, as a body without Content-Length would.
	if err := store.Put(ctx, key+"-stream", io.MultiReader(bytes.NewReader(body)), -1, storage.PutOptions{ContentType: "text/plain"}); err != nil {
		return "", fmt.Errorf("an upload of unknown length (multipart) to %s fails, so videos sent without a Content-Length "+
			"would not archive: %w", where, err)
	}
	if err := readBack(ctx, store, key+"-stream", body); err != nil {
		return "", fmt.Errorf("upload of unknown length to %s: %w", where, err)
	}
	if err := store.Delete(ctx, key); err != nil {
		return "", fmt.Errorf("cannot delete %s from %s: %w", key, where, err)
	}
	if _, err := store.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		notes = append(notes, "a deleted object is still listed right after the delete")
	}
	under := "at the top"
	if p := a.cfg.Storage.KeyPrefix(); p != "" {
		under = "under " + p
	}
	detail := where + ": wrote, read back (same sha256) and deleted a probe object " + under
	if len(notes) > 0 {
		detail += "; " + strings.Join(notes, "; ")
	}
	return detail, nil
}

// readBack checks that key holds exactly want, by sha256.
func readBack(ctx context.Context, store storage.Store, key string, want []byte) error {
	rc, err := store.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("cannot read it back: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("reading it back failed after %d bytes: %w", n, err)
	}
	if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
		return fmt.Errorf("read back %d bytes with a different sha256 than written (%d bytes): "+
			"the endpoint or a proxy changes objects", n, len(want))
	}
	return nil
}

// checkCatalog opens the catalog as run would (creating or migrating it),
// and checks that it can be written.
func checkCatalog(ctx context.Context, a *app) (string, error) {
	path := a.cfg.Catalog.Path
	_, statErr := os.Stat(path)
	if a.cfg.Catalog.Driver == "postgres" {
		path, statErr = a.cfg.Catalog.Describe(), nil
	}
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot open %s: %w", path, err)
	}
	defer cat.Close()
	path = cat.Where()
	version, latest, err := cat.SchemaVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if version != latest {
		return "", fmt.Errorf("%s is at schema version %d, this reelvault expects %d", path, version, latest)
	}
	if err := cat.CheckWritable(ctx); err != nil {
		return "", fmt.Errorf("%s: %w (check the file's owner and permissions, and the disk)", path, err)
	}
	n, err := cat.TaskCount(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	detail := fmt.Sprintf("%s: schema version %d, writable, %d tasks", path, version, n)
	if errors.Is(statErr, os.ErrNotExist) {
		detail += "; created just now"
	}
	return detail, nil
}
