package main

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
)

// TestSecretsStayOut runs reelvault end to end with debug JSON logs, through
// download faults and a rejected key that make it log errors, and then greps
// everything an operator or a bucket reader can see (stderr of every
// command, the catalog's replies, every task.json and object attribute in
// storage) for the API key, the storage secret key and every signature and
// auth_key of the videos' signed URLs.
//
// It archives to S3 when a test server is there (the storage secret is then
// one more thing to look for), else to fs.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	b := fsBackend()
	if os.Getenv("REELVAULT_TEST_S3_ENDPOINT") != "" || os.Getenv("CI") == "true" {
		b = s3Backend(t)
	}
	testSecrets(t, b)
}

// signedParam finds the secret parts of the simulator's signed URLs.
var signedParam = regexp.MustCompile(`(?i)(X-Tos-Signature|X-Tos-Credential|auth_key)=([^&"\s\\]+)`)

func testSecrets(t *testing.T, b backend) {
	apiKey := "rv-test-api-key-" + rand.Text()
	var mu sync.Mutex
	dropped := map[string]bool{}
	e := newEnvWith(t, simulator.Config{
		NotStartFor: 50 * time.Millisecond, QueuedFor: 50 * time.Millisecond, RunFor: 300 * time.Millisecond,
		VideoBytes: 64 << 10, FailureRate: 0.2,
	}, envOptions{apiKey: apiKey, storage: b, wrap: func(h http.Handler) http.Handler {
		// The first request for each video loses its connection before
		// any answer, as behind a crashing CDN: the HTTP client's error
		// then quotes the whole URL.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first := strings.HasSuffix(r.URL.Path, ".mp4") && !dropped[r.URL.Path]
			dropped[r.URL.Path] = true
			mu.Unlock()
			if first {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}})
	yes, no := true, false
	var ids []string
	for i := range 6 {
		sr := map[bool]*bool{true: &yes, false: &no}[i%2 == 0]
		ids = append(ids, e.sim.CreateTask(simulator.TaskOptions{SuperResolution: sr}))
	}

	var seen strings.Builder // everything a person or a script can read
	run := func(wantCode int, stdin string, args ...string) string {
		t.Helper()
		code, stdout, stderr := e.run(t, stdin, args...)
		if code != wantCode {
			t.Fatalf("reelvault %v: exit %d, want %d:\n%s", args, code, wantCode, stderr)
		}
		seen.WriteString(stdout + "\n" + stderr + "\n")
		return stderr
	}
	run(0, strings.Join(ids, "\n"), "track", "-")
	logs := run(0, "", "run", "--once", "--deadline", "1m", "--log-level", "debug", "--log-format", "json")
	for line := range strings.Lines(logs) {
		if !json.Valid([]byte(line)) {
			t.Errorf("--log-format json, but stderr has a line that is not JSON: %q", line)
		}
	}
	if !strings.Contains(logs, "video download failed") {
		t.Fatalf("the run logged no download error, so the test proved nothing:\n%s", logs)
	}
	run(0, "", "catalog", "list", "--format", "json")
	for _, id := range ids[:2] { // one super-resolution task, one plain
		run(0, "", "catalog", "show", id)
	}
	run(0, "", "verify", "--all", "--orphans", "--format", "json")
	run(0, "", "cleanup")

	store := b.store(t, e)
	sidecars := 0
	err := store.List(t.Context(), "", func(info storage.ObjectInfo) error {
		full, err := store.Stat(t.Context(), info.Key)
		if err != nil {
			return err
		}
		seen.WriteString(full.ContentDisposition + " " + strings.Join(mapValues(full.Metadata), " ") + "\n")
		if strings.HasSuffix(info.Key, "/task.json") {
			sidecars++
			r, err := store.Open(t.Context(), info.Key)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(&seen, r)
			return err
		}
		return nil
	})
	if err != nil || sidecars == 0 {
		t.Fatalf("read task.json files: %d read, %v", sidecars, err)
	}

	secrets := map[string]string{apiKey: "the API key"}
	if b.secret != "" {
		secrets[b.secret] = "the storage secret key"
	}
	kinds := map[string]bool{}
	for _, id := range ids {
		for _, m := range signedParam.FindAllStringSubmatch(gatewayReply(t, e, apiKey, id), -1) {
			v, err := url.QueryUnescape(m[2])
			if err != nil {
				t.Fatal(err)
			}
			v, _, _ = strings.Cut(v, "/") // X-Tos-Credential: the access key id
			secrets[v] = m[1] + " of a video URL"
			kinds[strings.ToLower(m[1])] = true
		}
	}
	if !kinds["x-tos-signature"] || !kinds["auth_key"] {
		t.Fatalf("found signatures of kinds %v; want both X-Tos-Signature and auth_key to look for", kinds)
	}

	// A key rejected mid-life: the error names the problem, not the key.
	e.sim.SetAPIKey("rotated")
	run(0, e.sim.CreateTask(simulator.TaskOptions{}), "track", "-")
	run(3, "", "run", "--once", "--deadline", "1m", "--log-level", "debug")

	out := seen.String()
	for secret, what := range secrets {
		if i := strings.Index(out, secret); i >= 0 {
			t.Errorf("%s (%s) appears in reelvault's output or storage: ...%s...", what, secret, out[max(i-200, 0):min(i+len(secret)+50, len(out))])
		}
	}
}

// gatewayReply is the simulator's raw reply for a task: where the signed
// URLs are.
func gatewayReply(t *testing.T, e *env, apiKey, id string) string {
	t.Helper()
	for range 20 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+"/v1/video/generations/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && json.Valid(body) {
			return string(body)
		}
		if resp.StatusCode < 500 {
			t.Fatalf("simulator reply for %s: HTTP %d: %s", id, resp.StatusCode, body)
		}
	}
	t.Fatalf("no reply for %s", id)
	return ""
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
