package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// env returns a lookup function over vars, standing in for os.LookupEnv.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// mustParse parses text as a config file named "config.yaml" and fails the
// test on error.
func mustParse(tb testing.TB, text string, vars map[string]string) Config {
	tb.Helper()
	cfg, err := Parse("config.yaml", []byte(text), env(vars))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return cfg
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
}

// TestDefaultsWithoutSettings: no file, or a file that sets nothing, gives
// Default().
func TestDefaultsWithoutSettings(t *testing.T) {
	fromLoad, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	if want := Default(); !reflect.DeepEqual(fromLoad, want) {
		t.Errorf("Load(\"\") = %+v, want %+v", fromLoad, want)
	}
	for _, tt := range []struct{ name, text string }{
		{"empty file", ""},
		{"comments only", "# nothing here\n"},
		{"null document", "~\n"},
		{"document marker only", "---\n"},
		{"empty sections", "api:\nstorage:\n  s3:\nlog: {}\n"},
		{"null values keep defaults", "api:\n  poll_interval:\n  base_url: ~\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := mustParse(t, tt.text, nil), Default(); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.text, got, want)
			}
		})
	}
}

func TestEffectiveAPIKey(t *testing.T) {
	for _, tt := range []struct {
		baseURL, key, want string
	}{
		{"http://127.0.0.1:8418", "", SimulatorAPIKey},
		{"http://127.9.9.9:8418", "", SimulatorAPIKey},
		{"http://localhost:8418", "", SimulatorAPIKey},
		{"http://[::1]:8418", "", SimulatorAPIKey},
		{"http://127.0.0.1:8418", "mine", "mine"},
		{"https://gateway.example.com", "", ""},
		{"https://gateway.example.com", "k", "k"},
		{"https://localhost.example.com", "", ""},
		{"http://128.0.0.1", "", ""},
	} {
		c := Default()
		c.API.BaseURL, c.API.APIKey = tt.baseURL, tt.key
		if got := c.EffectiveAPIKey(); got != tt.want {
			t.Errorf("EffectiveAPIKey() with base_url %q, api_key %q = %q, want %q", tt.baseURL, tt.key, got, tt.want)
		}
	}
}

func TestKeyPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"":          "",
		"reels":     "reels/",
		"reels/":    "reels/",
		"a/b/c":     "a/b/c/",
		"a/b/c/":    "a/b/c/",
		"2025.v1-x": "2025.v1-x/",
	} {
		if got := (Storage{Prefix: prefix}).KeyPrefix(); got != want {
			t.Errorf("KeyPrefix() of %q = %q, want %q", prefix, got, want)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.API.BaseURL = "https://user:hunter2@gateway.example.com"
	c.API.APIKey = "api-secret"
	c.Storage.S3.AccessKeyID = "AKIAEXAMPLE"
	c.Storage.S3.SecretAccessKey = "s3-secret"
	c.Storage.S3.Endpoint = "https://u:s3pass@s3.example.com"
	c.Storage.MinIO.AccessKey = "minio-user"
	c.Storage.MinIO.SecretKey = "minio-secret"
	c.Server.Token = "server-token"

	r := c.Redacted()

	for _, tt := range []struct{ field, got, want string }{
		{"api.api_key", r.API.APIKey, "REDACTED"},
		{"api.base_url", r.API.BaseURL, "https://user:xxxxx@gateway.example.com"},
		{"storage.s3.secret_access_key", r.Storage.S3.SecretAccessKey, "REDACTED"},
		{"storage.s3.endpoint", r.Storage.S3.Endpoint, "https://u:xxxxx@s3.example.com"},
		{"storage.s3.access_key_id", r.Storage.S3.AccessKeyID, "AKIAEXAMPLE"},
		{"storage.minio.secret_key", r.Storage.MinIO.SecretKey, "REDACTED"},
		{"storage.minio.access_key", r.Storage.MinIO.AccessKey, "minio-user"},
		{"server.token", r.Server.Token, "REDACTED"},
	} {
		if tt.got != tt.want {
			t.Errorf("Redacted() %s = %q, want %q", tt.field, tt.got, tt.want)
		}
	}
	if c.API.APIKey != "api-secret" {
		t.Errorf("Redacted() changed its receiver: api_key = %q", c.API.APIKey)
	}

	// No secret may survive anywhere in the printed form.
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"api-secret", "hunter2", "s3-secret", "s3pass", "minio-secret", "server-token"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("Redacted() output contains %q:\n%s", secret, out)
		}
	}

	// Unset secrets stay empty, so the output still says they are unset.
	if r := Default().Redacted(); r.API.APIKey != "" || r.Server.Token != "" {
		t.Errorf("Redacted() of empty secrets = %q, %q, want empty", r.API.APIKey, r.Server.Token)
	}
}

// TestMarshalRoundTrip pins that a printed config (reelvault config show)
// parses back to the same value.
func TestMarshalRoundTrip(t *testing.T) {
	want := Default()
	want.API.APIKey = "k"
	want.Archive.PartSize = 1536 * KiB
	want.API.GiveUpAfter = Duration(90 * time.Minute)
	out, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got := mustParse(t, string(out), nil)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip of\n%s\ngot %+v, want %+v", out, got, want)
	}
}

// TestExampleFile keeps config.example.yaml honest: it parses strictly, every
// key of Config appears in it at its place, its values are the defaults, and
// the result validates.
func TestExampleFile(t *testing.T) {
	const path = "../config.example.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"REELVAULT_API_KEY": "test-api-key", "REELVAULT_SERVER_TOKEN": "test-token"}
	got, err := Parse(path, data, env(vars))
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}

	want := Default()
	want.API.APIKey = "test-api-key"
	want.Server.Token = "test-token"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s values differ from Default():\ngot  %+v\nwant %+v", path, got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%s does not validate: %v", path, err)
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	present := make(map[string]bool)
	collectKeys(doc.Content[0], "", present)
	for _, key := range configKeys(reflect.TypeFor[Config](), "") {
		if !present[key] {
			t.Errorf("%s lacks key %s", path, key)
		}
	}

	// The commented examples use ${VAR} for secrets.
	for _, ref := range []string{"${AWS_SECRET_ACCESS_KEY}", "${MINIO_SECRET_KEY}"} {
		if !strings.Contains(string(data), ref) {
			t.Errorf("%s does not show %s", path, ref)
		}
	}
}

// configKeys lists the YAML path of every key of struct type t, sections
// included, from its yaml tags.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			panic("config field without a yaml key: " + t.Name() + "." + f.Name)
		}
		key := join(prefix, name)
		keys = append(keys, key)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, configKeys(f.Type, key)...)
		}
	}
	return keys
}

// collectKeys records the YAML path of every mapping key under n.
func collectKeys(n *yaml.Node, prefix string, into map[string]bool) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := join(prefix, n.Content[i].Value)
		into[key] = true
		collectKeys(n.Content[i+1], key, into)
	}
}
