package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/config"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/s3"
)

// app is what every command builds from the flags and the config file.
type app struct {
	cfg config.Config
	log *slog.Logger
}

// usageError is a problem with the command line or the config: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func loadApp(cmd *cobra.Command, gopts *globalOptions) (*app, error) {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	path := config.Resolve(gopts.configPath, os.LookupEnv, exists)
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path, os.LookupEnv); err != nil {
			return nil, &usageError{err}
		}
	}
	// Flags beat the file when given.
	if cmd.Flags().Changed("log-level") {
		cfg.Log.Level = gopts.logLevel
	}
	if cmd.Flags().Changed("log-format") {
		cfg.Log.Format = gopts.logFormat
	}
	if err := cfg.Validate(); err != nil {
		name := path
		if name == "" {
			name = "built-in defaults"
		}
		return nil, &usageError{fmt.Errorf("config %s:\n%w", name, err)}
	}
	return &app{cfg: cfg, log: newLogger(os.Stderr, cfg.Log)}, nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openCatalog opens the configured catalog: the SQLite file, or the
// Postgres database (an error names its host, never the password).
func (a *app) openCatalog(ctx context.Context) (*catalog.DB, error) {
	if a.cfg.Catalog.Driver == "postgres" {
		return catalog.OpenPostgres(ctx, a.cfg.Catalog.Postgres.URL)
	}
	return catalog.Open(ctx, a.cfg.Catalog.Path)
}

// openVault opens the catalog and the store. With lock set it first takes
// the catalog's run lock, for commands that must not overlap a run; on
// Postgres several runs sharing the catalog is the point, and leases keep
// them apart instead. The returned close releases everything it opened.
func (a *app) openVault(ctx context.Context, lock bool) (*catalog.DB, storage.Store, func(), error) {
	release := func() {}
	if lock && a.cfg.Catalog.Driver != "postgres" {
		unlock, err := catalog.Lock(a.cfg.Catalog.Path)
		if err != nil {
			return nil, nil, nil, err
		}
		release = unlock
	}
	cat, err := a.openCatalog(ctx)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	store, err := a.openStore(ctx)
	if err != nil {
		cat.Close()
		release()
		return nil, nil, nil, fmt.Errorf("storage: %w", err)
	}
	return cat, store, func() { cat.Close(); release() }, nil
}

// lockAlone takes the catalog's run lock for a command that must not
// overlap any run (cleanup, migrate): SQLite's lock file, or the Postgres
// catalog's run lock exclusively. Either fails with catalog.ErrLocked while
// a run is going.
func (a *app) lockAlone(ctx context.Context) (unlock func(), err error) {
	if a.cfg.Catalog.Driver != "postgres" {
		return catalog.Lock(a.cfg.Catalog.Path)
	}
	cat, err := a.openCatalog(ctx)
	if err != nil {
		return nil, err
	}
	release, err := cat.LockRuns(ctx, true, nil)
	if err != nil {
		cat.Close()
		return nil, err
	}
	return func() { release(); cat.Close() }, nil
}

// openStore builds the configured driver; s3 and minio check at once that
// the bucket exists and the credentials work.
func (a *app) openStore(ctx context.Context) (storage.Store, error) {
	s := a.cfg.Storage
	part := int64(a.cfg.Archive.PartSize)
	switch s.Driver {
	case "s3":
		return s3.New(ctx, s3.Config{
			Bucket: s.S3.Bucket, Region: s.S3.Region, Endpoint: s.S3.Endpoint, ForcePathStyle: s.S3.ForcePathStyle,
			AccessKeyID: s.S3.AccessKeyID, SecretAccessKey: s.S3.SecretAccessKey, PartSize: part,
		})
	case "minio":
		return minio.New(ctx, minio.Config{
			Endpoint: s.MinIO.Endpoint, Bucket: s.MinIO.Bucket, AccessKey: s.MinIO.AccessKey,
			SecretKey: s.MinIO.SecretKey, Secure: s.MinIO.Secure, Region: s.MinIO.Region, PartSize: part,
		})
	default:
		return fs.New(s.FS.Root)
	}
}

func (a *app) gatewayClient() *gateway.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	hc := &http.Client{Timeout: time.Duration(a.cfg.API.Timeout), Transport: tr}
	return gateway.NewClient(a.cfg.API.BaseURL, a.cfg.EffectiveAPIKey(), hc)
}

// archiverOptions maps the config onto the archiver's knobs.
func (a *app) archiverOptions() archiver.Options {
	return archiver.Options{
		PollInterval:      time.Duration(a.cfg.API.PollInterval),
		RequestsPerSecond: a.cfg.API.RequestsPerSecond,
		GiveUpAfter:       time.Duration(a.cfg.API.GiveUpAfter),
		Concurrency:       a.cfg.Archive.Concurrency,
		Prefix:            a.cfg.Storage.KeyPrefix(),
		KeyTemplate:       a.cfg.Storage.KeyTemplate,
		StallTimeout:      time.Duration(a.cfg.Archive.StallTimeout),
		MaxVideoBytes:     int64(a.cfg.Archive.MaxVideoBytes),
		MinBytesPerSecond: minRate(a.cfg.Archive.MinBytesPerSecond),
		RateWindow:        time.Duration(a.cfg.Archive.MinRateWindow),
		AllowHTTP:         a.allowHTTP(),
		AllowedHosts:      a.cfg.Archive.AllowedHosts,
		// The simulator serves videos from loopback, like the gateway itself.
		AllowPrivateNetworks: a.cfg.Archive.AllowPrivateNetworks || a.gatewayOnLoopback(),
		Owner:                a.cfg.Catalog.EffectiveInstanceID(),
		Lease:                time.Duration(a.cfg.Catalog.Lease),
		Logger:               a.log,
	}
}

// minRate maps archive.min_bytes_per_second onto the archiver's option,
// where 0 means the default and a negative rate turns the check off.
func minRate(z config.Size) int64 {
	if z == 0 {
		return -1
	}
	return int64(z)
}

// allowHTTP permits plain-http video URLs when configured, or when the
// gateway itself is on loopback (the local simulator), so the built-in
// defaults work. A loopback gateway also turns on AllowPrivateNetworks (see
// archiverOptions): a gateway on this machine is already inside the network
// that the private-address check protects, and the simulator's video URLs
// point at loopback.
func (a *app) allowHTTP() bool {
	return a.cfg.Archive.AllowHTTP || a.gatewayOnLoopback()
}

// gatewayOnLoopback reports whether api.base_url names this machine.
func (a *app) gatewayOnLoopback() bool {
	u, err := url.Parse(a.cfg.API.BaseURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
