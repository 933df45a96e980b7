package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Catalog is where reelvault records tasks and archived videos: a SQLite
// file by default, which needs no setup but allows one `reelvault run` at a
// time, or a Postgres database that several run instances share, each
// claiming a poll or a video transfer for Lease before another may take it.
type Catalog struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	// Path is the SQLite file, relative to the working directory when not
	// absolute; used only by the sqlite driver.
	Path     string          `yaml:"path"`
	Postgres CatalogPostgres `yaml:"postgres"`
	// Lease is how long a claimed poll or video transfer stays with the
	// instance that claimed it before another may take it over; used only by
	// the postgres driver.
	Lease Duration `yaml:"lease"`
	// InstanceID names this instance in leases and metrics; read it through
	// EffectiveInstanceID, which defaults it to hostname-pid.
	InstanceID string `yaml:"instance_id"`
}

// CatalogPostgres is the Postgres catalog's connection.
type CatalogPostgres struct {
	// URL is a postgres:// or postgresql:// URL. It usually holds a password:
	// print it only through Catalog.Describe or Config.Redacted.
	URL string `yaml:"url"`
}

// Lease limits for catalog.lease.
const (
	// MinLease keeps a lease longer than any sane poll timeout: a lease that
	// expires while its poll is in flight lets a second instance poll (and
	// then archive) the same task.
	MinLease = Duration(5 * time.Second)
	// MaxLease bounds how long a crashed instance's claims block the others:
	// its polls and transfers are taken over only once their leases expire.
	MaxLease = Duration(time.Hour)
)

// MaxInstanceIDLen is the longest catalog.instance_id, in characters.
const MaxInstanceIDLen = 64

// pgURLExample shows the form catalog.postgres.url takes, for messages.
const pgURLExample = "postgres://user:pass@host:5432/reelvault?sslmode=verify-full"

// Describe returns a one-line description of the catalog that is safe to
// print or log: "sqlite ./reelvault-data/catalog.db", or
// "postgres db.example.com:5432/reelvault (user reelvault)". It never
// contains the password; a URL that does not parse (and so might hold the
// password anywhere) is described as "postgres (unparsable url)".
func (c Catalog) Describe() string {
	switch c.Driver {
	case "sqlite":
		return "sqlite " + c.Path
	case "postgres":
		if c.Postgres.URL == "" {
			return "postgres (no url)"
		}
		u, problem := parsePostgresURL(c.Postgres.URL)
		if problem != "" {
			return "postgres (unparsable url)"
		}
		s := "postgres " + u.Host + u.Path
		if u.User != nil && u.User.Username() != "" {
			s += " (user " + printable(u.User.Username()) + ")"
		}
		return s
	}
	return fmt.Sprintf("%q (unknown catalog driver)", c.Driver)
}

// EffectiveInstanceID is the configured instance id, or hostname-pid (e.g.
// "vault-2-4182") when none is set, with characters instance_id does not
// allow replaced by "-" and the host name shortened to fit
// MaxInstanceIDLen, so that it passes the rules for a configured one. It is
// the one place in this package that asks the OS (os.Hostname, os.Getpid).
func (c Catalog) EffectiveInstanceID() string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	return defaultInstanceID(os.Hostname, os.Getpid())
}

func defaultInstanceID(hostname func() (string, error), pid int) string {
	host, err := hostname()
	if err != nil || host == "" {
		host = "reelvault"
	}
	host = strings.Map(func(r rune) rune {
		if !instanceIDRune(r) {
			return '-'
		}
		return r
	}, host)
	suffix := "-" + strconv.Itoa(pid)
	if runes := []rune(host); len(runes)+len(suffix) > MaxInstanceIDLen {
		host = string(runes[:MaxInstanceIDLen-len(suffix)])
	}
	return host + suffix
}

func instanceIDRune(r rune) bool {
	return r != utf8.RuneError && unicode.IsPrint(r) && !unicode.IsSpace(r)
}

// validateCatalog checks the catalog section; the lease is checked against
// api.timeout, so it is a method of Config.
func (c Config) validateCatalog(v *validator) {
	cat := c.Catalog
	switch cat.Driver {
	case "sqlite":
		if cat.Path == "" {
			v.add("catalog.path", `required when catalog.driver is "sqlite"`)
		}
	case "postgres":
		if cat.Postgres.URL == "" {
			v.add("catalog.postgres.url", `required when catalog.driver is "postgres" (e.g. url: ${REELVAULT_PG_URL})`)
		} else if _, problem := parsePostgresURL(cat.Postgres.URL); problem != "" {
			v.add("catalog.postgres.url", "%s", problem)
		}
		// The lease matters only to the postgres driver; checking it for
		// sqlite would reject a working config that raised api.timeout.
		switch {
		case cat.Lease < MinLease || cat.Lease > MaxLease:
			v.add("catalog.lease", "must be between %s and %s, got %s", MinLease, MaxLease, cat.Lease)
		case cat.Lease <= c.API.Timeout && c.API.Timeout < MaxLease:
			// A poll still in flight when its lease expires could be
			// repeated by another instance.
			v.add("catalog.lease", "must be longer than api.timeout (%s) so that a poll in flight never outlives its lease, got %s; raise catalog.lease", c.API.Timeout, cat.Lease)
		case cat.Lease <= c.API.Timeout:
			v.add("catalog.lease", "must be longer than api.timeout (%s) so that a poll in flight never outlives its lease, got %s; lower api.timeout below %s, the longest lease", c.API.Timeout, cat.Lease, MaxLease)
		}
	case "":
		v.add("catalog.driver", "required: one of sqlite, postgres")
	default:
		v.add("catalog.driver", "want one of sqlite, postgres, got %q", cat.Driver)
	}
	if n := utf8.RuneCountInString(cat.InstanceID); n > MaxInstanceIDLen {
		v.add("catalog.instance_id", "must be at most %d characters, got %d", MaxInstanceIDLen, n)
	} else if strings.IndexFunc(cat.InstanceID, func(r rune) bool { return !instanceIDRune(r) }) >= 0 {
		v.add("catalog.instance_id", "must be printable characters without spaces, got %q", cat.InstanceID)
	}
}

// parsePostgresURL parses catalog.postgres.url, or returns what is wrong with
// it. The problem never quotes the URL, nor url.Parse's error (which does):
// in a URL that does not parse, the password may be anywhere.
func parsePostgresURL(raw string) (*url.URL, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "want a URL such as " + pgURLExample + "; it does not parse (value not shown, as it may hold a password): percent-encode reserved characters in the user name and password, e.g. @ as %40"
	}
	switch {
	case u.Scheme == "":
		return nil, "want a postgres:// URL such as " + pgURLExample + ", got no scheme (key=value connection strings are not supported)"
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		// The scheme is text before the first ":", never the password.
		return nil, fmt.Sprintf("want a postgres:// or postgresql:// URL such as %s, got scheme %q", pgURLExample, u.Scheme)
	case u.Hostname() == "":
		return nil, "want a URL with a host, such as " + pgURLExample
	case u.Fragment != "" || strings.Contains(u.EscapedPath()+u.RawQuery, "@"):
		// An unescaped "/", "?" or "#" in the password ends the host early
		// and leaves "...@host" behind it, where the rest of the password
		// would pass for a host, port or database name.
		return nil, `the user name or password holds an unescaped "/", "?" or "#" (value not shown): percent-encode them as %2F, %3F and %23`
	}
	return u, ""
}

// redactPostgresURL masks the password in a Postgres URL, in its user info
// or in a query parameter such as password or sslpassword. A URL that does
// not parse is replaced as a whole, since the password could be anywhere.
func redactPostgresURL(s string) string {
	if s == "" {
		return s
	}
	u, problem := parsePostgresURL(s)
	if problem != "" {
		return redactedMarker
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if q := u.Query(); len(q) > 0 {
		masked := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "xxxxx")
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// printable returns s, quoted if it holds anything a terminal or log line
// would not show as is.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !instanceIDRune(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
