// Package config is reelvault's configuration as a value: a tagged struct,
// Default, Parse or Load (which decode a YAML file strictly on top of the
// defaults and expand ${VAR} references), and Validate, which reports every
// problem by the key's YAML path.
//
// Nothing here reads the process environment, logs, or changes global state:
// callers pass os.LookupEnv (or a map in tests) and decide what to do with the
// errors. Precedence of flags over the file is the command's job; this package
// only picks the file (Resolve) and reads it.
package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// SimulatorAPIKey is the key EffectiveAPIKey returns for a loopback gateway
// when none is configured; `reelvault simulate` accepts it.
const SimulatorAPIKey = "sim-key"

// redactedMarker replaces a non-empty secret in Redacted, so that output still
// shows whether the secret is set.
const redactedMarker = "REDACTED"

// Config is everything reelvault reads from its config file.
type Config struct {
	API      API      `yaml:"api"`
	Catalog  Catalog  `yaml:"catalog"`
	Storage  Storage  `yaml:"storage"`
	Archive  Archive  `yaml:"archive"`
	Server   Server   `yaml:"server"`
	Discover Discover `yaml:"discover"`
	Log      Log      `yaml:"log"`
}

// API is the video-generation gateway reelvault polls.
type API struct {
	// BaseURL defaults to the local simulator (`reelvault simulate`) so that
	// the built-in defaults work out of the box; production sets the real
	// gateway here.
	BaseURL string `yaml:"base_url"`
	// APIKey is required unless BaseURL is a loopback address; read it through
	// EffectiveAPIKey.
	APIKey            string   `yaml:"api_key"`
	PollInterval      Duration `yaml:"poll_interval"`
	RequestsPerSecond float64  `yaml:"requests_per_second"`
	// Timeout bounds one poll request.
	Timeout Duration `yaml:"timeout"`
	// GiveUpAfter is how long a task may stay unfinished before reelvault
	// stops polling it.
	GiveUpAfter Duration `yaml:"give_up_after"`
}

// Storage selects and configures where videos are archived.
type Storage struct {
	Driver string `yaml:"driver"` // fs, s3 or minio
	// Prefix is prepended to every object key. Validate accepts it with or
	// without a trailing "/"; read it through KeyPrefix.
	Prefix string `yaml:"prefix"`
	// KeyTemplate is the folder of one task's objects under Prefix; it must
	// contain {task_id} so no two tasks share a folder.
	KeyTemplate string `yaml:"key_template"`
	FS          FS     `yaml:"fs"`
	S3          S3     `yaml:"s3"`
	MinIO       MinIO  `yaml:"minio"`
}

// FS stores objects as files under a local directory.
type FS struct {
	// Root is relative to the working directory when not absolute.
	Root string `yaml:"root"`
}

// S3 stores objects in an AWS S3 (or S3-compatible) bucket.
type S3 struct {
	Bucket string `yaml:"bucket"`
	Region string `yaml:"region"`
	// Endpoint is a full URL for S3-compatible services; empty means AWS.
	Endpoint       string `yaml:"endpoint"`
	ForcePathStyle bool   `yaml:"force_path_style"`
	// AccessKeyID and SecretAccessKey are set together or not at all; when
	// empty the driver uses the AWS SDK's default credential chain.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
}

// MinIO stores objects in a MinIO bucket through minio-go.
type MinIO struct {
	// Endpoint is host:port without a scheme, as minio-go expects; Secure
	// selects https.
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Secure    bool   `yaml:"secure"`
	Region    string `yaml:"region"`
}

// Archive tunes how finished videos are downloaded and uploaded.
type Archive struct {
	Concurrency int `yaml:"concurrency"`
	// PartSize is the multipart upload part size, within S3's limits.
	PartSize Size `yaml:"part_size"`
	// StallTimeout aborts a download that receives no byte for this long.
	StallTimeout Duration `yaml:"stall_timeout"`
	// MaxVideoBytes refuses a video larger than this, on its Content-Length
	// before any byte is read, or as soon as a body without one grows past
	// it: a hostile origin must not fill the disk or the bucket.
	MaxVideoBytes Size `yaml:"max_video_bytes"`
	// MinBytesPerSecond aborts (to retry later) a download whose average rate
	// over MinRateWindow falls below it, so that an origin dribbling a byte
	// now and then cannot hold a transfer slot forever; 0 turns it off.
	MinBytesPerSecond Size     `yaml:"min_bytes_per_second"`
	MinRateWindow     Duration `yaml:"min_rate_window"`
	// AllowHTTP permits plain-http result URLs; only the simulator needs it.
	AllowHTTP bool `yaml:"allow_http"`
	// AllowedHosts, when not empty, is the only set of hosts videos may be
	// downloaded from (exact names, or "*.example.com" for subdomains).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowPrivateNetworks lets downloads reach loopback and private
	// addresses; off by default so a compromised gateway cannot make
	// reelvault read internal services.
	AllowPrivateNetworks bool `yaml:"allow_private_networks"`
}

// Server is reelvault's own HTTP listener.
type Server struct {
	Listen string `yaml:"listen"`
	// Token is required when Listen is not a loopback address.
	Token string `yaml:"token"`
	// AllowedHosts are the names, besides IP addresses, localhost and the
	// listen host, that requests may carry in Host: the names reelvault is
	// reached by (a DNS-rebinding page carries its own name, and is refused).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Proxy forwards every other request to api.base_url, tracking tasks
	// created through it.
	Proxy bool `yaml:"proxy"`
	// HeartbeatURL is pinged while the backlog is healthy (nothing expiring
	// within HeartbeatMargin); empty disables it.
	HeartbeatURL    string   `yaml:"heartbeat_url"`
	HeartbeatMargin Duration `yaml:"heartbeat_margin"`
}

// Log configures the slog handler.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// Default returns the built-in configuration: a local simulator gateway, a
// SQLite catalog and an fs store under ./reelvault-data, and a loopback
// listener.
// It passes Validate.
func Default() Config {
	return Config{
		API: API{
			BaseURL:           "http://127.0.0.1:8418",
			PollInterval:      Duration(15 * time.Second),
			RequestsPerSecond: 5,
			Timeout:           Duration(30 * time.Second),
			GiveUpAfter:       Duration(48 * time.Hour),
		},
		Catalog: Catalog{
			Driver: "sqlite",
			Path:   "./reelvault-data/catalog.db",
			Lease:  Duration(time.Minute),
		},
		Storage: Storage{
			Driver:      "fs",
			KeyTemplate: "{year}/{month}/{day}/{task_id}",
			FS:          FS{Root: "./reelvault-data/objects"},
		},
		Archive: Archive{
			Concurrency:       4,
			PartSize:          16 * MiB,
			StallTimeout:      Duration(60 * time.Second),
			MaxVideoBytes:     4 * GiB,
			MinBytesPerSecond: 16 * KiB,
			MinRateWindow:     Duration(30 * time.Second),
			AllowedHosts:      []string{},
		},
		Server:   Server{Listen: "127.0.0.1:8417", HeartbeatMargin: Duration(2 * time.Hour), AllowedHosts: []string{}},
		Discover: Discover{Interval: Duration(5 * time.Minute), Lookback: Duration(48 * time.Hour)},
		Log:      Log{Level: "info", Format: "text"},
	}
}

// EffectiveAPIKey is the key to send to the gateway: the configured one, or
// SimulatorAPIKey when none is set and BaseURL points at a loopback host
// (where only the simulator is expected to listen).
func (c Config) EffectiveAPIKey() string {
	if c.API.APIKey == "" && isLoopbackURL(c.API.BaseURL) {
		return SimulatorAPIKey
	}
	return c.API.APIKey
}

// KeyPrefix returns Storage.Prefix normalised for key building: "" or a
// prefix ending in exactly one "/", so that KeyPrefix()+name is a key.
func (s Storage) KeyPrefix() string {
	p := strings.TrimRight(s.Prefix, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// Redacted returns a copy of c that is safe to print or log: secrets that are
// set become "REDACTED" (empty ones stay empty, so the output still tells
// whether they are set), and passwords in URLs are masked. Access key IDs are
// identifiers, not secrets, and are kept.
func (c Config) Redacted() Config {
	redact := func(s *string) {
		if *s != "" {
			*s = redactedMarker
		}
	}
	redact(&c.API.APIKey)
	redact(&c.Storage.S3.SecretAccessKey)
	redact(&c.Storage.MinIO.SecretKey)
	redact(&c.Server.Token)
	redact(&c.Discover.AccessToken)
	c.API.BaseURL = redactURL(c.API.BaseURL)
	c.Storage.S3.Endpoint = redactURL(c.Storage.S3.Endpoint)
	c.Catalog.Postgres.URL = redactPostgresURL(c.Catalog.Postgres.URL)
	return c
}

// redactURL masks the password of a URL with user info; anything that does
// not parse is returned unchanged, since it carries no user info we can find.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// isLoopbackURL reports whether rawURL's host is localhost or a loopback IP.
func isLoopbackURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	return isLoopbackHost(u.Hostname())
}

// isLoopbackHost reports whether host (without port or brackets) is
// "localhost" or an address in 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// isLoopbackListen reports whether a host:port listen address binds only
// loopback; an empty host binds every interface.
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err == nil && host != "" && isLoopbackHost(host)
}
