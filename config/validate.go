package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reelvault/reelvault/archiver/keytemplate"
)

// FieldError is one problem with one config value, named by its YAML path.
type FieldError struct {
	Field   string // YAML path, e.g. "storage.s3.bucket"
	Problem string // e.g. `required when storage.driver is "s3"`
}

// Error formats the problem as "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Part size limits of S3 multipart uploads, which MinIO shares.
const (
	MinPartSize = 5 * MiB
	MaxPartSize = 5 * GiB
)

// Concurrency limits for archive.concurrency.
const (
	MinConcurrency = 1
	MaxConcurrency = 64
)

// Validate reports every problem in c as a *FieldError, in field order,
// joined with errors.Join; nil means c is usable. It only inspects c: it
// touches no file, network or environment.
func (c Config) Validate() error {
	var v validator
	c.API.validate(&v)
	c.validateCatalog(&v)
	c.Storage.validate(&v)
	c.Archive.validate(&v)
	c.Server.validate(&v)
	c.Server.validateAllowedHosts(&v)
	c.validateDiscover(&v)
	c.Log.validate(&v)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (a API) validate(v *validator) {
	u, err := url.Parse(a.BaseURL)
	switch {
	case a.BaseURL == "":
		v.add("api.base_url", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.add("api.base_url", "want an absolute http or https URL such as https://gateway.example.com, got %q", redactURL(a.BaseURL))
	case a.APIKey == "" && !isLoopbackHost(u.Hostname()):
		v.add("api.api_key", "required when api.base_url is not a loopback address (e.g. api_key: ${REELVAULT_API_KEY})")
	}
	if a.PollInterval < Duration(time.Second) {
		v.add("api.poll_interval", "must be at least 1s, got %s", a.PollInterval)
	}
	if !(a.RequestsPerSecond > 0) || math.IsInf(a.RequestsPerSecond, 0) {
		v.add("api.requests_per_second", "must be a number greater than 0, got %v", a.RequestsPerSecond)
	}
	if a.Timeout <= 0 {
		v.add("api.timeout", "must be greater than 0, got %s", a.Timeout)
	}
	if a.GiveUpAfter < a.PollInterval {
		v.add("api.give_up_after", "must be at least api.poll_interval (%s), got %s", a.PollInterval, a.GiveUpAfter)
	}
}

func (s Storage) validate(v *validator) {
	switch s.Driver {
	case "fs":
		if s.FS.Root == "" {
			v.add("storage.fs.root", `required when storage.driver is "fs"`)
		}
	case "s3":
		s.S3.validate(v)
	case "minio":
		s.MinIO.validate(v)
	case "":
		v.add("storage.driver", "required: one of fs, s3, minio")
	default:
		v.add("storage.driver", "want one of fs, s3, minio, got %q", s.Driver)
	}
	if problem := prefixProblem(s.Prefix); problem != "" {
		v.add("storage.prefix", "%s", problem)
	}
	// Checked once here, at start-up, so no task's keys can escape the
	// prefix or land in another task's folder.
	if _, err := keytemplate.Parse(s.KeyTemplate); err != nil {
		v.add("storage.key_template", "%s, got %q", err, s.KeyTemplate)
	}
}

func (s S3) validate(v *validator) {
	if s.Bucket == "" {
		v.add("storage.s3.bucket", `required when storage.driver is "s3"`)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("storage.s3.endpoint", "want an absolute http or https URL such as https://s3.example.com, got %q", redactURL(s.Endpoint))
		}
	}
	pair(v, "storage.s3.access_key_id", s.AccessKeyID, "storage.s3.secret_access_key", s.SecretAccessKey)
}

func (m MinIO) validate(v *validator) {
	switch {
	case m.Endpoint == "":
		v.add("storage.minio.endpoint", `required when storage.driver is "minio"`)
	case strings.Contains(m.Endpoint, "://"):
		v.add("storage.minio.endpoint", "want host:port without a scheme (use storage.minio.secure for https), got %q", m.Endpoint)
	default:
		if _, port, err := net.SplitHostPort(m.Endpoint); err != nil || !validPort(port, 1) {
			v.add("storage.minio.endpoint", "want host:port such as minio.example.com:9000, got %q", m.Endpoint)
		}
	}
	if m.Bucket == "" {
		v.add("storage.minio.bucket", `required when storage.driver is "minio"`)
	}
	pair(v, "storage.minio.access_key", m.AccessKey, "storage.minio.secret_key", m.SecretKey)
}

// pair requires two credentials to be set together or not at all.
func pair(v *validator, idField, id, secretField, secret string) {
	switch {
	case id != "" && secret == "":
		v.add(secretField, "required when %s is set", idField)
	case id == "" && secret != "":
		v.add(idField, "required when %s is set", secretField)
	}
}

// prefixProblem describes what is wrong with a storage prefix, or returns "".
// A prefix is relative, slash-separated segments of [A-Za-z0-9._-], none empty,
// "." or ".."; one trailing "/" is allowed (see Storage.KeyPrefix).
func prefixProblem(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Sprintf("must not start with \"/\", got %q", p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._/-", r)) {
			return fmt.Sprintf("may contain only letters, digits, \".\", \"_\", \"-\" and \"/\", got %q", p)
		}
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p, "/"), "/") {
		switch seg {
		case "":
			return fmt.Sprintf("must not contain empty segments (\"//\"), got %q", p)
		case ".", "..":
			return fmt.Sprintf("must not contain %q segments, got %q", seg, p)
		}
	}
	return ""
}

func (a Archive) validate(v *validator) {
	if a.Concurrency < MinConcurrency || a.Concurrency > MaxConcurrency {
		v.add("archive.concurrency", "must be between %d and %d, got %d", MinConcurrency, MaxConcurrency, a.Concurrency)
	}
	if a.PartSize < MinPartSize || a.PartSize > MaxPartSize {
		v.add("archive.part_size", "must be between %s and %s (S3 multipart limits), got %s", MinPartSize, MaxPartSize, a.PartSize)
	}
	if a.StallTimeout <= 0 {
		v.add("archive.stall_timeout", "must be greater than 0, got %s", a.StallTimeout)
	}
	if a.MaxVideoBytes <= 0 {
		v.add("archive.max_video_bytes", "must be greater than 0, got %s", a.MaxVideoBytes)
	}
	if a.MinBytesPerSecond < 0 {
		v.add("archive.min_bytes_per_second", "must be 0 (off) or more, got %s", a.MinBytesPerSecond)
	}
	if a.MinRateWindow <= 0 {
		v.add("archive.min_rate_window", "must be greater than 0, got %s", a.MinRateWindow)
	}
}

func (s Server) validate(v *validator) {
	if _, port, err := net.SplitHostPort(s.Listen); err != nil || !validPort(port, 0) {
		v.add("server.listen", "want host:port such as 127.0.0.1:8417, got %q", s.Listen)
		return
	}
	if s.Token == "" && !isLoopbackListen(s.Listen) {
		v.add("server.token", "required when server.listen is not a loopback address (e.g. token: ${REELVAULT_SERVER_TOKEN})")
	}
}

func (l Log) validate(v *validator) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "want one of debug, info, warn, error, got %q", l.Level)
	}
	switch l.Format {
	case "text", "json":
	default:
		v.add("log.format", "want text or json, got %q", l.Format)
	}
}

// validPort reports whether port is a decimal number in [lowest, 65535].
func validPort(port string, lowest int) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= lowest && n <= 65535 && !strings.HasPrefix(port, "+")
}
