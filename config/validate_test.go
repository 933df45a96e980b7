package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Config)
		want   []string // every message, in field order; nil means valid
	}{
		{"defaults", func(*Config) {}, nil},

		// api
		{"base_url empty", func(c *Config) { c.API.BaseURL = "" },
			[]string{"api.base_url: required"}},
		{"base_url relative", func(c *Config) { c.API.BaseURL = "gateway.example.com" },
			[]string{`api.base_url: want an absolute http or https URL such as https://gateway.example.com, got "gateway.example.com"`}},
		{"base_url other scheme", func(c *Config) { c.API.BaseURL = "ftp://gateway.example.com" },
			[]string{`api.base_url: want an absolute http or https URL such as https://gateway.example.com, got "ftp://gateway.example.com"`}},
		{"base_url password not echoed", func(c *Config) { c.API.BaseURL = "ftp://u:pw@gateway.example.com" },
			[]string{`api.base_url: want an absolute http or https URL such as https://gateway.example.com, got "ftp://u:xxxxx@gateway.example.com"`}},
		{"api_key required off loopback", func(c *Config) { c.API.BaseURL = "https://gateway.example.com" },
			[]string{"api.api_key: required when api.base_url is not a loopback address (e.g. api_key: ${REELVAULT_API_KEY})"}},
		{"api_key set off loopback", func(c *Config) { c.API.BaseURL, c.API.APIKey = "https://gateway.example.com", "k" }, nil},
		{"api_key optional on localhost", func(c *Config) { c.API.BaseURL = "http://localhost:8418" }, nil},
		{"api_key optional on ::1", func(c *Config) { c.API.BaseURL = "http://[::1]:8418" }, nil},
		{"poll_interval too short", func(c *Config) { c.API.PollInterval = Duration(500 * time.Millisecond) },
			[]string{"api.poll_interval: must be at least 1s, got 500ms"}},
		{"requests_per_second zero", func(c *Config) { c.API.RequestsPerSecond = 0 },
			[]string{"api.requests_per_second: must be a number greater than 0, got 0"}},
		{"requests_per_second NaN", func(c *Config) { c.API.RequestsPerSecond = math.NaN() },
			[]string{"api.requests_per_second: must be a number greater than 0, got NaN"}},
		{"requests_per_second infinite", func(c *Config) { c.API.RequestsPerSecond = math.Inf(1) },
			[]string{"api.requests_per_second: must be a number greater than 0, got +Inf"}},
		{"timeout zero", func(c *Config) { c.API.Timeout = 0 },
			[]string{"api.timeout: must be greater than 0, got 0s"}},
		{"give_up_after below poll_interval", func(c *Config) { c.API.GiveUpAfter = Duration(10 * time.Second) },
			[]string{"api.give_up_after: must be at least api.poll_interval (15s), got 10s"}},

		// discover
		{"discover on the simulator needs no token", func(c *Config) { c.Discover.Enabled = true }, nil},
		{"discover off loopback needs the access token", func(c *Config) {
			c.API.BaseURL, c.API.APIKey, c.Discover.Enabled = "https://gateway.example.com", "k", true
		}, []string{"discover.access_token: required when discover.enabled is true (the dashboard's access token, not the API key; e.g. access_token: ${REELVAULT_ACCESS_TOKEN})"}},
		{"discover token unused when off", func(c *Config) { c.API.BaseURL, c.API.APIKey = "https://gateway.example.com", "k" }, nil},
		{"discover interval and lookback", func(c *Config) {
			c.Discover = Discover{Enabled: true, UserID: -1, Interval: Duration(time.Millisecond), Lookback: 0}
		}, []string{"discover.user_id: must be 0 (none) or the account's numeric id, got -1",
			"discover.interval: must be at least 1s, got 1ms", "discover.lookback: must be at least discover.interval (1ms), got 0s"}},
		{"allowed host with a scheme", func(c *Config) { c.Server.AllowedHosts = []string{"vault.example.com:8417", "https://x"} },
			[]string{`server.allowed_hosts: entry 1: want a host name such as reelvault.example.com, got "https://x"`}},

		// catalog
		{"catalog path empty", func(c *Config) { c.Catalog.Path = "" },
			[]string{`catalog.path: required when catalog.driver is "sqlite"`}},
		{"catalog driver empty", func(c *Config) { c.Catalog.Driver = "" },
			[]string{"catalog.driver: required: one of sqlite, postgres"}},
		{"catalog driver unknown", func(c *Config) { c.Catalog.Driver = "mysql" },
			[]string{`catalog.driver: want one of sqlite, postgres, got "mysql"`}},
		{"postgres url required", func(c *Config) { c.Catalog.Driver = "postgres" },
			[]string{`catalog.postgres.url: required when catalog.driver is "postgres" (e.g. url: ${REELVAULT_PG_URL})`}},
		{"postgres complete, path unused", func(c *Config) {
			c.Catalog.Driver, c.Catalog.Path = "postgres", ""
			c.Catalog.Postgres.URL = "postgres://rv:pw@db.example.com:5432/reelvault?sslmode=verify-full"
		}, nil},
		{"postgresql scheme", func(c *Config) { usePostgres(c, "postgresql://rv@db.example.com/reelvault") }, nil},
		{"postgres without user or port", func(c *Config) { usePostgres(c, "postgres://db.example.com/reelvault") }, nil},
		{"postgres url other scheme", func(c *Config) { usePostgres(c, "mysql://rv:pw@db.example.com/reelvault") },
			[]string{`catalog.postgres.url: want a postgres:// or postgresql:// URL such as postgres://user:pass@host:5432/reelvault?sslmode=verify-full, got scheme "mysql"`}},
		{"postgres url key=value DSN", func(c *Config) { usePostgres(c, "host=db user=rv password=pw") },
			[]string{"catalog.postgres.url: want a postgres:// URL such as postgres://user:pass@host:5432/reelvault?sslmode=verify-full, got no scheme (key=value connection strings are not supported)"}},
		{"postgres url without host", func(c *Config) { usePostgres(c, "postgres:///reelvault") },
			[]string{"catalog.postgres.url: want a URL with a host, such as postgres://user:pass@host:5432/reelvault?sslmode=verify-full"}},
		{"postgres url unparsable", func(c *Config) { usePostgres(c, "postgres://rv:pw@db.example.com:54x2/reelvault") },
			[]string{"catalog.postgres.url: want a URL such as postgres://user:pass@host:5432/reelvault?sslmode=verify-full; it does not parse (value not shown, as it may hold a password): percent-encode reserved characters in the user name and password, e.g. @ as %40"}},
		{"postgres password with unescaped #", func(c *Config) { usePostgres(c, "postgres://rv:12#34@db.example.com/reelvault") },
			[]string{`catalog.postgres.url: the user name or password holds an unescaped "/", "?" or "#" (value not shown): percent-encode them as %2F, %3F and %23`}},
		{"postgres password with unescaped ?", func(c *Config) { usePostgres(c, "postgres://rv:12?34@db.example.com/reelvault") },
			[]string{`catalog.postgres.url: the user name or password holds an unescaped "/", "?" or "#" (value not shown): percent-encode them as %2F, %3F and %23`}},
		{"postgres password with unescaped / after @", func(c *Config) { usePostgres(c, "postgres://rv:a@b/c@db.example.com/reelvault") },
			[]string{`catalog.postgres.url: the user name or password holds an unescaped "/", "?" or "#" (value not shown): percent-encode them as %2F, %3F and %23`}},
		{"postgres password with escaped reserved characters", func(c *Config) {
			usePostgres(c, "postgres://rv:a%2Fb%3Fc%23d%40e@db.example.com/reelvault")
		}, nil},
		{"lease too short", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.API.Timeout, c.Catalog.Lease = Duration(time.Second), Duration(4*time.Second)
		}, []string{"catalog.lease: must be between 5s and 1h, got 4s"}},
		{"lease too long", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.Catalog.Lease = Duration(61 * time.Minute)
		},
			[]string{"catalog.lease: must be between 5s and 1h, got 1h1m"}},
		{"lease bounds", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.API.Timeout, c.Catalog.Lease = Duration(4*time.Second), Duration(5*time.Second)
		}, nil},
		{"lease upper bound", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.Catalog.Lease = Duration(time.Hour)
		}, nil},
		{"lease equal to api.timeout", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.Catalog.Lease = Duration(30 * time.Second)
		},
			[]string{"catalog.lease: must be longer than api.timeout (30s) so that a poll in flight never outlives its lease, got 30s; raise catalog.lease"}},
		{"api.timeout beyond the longest lease", func(c *Config) {
			usePostgres(c, "postgres://db.example.com/reelvault")
			c.API.Timeout, c.Catalog.Lease = Duration(2*time.Hour), Duration(time.Hour)
		}, []string{"catalog.lease: must be longer than api.timeout (2h) so that a poll in flight never outlives its lease, got 1h; lower api.timeout below 1h, the longest lease"}},
		{"lease unused by sqlite", func(c *Config) { c.API.Timeout, c.Catalog.Lease = Duration(2*time.Minute), 0 }, nil},
		{"instance_id set", func(c *Config) { c.Catalog.InstanceID = "vault-2.eu_west/é" }, nil},
		{"instance_id longest", func(c *Config) { c.Catalog.InstanceID = strings.Repeat("é", 64) }, nil},
		{"instance_id too long", func(c *Config) { c.Catalog.InstanceID = strings.Repeat("a", 65) },
			[]string{"catalog.instance_id: must be at most 64 characters, got 65"}},
		{"instance_id with a space", func(c *Config) { c.Catalog.InstanceID = "vault 2" },
			[]string{`catalog.instance_id: must be printable characters without spaces, got "vault 2"`}},
		{"instance_id with a control character", func(c *Config) { c.Catalog.InstanceID = "vault\n2" },
			[]string{`catalog.instance_id: must be printable characters without spaces, got "vault\n2"`}},
		{"instance_id with invalid UTF-8", func(c *Config) { c.Catalog.InstanceID = "vault\xff" },
			[]string{`catalog.instance_id: must be printable characters without spaces, got "vault\xff"`}},

		// storage
		{"driver unknown", func(c *Config) { c.Storage.Driver = "gcs" },
			[]string{`storage.driver: want one of fs, s3, minio, got "gcs"`}},
		{"driver empty", func(c *Config) { c.Storage.Driver = "" },
			[]string{"storage.driver: required: one of fs, s3, minio"}},
		{"fs root empty", func(c *Config) { c.Storage.FS.Root = "" },
			[]string{`storage.fs.root: required when storage.driver is "fs"`}},
		{"fs root ignored for s3", func(c *Config) { c.Storage.Driver, c.Storage.FS.Root, c.Storage.S3.Bucket = "s3", "", "b" }, nil},
		{"s3 bucket required", func(c *Config) { c.Storage.Driver = "s3" },
			[]string{`storage.s3.bucket: required when storage.driver is "s3"`}},
		{"s3 endpoint must be a URL", func(c *Config) {
			c.Storage.Driver, c.Storage.S3.Bucket, c.Storage.S3.Endpoint = "s3", "b", "s3.example.com:9000"
		}, []string{`storage.s3.endpoint: want an absolute http or https URL such as https://s3.example.com, got "s3.example.com:9000"`}},
		{"s3 secret without id", func(c *Config) {
			c.Storage.Driver, c.Storage.S3.Bucket, c.Storage.S3.SecretAccessKey = "s3", "b", "s"
		}, []string{"storage.s3.access_key_id: required when storage.s3.secret_access_key is set"}},
		{"s3 id without secret", func(c *Config) {
			c.Storage.Driver, c.Storage.S3.Bucket, c.Storage.S3.AccessKeyID = "s3", "b", "id"
		}, []string{"storage.s3.secret_access_key: required when storage.s3.access_key_id is set"}},
		{"minio endpoint and bucket required", func(c *Config) { c.Storage.Driver = "minio" },
			[]string{
				`storage.minio.endpoint: required when storage.driver is "minio"`,
				`storage.minio.bucket: required when storage.driver is "minio"`,
			}},
		{"minio endpoint with scheme", func(c *Config) {
			c.Storage.Driver, c.Storage.MinIO.Bucket, c.Storage.MinIO.Endpoint = "minio", "b", "https://minio.example.com:9000"
		}, []string{`storage.minio.endpoint: want host:port without a scheme (use storage.minio.secure for https), got "https://minio.example.com:9000"`}},
		{"minio endpoint without port", func(c *Config) {
			c.Storage.Driver, c.Storage.MinIO.Bucket, c.Storage.MinIO.Endpoint = "minio", "b", "minio.example.com"
		}, []string{`storage.minio.endpoint: want host:port such as minio.example.com:9000, got "minio.example.com"`}},
		{"minio complete", func(c *Config) {
			c.Storage.Driver, c.Storage.MinIO.Bucket, c.Storage.MinIO.Endpoint = "minio", "b", "127.0.0.1:9000"
			c.Storage.MinIO.AccessKey, c.Storage.MinIO.SecretKey = "a", "s"
		}, nil},
		{"minio key without secret", func(c *Config) {
			c.Storage.Driver, c.Storage.MinIO.Bucket, c.Storage.MinIO.Endpoint = "minio", "b", "127.0.0.1:9000"
			c.Storage.MinIO.AccessKey = "a"
		}, []string{"storage.minio.secret_key: required when storage.minio.access_key is set"}},

		// archive
		{"concurrency zero", func(c *Config) { c.Archive.Concurrency = 0 },
			[]string{"archive.concurrency: must be between 1 and 64, got 0"}},
		{"concurrency too high", func(c *Config) { c.Archive.Concurrency = 65 },
			[]string{"archive.concurrency: must be between 1 and 64, got 65"}},
		{"concurrency bounds", func(c *Config) { c.Archive.Concurrency = 64 }, nil},
		{"part_size too small", func(c *Config) { c.Archive.PartSize = 5*MiB - 1 },
			[]string{"archive.part_size: must be between 5MiB and 5GiB (S3 multipart limits), got 5242879"}},
		{"part_size too large", func(c *Config) { c.Archive.PartSize = 6 * GiB },
			[]string{"archive.part_size: must be between 5MiB and 5GiB (S3 multipart limits), got 6GiB"}},
		{"part_size bounds", func(c *Config) { c.Archive.PartSize = 5 * GiB }, nil},
		{"stall_timeout zero", func(c *Config) { c.Archive.StallTimeout = 0 },
			[]string{"archive.stall_timeout: must be greater than 0, got 0s"}},
		{"max_video_bytes zero", func(c *Config) { c.Archive.MaxVideoBytes = 0 },
			[]string{"archive.max_video_bytes: must be greater than 0, got 0"}},
		{"max_video_bytes negative", func(c *Config) { c.Archive.MaxVideoBytes = -1 },
			[]string{"archive.max_video_bytes: must be greater than 0, got -1"}},
		{"min_bytes_per_second off", func(c *Config) { c.Archive.MinBytesPerSecond = 0 }, nil},
		{"min_bytes_per_second negative", func(c *Config) { c.Archive.MinBytesPerSecond = -1 },
			[]string{"archive.min_bytes_per_second: must be 0 (off) or more, got -1"}},
		{"min_rate_window zero", func(c *Config) { c.Archive.MinRateWindow = 0 },
			[]string{"archive.min_rate_window: must be greater than 0, got 0s"}},

		// server
		{"listen without port", func(c *Config) { c.Server.Listen = "127.0.0.1" },
			[]string{`server.listen: want host:port such as 127.0.0.1:8417, got "127.0.0.1"`}},
		{"listen bad port", func(c *Config) { c.Server.Listen = "127.0.0.1:http" },
			[]string{`server.listen: want host:port such as 127.0.0.1:8417, got "127.0.0.1:http"`}},
		{"listen port 0 on loopback", func(c *Config) { c.Server.Listen = "localhost:0" }, nil},
		{"token required on all interfaces", func(c *Config) { c.Server.Listen = ":8417" },
			[]string{"server.token: required when server.listen is not a loopback address (e.g. token: ${REELVAULT_SERVER_TOKEN})"}},
		{"token set on all interfaces", func(c *Config) { c.Server.Listen, c.Server.Token = "0.0.0.0:8417", "t" }, nil},

		// log
		{"log level", func(c *Config) { c.Log.Level = "verbose" },
			[]string{`log.level: want one of debug, info, warn, error, got "verbose"`}},
		{"log format", func(c *Config) { c.Log.Format = "logfmt" },
			[]string{`log.format: want text or json, got "logfmt"`}},

		// prefix
		{"prefix plain", func(c *Config) { c.Storage.Prefix = "reels/2025" }, nil},
		{"prefix trailing slash", func(c *Config) { c.Storage.Prefix = "reels/" }, nil},
		{"prefix dots inside a name", func(c *Config) { c.Storage.Prefix = "v1..2" }, nil},
		{"prefix leading slash", func(c *Config) { c.Storage.Prefix = "/reels" },
			[]string{`storage.prefix: must not start with "/", got "/reels"`}},
		{"prefix dotdot", func(c *Config) { c.Storage.Prefix = "reels/../etc" },
			[]string{`storage.prefix: must not contain ".." segments, got "reels/../etc"`}},
		{"prefix dot", func(c *Config) { c.Storage.Prefix = "./reels" },
			[]string{`storage.prefix: must not contain "." segments, got "./reels"`}},
		{"prefix empty segment", func(c *Config) { c.Storage.Prefix = "a//b" },
			[]string{`storage.prefix: must not contain empty segments ("//"), got "a//b"`}},
		{"prefix double trailing slash", func(c *Config) { c.Storage.Prefix = "a//" },
			[]string{`storage.prefix: must not contain empty segments ("//"), got "a//"`}},
		{"prefix bad character", func(c *Config) { c.Storage.Prefix = "my reels" },
			[]string{`storage.prefix: may contain only letters, digits, ".", "_", "-" and "/", got "my reels"`}},

		// several at once, reported in field order
		{"all problems reported", func(c *Config) {
			c.Log.Format = "xml"
			c.API.Timeout = 0
			c.Storage.Driver = "s3"
		}, []string{
			"api.timeout: must be greater than 0, got 0s",
			`storage.s3.bucket: required when storage.driver is "s3"`,
			`log.format: want text or json, got "xml"`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			if got := messages(c.Validate()); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Validate():\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// usePostgres switches c to a Postgres catalog at url.
func usePostgres(c *Config, url string) {
	c.Catalog.Driver, c.Catalog.Postgres.URL = "postgres", url
}

func TestValidateFieldErrors(t *testing.T) {
	c := Default()
	c.Storage.Driver = "minio"
	err := c.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("Validate() error %v holds no *FieldError", err)
	}
	if fe.Field != "storage.minio.endpoint" || fe.Problem != `required when storage.driver is "minio"` {
		t.Fatalf("first FieldError = %+v, want storage.minio.endpoint required", *fe)
	}
}
