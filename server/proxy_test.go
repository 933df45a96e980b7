package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/server"
	"github.com/reelvault/reelvault/simulator"
)

// recordingWriter keeps a copy of what a handler wrote, as the gateway sent it.
type recordingWriter struct {
	http.ResponseWriter
	body *bytes.Buffer
}

func (w recordingWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// tappedGateway is the simulator behind a tap that records each reply body
// and the Authorization header it received.
type tappedGateway struct {
	sim     *simulator.Server
	url     *url.URL
	mu      sync.Mutex
	replies [][]byte
	auths   []string
}

func newTappedGateway(t *testing.T) *tappedGateway {
	g := &tappedGateway{sim: simulator.New(simulator.Config{Seed: 3})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		g.sim.ServeHTTP(recordingWriter{w, &body}, r)
		g.mu.Lock()
		g.replies = append(g.replies, body.Bytes())
		g.auths = append(g.auths, r.Header.Get("Authorization"))
		g.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	g.url, _ = url.Parse(srv.URL)
	return g
}

func (g *tappedGateway) last() ([]byte, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replies[len(g.replies)-1], g.auths[len(g.auths)-1]
}

const createBody = `{"model":"doubao-seedance-2-0-260128","content":[{"type":"text","text":"a red fox in snow"},` +
	`{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}],"resolution":"720p","duration":5,"seed":7}`

func TestProxyTracksCreatedTasksAndPassesRepliesThroughByteForByte(t *testing.T) {
	gw := newTappedGateway(t)
	cat := openCatalog(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Gateway: gw.url, Logger: log, Token: "reelvault-token"})

	code, got := do(t, "POST", url+"/v1/video/generations", "sim-key", createBody)
	sent, auth := gw.last()
	if code != http.StatusOK || !bytes.Equal(got, sent) {
		t.Fatalf("caller got HTTP %d %q; the gateway sent %q", code, got, sent)
	}
	if auth != "Bearer sim-key" {
		t.Errorf("gateway saw Authorization %q, want the caller's own key", auth)
	}
	var reply struct {
		Data struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	json.Unmarshal(got, &reply)
	task, err := cat.Get(t.Context(), reply.Data.TaskID)
	if err != nil {
		t.Fatalf("task %q created through the proxy is not tracked: %v", reply.Data.TaskID, err)
	}
	if task.Prompt != "a red fox in snow" || task.Model != "doubao-seedance-2-0-260128" || task.Source != catalog.SourceProxy {
		t.Errorf("catalog has prompt %q, model %q, source %q", task.Prompt, task.Model, task.Source)
	}
	var params map[string]any
	if err := json.Unmarshal(task.RequestParams, &params); err != nil || params["resolution"] != "720p" || params["seed"] != 7.0 {
		t.Errorf("request_params %s (%v): want the request's parameters", task.RequestParams, err)
	}
	if _, ok := params["content"]; ok {
		t.Errorf("request_params keeps content (images): %s", task.RequestParams)
	}
	if len(task.KeyFingerprint) != 8 || strings.Contains(string(task.RequestParams)+task.KeyFingerprint, "sim-key") {
		t.Errorf("key fingerprint %q: want 8 hex digits and never the key", task.KeyFingerprint)
	}
	if task.KeyFingerprint != server.KeyFingerprint("Bearer sim-key") {
		t.Errorf("fingerprint %q is not the key's", task.KeyFingerprint)
	}

	// Polling through the proxy works too, and is not reelvault's business.
	code, got = do(t, "GET", url+"/v1/video/generations/"+reply.Data.TaskID+"?x=1", "sim-key", "")
	if sent, _ := gw.last(); code != http.StatusOK || !bytes.Equal(got, sent) {
		t.Errorf("poll through the proxy: HTTP %d, body differs from the gateway's", code)
	}
}

func TestProxyPassesGatewayErrorsThroughAndTracksNothing(t *testing.T) {
	gw := newTappedGateway(t)
	cat := openCatalog(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Gateway: gw.url, Logger: log})

	code, got := do(t, "POST", url+"/v1/video/generations", "wrong-key", createBody)
	sent, _ := gw.last()
	if code != http.StatusUnauthorized || !bytes.Equal(got, sent) {
		t.Fatalf("caller got HTTP %d %q; want the gateway's 401 %q as is", code, got, sent)
	}
	if tasks, _, _ := cat.Counts(t.Context()); len(tasks) != 0 {
		t.Errorf("a refused creation tracked tasks: %v", tasks)
	}
}

func TestProxyPassesAnUnreadableReplyThroughAndLogsIt(t *testing.T) {
	page := "<html><body>Checking your browser…</body></html>"
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	t.Cleanup(gw.Close)
	target, _ := url.Parse(gw.URL)
	cat := openCatalog(t)
	log, logs := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Gateway: target, Logger: log})

	code, got := do(t, "POST", url+"/v1/video/generations", "k", createBody)
	if code != http.StatusOK || string(got) != page {
		t.Fatalf("caller got HTTP %d %q, want the page as is", code, got)
	}
	if !strings.Contains(logs.String(), "cannot read a task id from the creation reply") {
		t.Errorf("the unreadable reply was not logged:\n%s", logs)
	}
	if tasks, _, _ := cat.Counts(t.Context()); len(tasks) != 0 {
		t.Errorf("an unreadable reply tracked tasks: %v", tasks)
	}
}

func TestProxyStreamsRepliesAsTheyCome(t *testing.T) {
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first line\n")
		w.(http.Flusher).Flush()
		select { // the rest only once the caller has seen the first line
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "second line\n")
	}))
	t.Cleanup(gw.Close)
	target, _ := url.Parse(gw.URL)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: openCatalog(t), Gateway: target, Logger: log})

	req, _ := http.NewRequestWithContext(t.Context(), "GET", url+"/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "first line\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	if rest, _ := io.ReadAll(rd); string(rest) != "second line\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestProxyLeavesReelvaultRoutesAndTheWebViewAlone(t *testing.T) {
	var forwarded []string
	var mu sync.Mutex
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		forwarded = append(forwarded, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "gateway")
	}))
	t.Cleanup(gw.Close)
	target, _ := url.Parse(gw.URL)
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "web") })
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: openCatalog(t), Gateway: target, Web: web, Logger: log,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics") })})

	for path, want := range map[string]string{
		"/": "web", "/tasks/asyntask_x": "web", "/static/app.js": "web", "/metrics": "metrics",
		"/v1/video/generations/asyntask_x": "gateway", "/api/task/self": "gateway",
	} {
		if code, got := do(t, "GET", url+path, "", ""); code != http.StatusOK || string(got) != want {
			t.Errorf("GET %s: HTTP %d %q, want %q", path, code, got, want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/v1/tasks"} {
		do(t, "GET", url+path, "", "")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(forwarded) != 2 {
		t.Errorf("forwarded %v; want only the two gateway paths", forwarded)
	}
}

// A creation request may carry credentials in its parameters: a callback URL
// with a token, an api_key field, a signed image URL, a header map. None of
// them may reach the catalog, which is stored, exported and shown; what the
// request asked for is kept.
func TestProxyRedactsSecretsFromTheStoredRequest(t *testing.T) {
	gw := newTappedGateway(t)
	cat, path := openCatalogAt(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Gateway: gw.url, Logger: log})

	body := `{"model":"doubao-seedance-2-0-260128","content":[{"type":"text","text":"a red fox in snow"}],` +
		`"callback_url":"https://hooks.example/done?job=7&token=SECRET1","api_key":"SECRET2","ApiKey":"\u0053ECRET3",` +
		`"extra":{"headers":{"Authorization":"Bearer SECRET4"},"refs":["https://cdn.example/a.png?X-Tos-Signature=SECRET5&X-Tos-Expires=3600"],` +
		`"note":"mirror at https://u:SECRET6@m.example/x and auth_key=SECRET7"},"resolution":"720p","seed":7,"max_tokens":100}`
	code, got := do(t, "POST", url+"/v1/video/generations", "sim-key", body)
	if code != http.StatusOK {
		t.Fatalf("creation through the proxy: HTTP %d %s", code, got)
	}
	var reply struct {
		Data struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
	}
	json.Unmarshal(got, &reply)
	task, err := cat.Get(t.Context(), reply.Data.TaskID)
	if err != nil {
		t.Fatalf("task %q not tracked: %v", reply.Data.TaskID, err)
	}
	if task.Prompt != "a red fox in snow" || task.Model != "doubao-seedance-2-0-260128" {
		t.Errorf("catalog has prompt %q, model %q; want the request's", task.Prompt, task.Model)
	}
	var params map[string]any
	if err := json.Unmarshal(task.RequestParams, &params); err != nil {
		t.Fatalf("request_params %s: %v", task.RequestParams, err)
	}
	if params["resolution"] != "720p" || params["seed"] != 7.0 || params["max_tokens"] != 100.0 ||
		!strings.HasPrefix(fmt.Sprint(params["callback_url"]), "https://hooks.example/done?job=") {
		t.Errorf("request_params %s: want resolution, seed, max_tokens and the callback's address kept", task.RequestParams)
	}
	row := taskRow(t, path, reply.Data.TaskID)
	if strings.Contains(strings.ToUpper(row), "SECRET") {
		t.Errorf("a secret of the creation request is in the catalog row:\n%s", row)
	}
}
