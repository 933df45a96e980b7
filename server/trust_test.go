package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/metrics"
	"github.com/reelvault/reelvault/server"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/web"
)

// daemonOptions are the options `run` serves with, on a real catalog: the
// intake, /metrics, health and the web view.
func daemonOptions(t *testing.T, cat *catalog.DB) server.Options {
	t.Helper()
	store, err := fs.New(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	log, _ := newLogger(t)
	return server.Options{Catalog: cat, Logger: log, Web: web.New(cat, store, web.Options{Logger: log}),
		Metrics: metrics.New(t.Context(), cat, metrics.Options{Logger: log}).Handler()}
}

// browserRequest is one request as a browser (or a program) might send it.
type browserRequest struct {
	name         string
	method, path string
	host         string // Host header; "" keeps the test server's 127.0.0.1:port
	contentType  string // "" sends none
	header       []string
	want         int
}

func (br browserRequest) send(t *testing.T, base string) (int, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if br.method == http.MethodPost {
		body = strings.NewReader(`{"task_id":"asyntask_` + strings.NewReplacer(" ", "_", ":", "_", ".", "_", "/", "_").Replace(br.name) + `"}`)
	}
	req, err := http.NewRequestWithContext(t.Context(), br.method, base+br.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = strings.ReplaceAll(br.host, "PORT", u.Port())
	if br.contentType != "" {
		req.Header.Set("Content-Type", br.contentType)
	}
	for i := 0; i+1 < len(br.header); i += 2 {
		req.Header.Set(br.header[i], strings.ReplaceAll(br.header[i+1], "PORT", u.Port()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Without a token, loopback is the only credential, and every page in the
// operator's browser is on loopback too: a rebinding page (Host:
// evil.example.com) and a cross-site form or fetch must get nothing.
func TestLoopbackModeRefusesRebindingAndCrossSiteRequests(t *testing.T) {
	cat := openCatalog(t)
	base := serve(t, daemonOptions(t, cat))
	const json = "application/json"
	requests := []browserRequest{
		{name: "rebound web view", method: "GET", path: "/", host: "evil.example.com", want: 421},
		{name: "rebound web view with port", method: "GET", path: "/tasks/asyntask_x", host: "evil.example.com:PORT", want: 421},
		{name: "rebound metrics", method: "GET", path: "/metrics", host: "evil.example.com:PORT", want: 421},
		{name: "rebound healthz", method: "GET", path: "/healthz", host: "evil.example.com:PORT", want: 421},
		{name: "rebound intake", method: "POST", path: "/v1/tasks", host: "evil.example.com:PORT", contentType: json, want: 421},
		{name: "rebound localhost lookalike", method: "GET", path: "/", host: "localhost.evil.example.com", want: 421},

		{name: "web view by 127.0.0.1", method: "GET", path: "/", host: "127.0.0.1:PORT", want: 200},
		{name: "web view by localhost", method: "GET", path: "/", host: "localhost:PORT", want: 200},
		{name: "web view by LOCALHOST.", method: "GET", path: "/", host: "LOCALHOST.:PORT", want: 200},
		{name: "web view by vault.localhost", method: "GET", path: "/", host: "vault.localhost:PORT", want: 200},
		{name: "metrics by ::1", method: "GET", path: "/metrics", host: "[::1]:PORT", want: 200},
		{name: "healthz by pod IP", method: "GET", path: "/healthz", host: "10.1.2.3:PORT", want: 200},
		{name: "intake by localhost", method: "POST", path: "/v1/tasks", host: "localhost:PORT", contentType: json, want: 200},
		{name: "intake with charset", method: "POST", path: "/v1/tasks", contentType: "application/json; charset=utf-8", want: 200},

		{name: "text plain intake", method: "POST", path: "/v1/tasks", contentType: "text/plain", want: 415},
		{name: "form intake", method: "POST", path: "/v1/tasks", contentType: "application/x-www-form-urlencoded", want: 415},
		{name: "typeless intake", method: "POST", path: "/v1/tasks", want: 415},

		{name: "foreign origin", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Origin", "http://evil.example.com"}, want: 403},
		{name: "null origin", method: "POST", path: "/v1/tasks", contentType: json, header: []string{"Origin", "null"}, want: 403},
		{name: "other local app", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Origin", "http://127.0.0.1:3000"}, want: 403},
		{name: "cross site fetch", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403},
		{name: "same site fetch", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Sec-Fetch-Site", "same-site", "Origin", "http://localhost:3000"}, want: 403},
		{name: "own origin", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Origin", "http://127.0.0.1:PORT"}, want: 200},
		{name: "same origin fetch", method: "POST", path: "/v1/tasks", contentType: json,
			header: []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:PORT"}, want: 200},
		{name: "link from another site", method: "GET", path: "/", header: []string{"Sec-Fetch-Site", "cross-site"}, want: 200},
	}
	admitted := 0
	for _, tc := range requests {
		if tc.method == http.MethodPost && tc.want == http.StatusOK {
			admitted++
		}
		code, body := tc.send(t, base)
		if code != tc.want {
			t.Errorf("%s: %s %s (Host %q): HTTP %d, want %d\n%.300s", tc.name, tc.method, tc.path, tc.host, code, tc.want, body)
		}
		if code >= 400 && code != 404 && !strings.Contains(body, "reelvault: ") {
			t.Errorf("%s: refusal does not say why: %.300s", tc.name, body)
		}
	}
	tasks, _, err := cat.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tasks[catalog.StatusTracked], admitted; got != want {
		t.Errorf("%d tasks tracked, want %d (only the allowed intake requests)", got, want)
	}
}

// With a token, a page cannot authenticate, so the Host check is opt-in:
// a deployment reached by a name reelvault was never told keeps working,
// and one that lists its names gets them enforced.
func TestTokenModeChecksHostsOnlyWhenNamesAreConfigured(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		host    string
		want    int
	}{
		{nil, "vault.internal:8417", 200},
		{[]string{"vault.internal"}, "vault.internal:8417", 200},
		{[]string{"Vault.Internal:8417"}, "vault.internal", 200},
		{[]string{"vault.internal"}, "evil.example.com", 421},
		{[]string{"vault.internal"}, "10.0.0.7:8417", 200},
	} {
		opts := daemonOptions(t, openCatalog(t))
		opts.Token, opts.AllowedHosts = "tok", tc.allowed
		base := serve(t, opts)
		req := browserRequest{name: "metrics", method: "GET", path: "/metrics", host: tc.host,
			header: []string{"Authorization", "Bearer tok"}}
		if code, body := req.send(t, base); code != tc.want {
			t.Errorf("allowed %q, Host %q: HTTP %d, want %d\n%.300s", tc.allowed, tc.host, code, tc.want, body)
		}
	}
}

// The name in server.listen is one the server is known by, even when it is
// not a loopback name.
func TestListenHostIsAnAllowedName(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := newLogger(t)
	srv := server.ServeOn(ln, "vault.example.test:8417", server.New(daemonOptions(t, openCatalog(t))), log)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	base := "http://" + srv.Addr()
	for host, want := range map[string]int{"vault.example.test:8417": 200, "VAULT.example.test": 200, "other.example.test": 421} {
		req := browserRequest{name: "healthz", method: "GET", path: "/healthz", host: host}
		if code, body := req.send(t, base); code != want {
			t.Errorf("Host %q: HTTP %d, want %d\n%.300s", host, code, want, body)
		}
	}
}

// A later intake, which anyone on loopback can send, never rewrites the
// prompt or the key fingerprint an archived task was recorded with.
func TestIntakeNeverRewritesARecordedPrompt(t *testing.T) {
	cat := openCatalog(t)
	ctx := t.Context()
	now := time.Unix(1_780_000_000, 0)
	const id = "asyntask_archived"
	first := catalog.CreationRequest{Model: "seedance", Prompt: "a red fox in snow", Params: []byte(`{"seed":7}`),
		KeyFingerprint: "d40a2817", Source: catalog.SourceProxy}
	if err := cat.RecordCreation(ctx, id, first, now); err != nil {
		t.Fatal(err)
	}
	if err := cat.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS", Model: "seedance"}, nil, now); err != nil {
		t.Fatal(err)
	}
	base := serve(t, daemonOptions(t, cat))

	code, b := do(t, "POST", base+"/v1/tasks", "", `{"task_id":"`+id+`","prompt":"rewritten by a stranger","model":"other"}`)
	reply := decode[server.IntakeReply](t, b)
	if code != http.StatusOK || len(reply.Kept) != 1 || reply.Kept[0] != id {
		t.Errorf("second intake: HTTP %d %+v; want 200 saying the recorded request was kept", code, reply)
	}
	got, err := cat.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt != first.Prompt || got.KeyFingerprint != first.KeyFingerprint || got.Model != "seedance" ||
		got.Source != catalog.SourceProxy || string(got.RequestParams) != `{"seed":7}` {
		t.Errorf("after a second intake: prompt %q key %q model %q source %q params %s; want the first record's",
			got.Prompt, got.KeyFingerprint, got.Model, got.Source, got.RequestParams)
	}
}
