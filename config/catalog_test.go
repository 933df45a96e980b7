package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// pgPassword is a password with characters that must be percent-encoded in
// a URL; pgPasswordForms are the ways it can appear in one.
const pgPassword = "s3cr3t-p@ss"

var pgPasswordForms = []string{pgPassword, "s3cr3t-p%40ss", "s3cr3t", "p@ss", "p%40ss"}

func TestCatalogDescribe(t *testing.T) {
	for _, tt := range []struct {
		name string
		cat  Catalog
		want string
	}{
		{"sqlite default", Default().Catalog, "sqlite ./reelvault-data/catalog.db"},
		{"postgres full", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://reelvault:s3cr3t-p%40ss@db.example.com:5432/reelvault?sslmode=verify-full"}},
			"postgres db.example.com:5432/reelvault (user reelvault)"},
		{"postgresql scheme", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgresql://rv@db.example.com/vault"}},
			"postgres db.example.com/vault (user rv)"},
		{"no user", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://10.0.0.5:6432/vault"}},
			"postgres 10.0.0.5:6432/vault"},
		{"password in the query", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://rv@db.example.com/vault?password=s3cr3t-p%40ss"}},
			"postgres db.example.com/vault (user rv)"},
		{"odd user name quoted", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://r%0Av:pw@db.example.com/vault"}},
			`postgres db.example.com/vault (user "r\nv")`},
		{"unparsable", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://rv:s3cr3t-p%ss@db.example.com/vault"}},
			"postgres (unparsable url)"},
		{"password shifted into the host", Catalog{Driver: "postgres", Postgres: CatalogPostgres{
			URL: "postgres://rv:5432#s3cr3t@db.example.com/vault"}},
			"postgres (unparsable url)"},
		{"no url", Catalog{Driver: "postgres"}, "postgres (no url)"},
		{"unknown driver", Catalog{Driver: "mysql"}, `"mysql" (unknown catalog driver)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cat.Describe(); got != tt.want {
				t.Fatalf("Describe() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPostgresPasswordNeverShown feeds URLs holding pgPassword, well and
// badly formed, to everything that prints the catalog: Describe, Validate's
// messages and Redacted.
func TestPostgresPasswordNeverShown(t *testing.T) {
	for _, raw := range []string{
		"postgres://rv:s3cr3t-p%40ss@db.example.com:5432/reelvault?sslmode=verify-full",
		"postgres://rv:s3cr3t-p@ss@db.example.com:5432/reelvault",       // "@" left raw: the last one ends the user info
		"postgresql://rv:s3cr3t-p%40ss@db.example.com/reelvault",        // other scheme spelling
		"postgres://rv@db.example.com/reelvault?password=s3cr3t-p%40ss", // password as a parameter
		"postgres://rv@db.example.com/reelvault?sslpassword=s3cr3t-p@ss&sslmode=verify-full",
		"postgres://rv:s3cr3t-p%ss@db.example.com/reelvault",      // bad escape: does not parse
		"postgres://rv:s3cr3t-p@ss@db.example.com:54x2/reelvault", // bad port: does not parse
		"postgres://rv:s3cr3t/p@ss@db.example.com/reelvault",      // raw "/": host becomes "rv:s3cr3t"
		"postgres://rv:5432#s3cr3t-p@ss@db.example.com/reelvault", // raw "#": port becomes "5432"
		"postgres://rv:5432?s3cr3t-p@ss@db.example.com/reelvault", // raw "?"
		"mysql://rv:s3cr3t-p%40ss@db.example.com/reelvault",       // wrong scheme
		"postgres://rv:s3cr3t-p%40ss@/reelvault",                  // no host
		"postgres:rv:s3cr3t-p%40ss@db.example.com/reelvault",      // opaque
		"host=db.example.com user=rv password=s3cr3t-p@ss",        // key=value DSN
	} {
		t.Run(raw, func(t *testing.T) {
			c := Default()
			usePostgres(&c, raw)
			c.Catalog.InstanceID = "vault 1" // one more error, to see the list
			var shown []string
			shown = append(shown, c.Catalog.Describe())
			shown = append(shown, messages(c.Validate())...)
			out, err := yaml.Marshal(c.Redacted())
			if err != nil {
				t.Fatal(err)
			}
			shown = append(shown, string(out))
			for _, s := range shown {
				for _, secret := range pgPasswordForms {
					if strings.Contains(s, secret) {
						t.Errorf("output shows %q:\n%s", secret, s)
					}
				}
			}
		})
	}
}

func TestRedactPostgresURL(t *testing.T) {
	for raw, want := range map[string]string{
		"": "",
		"postgres://rv:s3cr3t-p%40ss@db.example.com:5432/reelvault?sslmode=verify-full": "postgres://rv:xxxxx@db.example.com:5432/reelvault?sslmode=verify-full",
		"postgres://rv@db.example.com/reelvault":                                        "postgres://rv@db.example.com/reelvault",
		"postgres://rv@db.example.com/reelvault?sslmode=require&password=x":             "postgres://rv@db.example.com/reelvault?password=xxxxx&sslmode=require",
		"postgres://rv:pw@db.example.com:54x2/reelvault":                                redactedMarker,
	} {
		if got := redactPostgresURL(raw); got != want {
			t.Errorf("redactPostgresURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestEffectiveInstanceID(t *testing.T) {
	if got := (Catalog{InstanceID: "vault-a"}).EffectiveInstanceID(); got != "vault-a" {
		t.Errorf("EffectiveInstanceID() with instance_id set = %q, want %q", got, "vault-a")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	want := defaultInstanceID(func() (string, error) { return host, nil }, os.Getpid())
	if got := Default().Catalog.EffectiveInstanceID(); got != want {
		t.Errorf("EffectiveInstanceID() = %q, want %q (hostname-pid)", got, want)
	}
}

func TestDefaultInstanceID(t *testing.T) {
	name := func(s string, err error) func() (string, error) {
		return func() (string, error) { return s, err }
	}
	long := strings.Repeat("h", 80)
	for _, tt := range []struct {
		name     string
		hostname func() (string, error)
		want     string
	}{
		{"hostname and pid", name("vault-2", nil), "vault-2-4182"},
		{"no hostname", name("", errors.New("uname failed")), "reelvault-4182"},
		{"empty hostname", name("", nil), "reelvault-4182"},
		{"odd characters replaced", name("my host\t1", nil), "my-host-1-4182"},
		{"long hostname shortened", name(long, nil), long[:MaxInstanceIDLen-5] + "-4182"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultInstanceID(tt.hostname, 4182)
			if got != tt.want {
				t.Fatalf("defaultInstanceID() = %q, want %q", got, tt.want)
			}
			// What EffectiveInstanceID invents must pass the rules for a
			// configured instance_id.
			c := Default()
			c.Catalog.InstanceID = got
			if err := c.Validate(); err != nil || utf8.RuneCountInString(got) > MaxInstanceIDLen {
				t.Fatalf("defaultInstanceID() = %q does not validate: %v", got, err)
			}
		})
	}
}

// TestLoadPostgresCatalog reads a Postgres catalog from a file, the URL from
// the environment, and checks it validates and prints back to the same value.
func TestLoadPostgresCatalog(t *testing.T) {
	const pgURL = "postgres://reelvault:s3cr3t-p%40ss@db.example.com:5432/reelvault?sslmode=verify-full"
	path := filepath.Join(t.TempDir(), "reelvault.yaml")
	text := `
catalog:
  driver: postgres
  postgres:
    url: ${REELVAULT_PG_URL}
  lease: 2m30s
  instance_id: vault-a
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, env(map[string]string{"REELVAULT_PG_URL": pgURL}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	want := Default()
	want.Catalog = Catalog{
		Driver:     "postgres",
		Path:       "./reelvault-data/catalog.db", // untouched default, unused
		Postgres:   CatalogPostgres{URL: pgURL},
		Lease:      Duration(150 * time.Second),
		InstanceID: "vault-a",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load:\ngot  %+v\nwant %+v", got.Catalog, want.Catalog)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if back := mustParse(t, string(out), nil); !reflect.DeepEqual(back, got) {
		t.Fatalf("round trip of\n%s\ngot %+v, want %+v", out, back.Catalog, got.Catalog)
	}

	// Unset, the variable is an error naming the key, not an empty URL.
	_, err = Load(path, env(nil))
	if want := path + ":5: catalog.postgres.url: environment variable REELVAULT_PG_URL is not set"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load without REELVAULT_PG_URL: error = %v, want one starting with %s", err, want)
	}
}

func TestParseCatalogStrict(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{
			name: "unknown key under catalog.postgres",
			text: "catalog:\n  driver: postgres\n  postgres:\n    url: postgres://db/x\n    password: hunter2\n",
			want: []string{`config.yaml:5: unknown key "password" in catalog.postgres`},
		},
		{
			name: "typo under catalog.postgres",
			text: "catalog:\n  postgres:\n    uri: postgres://db/x\n",
			want: []string{`config.yaml:3: unknown key "uri" in catalog.postgres (did you mean "url"?)`},
		},
		{
			name: "unknown key under catalog",
			text: "catalog:\n  lease_time: 1m\n",
			want: []string{`config.yaml:2: unknown key "lease_time" in catalog`},
		},
		{
			name: "lease without a unit",
			text: "catalog:\n  lease: 60\n",
			want: []string{`config.yaml:2: catalog.lease: want a duration such as "15s" or "1h30m", got "60"`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tt.text), env(nil))
			if got := messages(err); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse errors:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}
