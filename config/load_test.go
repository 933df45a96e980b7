package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOverridesDefaults(t *testing.T) {
	got := mustParse(t, `
api:
  base_url: https://gateway.example.com
  api_key: k
  poll_interval: 1m30s
  requests_per_second: 2.5
storage:
  driver: s3
  prefix: reels/
  s3:
    bucket: my-reels
    force_path_style: true
archive:
  part_size: 8MB
  allow_http: true
log:
  format: json
`, nil)

	want := Default()
	want.API.BaseURL = "https://gateway.example.com"
	want.API.APIKey = "k"
	want.API.PollInterval = Duration(90 * time.Second)
	want.API.RequestsPerSecond = 2.5
	want.Storage.Driver = "s3"
	want.Storage.Prefix = "reels/"
	want.Storage.S3.Bucket = "my-reels"
	want.Storage.S3.ForcePathStyle = true
	want.Archive.PartSize = 8_000_000
	want.Archive.AllowHTTP = true
	want.Log.Format = "json"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// TestParseStrict pins the messages for keys and values the Config cannot
// hold: each names the file, the line, the key and its section.
func TestParseStrict(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       []string // one message per problem, in file order
	}{
		{
			name: "unknown key in nested section",
			text: "storage:\n  driver: s3\n  s3:\n    bukcet: x\n",
			want: []string{`config.yaml:4: unknown key "bukcet" in storage.s3 (did you mean "bucket"?)`},
		},
		{
			name: "unknown top-level key",
			text: "api:\n  timeout: 5s\ndatabase:\n  path: x\n",
			want: []string{`config.yaml:3: unknown key "database"`},
		},
		{
			name: "unknown key with no near match",
			text: "log:\n  colour: true\n",
			want: []string{`config.yaml:2: unknown key "colour" in log`},
		},
		{
			name: "every problem reported",
			text: "api:\n  polll_interval: 5s\n  timeout: soon\narchive:\n  concurrency: four\n",
			want: []string{
				`config.yaml:2: unknown key "polll_interval" in api (did you mean "poll_interval"?)`,
				`config.yaml:3: api.timeout: want a duration such as "15s" or "1h30m", got "soon"`,
				`config.yaml:5: archive.concurrency: want an integer, got "four"`,
			},
		},
		{
			name: "duplicate key",
			text: "log:\n  level: info\n  level: debug\n",
			want: []string{`config.yaml:3: duplicate key "level" in log (first set at line 2)`},
		},
		{
			name: "section given a scalar",
			text: "storage: s3\n",
			want: []string{`config.yaml:1: storage: want a mapping of keys, got a scalar`},
		},
		{
			name: "top level not a mapping",
			text: "- a\n- b\n",
			want: []string{`config.yaml:1: the top level: want a mapping of keys, got a list`},
		},
		{
			name: "bool given a list",
			text: "archive:\n  allow_http: [yes]\n",
			want: []string{`config.yaml:2: archive.allow_http: want true or false, got a list`},
		},
		{
			name: "merge key",
			text: "base: &b {level: info}\nlog:\n  <<: *b\n",
			want: []string{
				`config.yaml:1: unknown key "base"`,
				`config.yaml:3: unknown key "<<" in log: YAML merge keys are not supported`,
			},
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

func TestParseErrorFields(t *testing.T) {
	_, err := Parse("rv.yaml", []byte("storage:\n  s3:\n    bukcet: x\n"), env(nil))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse error %v is not a *ParseError", err)
	}
	if pe.Name != "rv.yaml" || pe.Line != 3 || pe.Field != "storage.s3.bukcet" {
		t.Fatalf("ParseError = {Name %q, Line %d, Field %q}, want {rv.yaml, 3, storage.s3.bukcet}", pe.Name, pe.Line, pe.Field)
	}
}

func TestParseSyntaxError(t *testing.T) {
	for _, text := range []string{"api: [\n", "a: 1\n---\nb: 2\n", "api:\n\tbase_url: x\n"} {
		_, err := Parse("bad.yaml", []byte(text), env(nil))
		if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml: ") {
			t.Errorf("Parse(%q) error = %v, want one starting with the file name", text, err)
		}
	}
}

func TestParseEnv(t *testing.T) {
	vars := map[string]string{
		"KEY":     "s3cr$t: #not-a-comment",
		"NULLISH": "null",
		"EMPTY":   "",
		"RPS":     "7.5",
		"SECURE":  "true",
		"SIZE":    "32MiB",
		"PORT":    "9000",
	}
	for _, tt := range []struct {
		name, text string
		get        func(Config) any
		want       any
	}{
		{"plain", "api:\n  api_key: ${KEY}\n", func(c Config) any { return c.API.APIKey }, "s3cr$t: #not-a-comment"},
		{"quoted", "api:\n  api_key: \"${KEY}\"\n", func(c Config) any { return c.API.APIKey }, "s3cr$t: #not-a-comment"},
		{"embedded", "server:\n  listen: 127.0.0.1:${PORT}\n", func(c Config) any { return c.Server.Listen }, "127.0.0.1:9000"},
		{"string kept verbatim", "server:\n  token: ${NULLISH}\n", func(c Config) any { return c.Server.Token }, "null"},
		{"set but empty", "log:\n  level: ${EMPTY}\n", func(c Config) any { return c.Log.Level }, ""},
		{"default when unset", "log:\n  level: ${NOPE:-debug}\n", func(c Config) any { return c.Log.Level }, "debug"},
		{"default when empty", "log:\n  level: ${EMPTY:-warn}\n", func(c Config) any { return c.Log.Level }, "warn"},
		{"value beats default", "api:\n  api_key: ${KEY:-other}\n", func(c Config) any { return c.API.APIKey }, "s3cr$t: #not-a-comment"},
		{"empty default", "server:\n  token: ${NOPE:-}\n", func(c Config) any { return c.Server.Token }, ""},
		{"default with colon", "api:\n  base_url: ${NOPE:-http://localhost:1}\n", func(c Config) any { return c.API.BaseURL }, "http://localhost:1"},
		{"float", "api:\n  requests_per_second: ${RPS}\n", func(c Config) any { return c.API.RequestsPerSecond }, 7.5},
		{"bool", "storage:\n  minio:\n    secure: ${SECURE}\n", func(c Config) any { return c.Storage.MinIO.Secure }, true},
		{"int", "archive:\n  concurrency: ${NOPE:-8}\n", func(c Config) any { return c.Archive.Concurrency }, 8},
		{"size", "archive:\n  part_size: ${SIZE}\n", func(c Config) any { return c.Archive.PartSize }, 32 * MiB},
		{"duration", "api:\n  timeout: ${NOPE:-45s}\n", func(c Config) any { return c.API.Timeout }, Duration(45 * time.Second)},
		{"empty non-string keeps default", "archive:\n  concurrency: ${EMPTY}\n", func(c Config) any { return c.Archive.Concurrency }, 4},
		{"escaped", "server:\n  token: a$${KEY}b\n", func(c Config) any { return c.Server.Token }, "a${KEY}b"},
		{"lone dollar", "server:\n  token: pa$$word$\n", func(c Config) any { return c.Server.Token }, "pa$$word$"},
		{"comments not expanded", "# ${UNSET}\nlog: # ${UNSET}\n  level: warn # ${UNSET}\n", func(c Config) any { return c.Log.Level }, "warn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.get(mustParse(t, tt.text, vars)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string
	}{
		{
			"unset variable",
			"log:\n  level: info\napi:\n  api_key: ${REELVAULT_API_KEY}\n",
			`config.yaml:4: api.api_key: environment variable REELVAULT_API_KEY is not set (referenced as ${REELVAULT_API_KEY}); set it or give a default: ${REELVAULT_API_KEY:-default}`,
		},
		{
			"unterminated",
			"server:\n  token: ${OOPS\n",
			`config.yaml:2: server.token: unterminated "${OOPS": want ${VAR} or ${VAR:-default}`,
		},
		{
			"bad name",
			"server:\n  token: ${9LIVES}\n",
			`config.yaml:2: server.token: invalid reference ${9LIVES}: want ${VAR} or ${VAR:-default}, VAR made of letters, digits and _`,
		},
		{
			"expanded value of the wrong type",
			"archive:\n  concurrency: ${NOPE:-lots}\n",
			`config.yaml:2: archive.concurrency: want an integer, got "lots"`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tt.text), env(nil))
			if got := messages(err); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("Parse errors:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}

	// A nil lookup means an empty environment, not a panic.
	if _, err := Parse("config.yaml", []byte("api:\n  api_key: ${X}\n"), nil); err == nil {
		t.Fatal("Parse with nil lookup and ${X}: got nil error")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reelvault.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: debug\n  bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env(nil))
	if want := path + `:3: unknown key "bogus" in log`; err == nil || err.Error() != want {
		t.Fatalf("Load error = %v, want %s", err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), env(nil))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: error = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestResolve(t *testing.T) {
	present := func(string) bool { return true }
	absent := func(string) bool { return false }
	for _, tt := range []struct {
		name   string
		flag   string
		vars   map[string]string
		exists func(string) bool
		want   string
	}{
		{"flag wins", "flag.yaml", map[string]string{EnvFile: "env.yaml"}, present, "flag.yaml"},
		{"env over working dir", "", map[string]string{EnvFile: "env.yaml"}, present, "env.yaml"},
		{"empty env ignored", "", map[string]string{EnvFile: ""}, present, DefaultFile},
		{"working dir file", "", nil, present, DefaultFile},
		{"built-in defaults", "", nil, absent, ""},
		{"asks for reelvault.yaml only", "", nil, func(p string) bool { return p == "reelvault.yaml" }, "reelvault.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.flag, env(tt.vars), tt.exists); got != tt.want {
				t.Fatalf("Resolve(%q, %v) = %q, want %q", tt.flag, tt.vars, got, tt.want)
			}
		})
	}
}

// messages returns the message of each error joined in err.
func messages(err error) []string {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range joined.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}
