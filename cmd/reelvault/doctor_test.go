package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// doctorLines runs `reelvault doctor` and returns its exit code and its
// report, one line per check name.
func doctorLines(t *testing.T, e *env) (int, map[string]string) {
	t.Helper()
	code, stdout, stderr := e.run(t, "", "doctor")
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		name, rest, _ := strings.Cut(l, ":")
		lines[name] = strings.TrimSpace(rest)
	}
	t.Logf("doctor exit %d\n%s%s", code, stdout, stderr)
	return code, lines
}

func wantChecks(t *testing.T, lines map[string]string, want map[string]string) {
	t.Helper()
	for name, prefix := range want {
		if got, ok := lines[name]; !ok || !strings.HasPrefix(got, prefix) {
			t.Errorf("%s: %q, want it to start with %q", name, got, prefix)
		}
	}
}

// objectsLeft lists what the store holds, to check the probes were removed.
func objectsLeft(t *testing.T, s storage.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), "", func(o storage.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestDoctorAllGood(t *testing.T) {
	for name, b := range map[string]func(t *testing.T) backend{
		"fs": func(*testing.T) backend { return fsBackend() }, "s3": s3Backend,
	} {
		t.Run(name, func(t *testing.T) {
			be := b(t)
			e := newEnvWith(t, simulator.Config{}, envOptions{storage: be})
			code, lines := doctorLines(t, e)
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			wantChecks(t, lines, map[string]string{"config": "ok", "key": "ok", "storage": "ok", "catalog": "ok"})
			if !strings.Contains(lines["key"], "task_not_exist") || !strings.Contains(lines["catalog"], "writable") {
				t.Errorf("the report does not say what was checked: %q", lines)
			}
			if left := objectsLeft(t, be.store(t, e)); len(left) != 0 {
				t.Errorf("doctor left probe objects behind: %v", left)
			}
		})
	}
}

func TestDoctorSaysWhatIsWrong(t *testing.T) {
	t.Run("rejected key", func(t *testing.T) {
		e := newEnv(t, simulator.Config{}, "")
		e.sim.SetAPIKey("the-real-key")
		code, lines := doctorLines(t, e)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		wantChecks(t, lines, map[string]string{"config": "ok", "key": "FAIL: ", "storage": "ok", "catalog": "ok"})
		if !strings.Contains(lines["key"], "rejected the API key") || !strings.Contains(lines["key"], "api.api_key") {
			t.Errorf("key line %q: want it to say the key was rejected and which setting to fix", lines["key"])
		}
	})
	t.Run("storage root is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, simulator.Config{}, "storage:\n  fs:\n    root: "+file+"\n")
		code, lines := doctorLines(t, e)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		wantChecks(t, lines, map[string]string{"key": "ok", "storage": "FAIL: ", "catalog": "ok"})
		if !strings.Contains(lines["storage"], "not-a-dir") {
			t.Errorf("storage line %q: want it to name the path", lines["storage"])
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		srv := storagetest.S3Server(t)
		e := newEnvWith(t, simulator.Config{}, envOptions{storage: s3BucketBackend(t, srv, "rv-doctor-no-such-bucket")})
		code, lines := doctorLines(t, e)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		wantChecks(t, lines, map[string]string{"key": "ok", "storage": "FAIL: ", "catalog": "ok"})
		if !strings.Contains(lines["storage"], "rv-doctor-no-such-bucket") {
			t.Errorf("storage line %q: want it to name the missing bucket", lines["storage"])
		}
	})
	t.Run("bad config", func(t *testing.T) {
		e := newEnv(t, simulator.Config{}, "archive_typo: 1\n")
		code, lines := doctorLines(t, e)
		if code != 2 {
			t.Errorf("exit code %d, want 2 (bad config)", code)
		}
		wantChecks(t, lines, map[string]string{"config": "FAIL: ", "key": "skipped", "storage": "skipped", "catalog": "skipped"})
		if !strings.Contains(lines["config"], "archive_typo") {
			t.Errorf("config line %q: want it to name the unknown key", lines["config"])
		}
	})
}
