package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/web"
)

// archived is a catalog and fs store filled by a real archive run against
// the simulator, as `reelvault run --once` would fill them.
type archived struct {
	*fixture
	lighthouse, kitten, failed, hostile string // task ids
}

const hostilePrompt = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> a storm`

func archiveRun(t *testing.T) *archived {
	t.Helper()
	sim := simulator.New(simulator.Config{Seed: 5, NotStartFor: -1, QueuedFor: -1, RunFor: 20 * time.Millisecond,
		VideoBytes: 48 << 10, FailureRate: -1, SuperResolutionRate: -1})
	gw := httptest.NewServer(sim)
	t.Cleanup(gw.Close)
	yes, no := true, false
	a := &archived{fixture: newFixture(t)}
	for _, task := range []struct {
		id   *string
		opts simulator.TaskOptions
	}{
		{&a.lighthouse, simulator.TaskOptions{Model: "seedance-pro", Prompt: "A lighthouse in a storm, waves crashing",
			Resolution: "720p", SuperResolution: &yes}},
		{&a.kitten, simulator.TaskOptions{Model: "seedance-lite", Prompt: "A cat asleep on a sunny windowsill", SuperResolution: &no}},
		{&a.failed, simulator.TaskOptions{Model: "seedance-pro", Prompt: "A storm over the city", Fail: &yes}},
		{&a.hostile, simulator.TaskOptions{Model: "seedance-lite", Prompt: hostilePrompt, SuperResolution: &no}},
	} {
		*task.id = sim.CreateTask(task.opts)
		// What the forwarding proxy records when it sees the creation.
		req := catalog.CreationRequest{Model: task.opts.Model, Prompt: task.opts.Prompt, Source: catalog.SourceProxy}
		if err := a.cat.RecordCreation(t.Context(), *task.id, req, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	opts := archiver.Options{PollInterval: 20 * time.Millisecond, RequestsPerSecond: 500, Concurrency: 4,
		AllowHTTP: true, AllowPrivateNetworks: true, StallTimeout: 5 * time.Second,
		PollBackoff:  retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		AssetBackoff: retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil))}
	client := gateway.NewClient(gw.URL, "sim-key", &http.Client{Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := archiver.New(a.cat, client, a.store, opts).Run(ctx, true); err != nil {
		t.Fatalf("archive run: %v", err)
	}
	return a
}

// videoLoads records what the server answered to the browser's own media
// requests (Sec-Fetch-Dest: video), as a user's network panel would show.
type videoLoads struct {
	mu   sync.Mutex
	seen []string      // "GET /path -> 206 video/mp4, 1234 bytes"
	more chan struct{} // receives after each new entry
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (v *videoLoads) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Sec-Fetch-Dest") != "video" {
			h.ServeHTTP(w, r)
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		v.mu.Lock()
		defer v.mu.Unlock()
		v.seen = append(v.seen, fmt.Sprintf("%s %s -> %d %s, %d bytes", r.Method, r.URL.Path, cw.status,
			cw.Header().Get("Content-Type"), cw.n))
		select {
		case v.more <- struct{}{}:
		default:
		}
	})
}

func (v *videoLoads) list() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.seen...)
}

// TestBrowserFilterOpenAndPlay drives the web view in headless chromium as a
// user would: open it with the token, filter by typing prompt words, click
// the task, and see its video load from reelvault. Screenshots go to the
// test's temp dir (and to $REELVAULT_WEB_SCREENSHOT when set).
func TestBrowserFilterOpenAndPlay(t *testing.T) {
	chromium := needChromium(t)
	a := archiveRun(t)
	lighthouse, err := a.cat.Get(t.Context(), a.lighthouse)
	if err != nil || lighthouse.ArchiveState != catalog.ArchiveArchived || len(lighthouse.Assets) != 2 {
		t.Fatalf("archive run: lighthouse task %+v, %v; want archived with two videos", lighthouse, err)
	}
	loads := &videoLoads{more: make(chan struct{}, 1)}
	srv := httptest.NewServer(loads.wrap(web.New(a.cat, a.store, web.Options{Token: "tok-123"})))
	t.Cleanup(srv.Close)
	shots := t.TempDir()

	p := startChromium(t, chromium)
	p.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 960, "deviceScaleFactor": 1, "mobile": false}, nil)

	// The token is swapped for a cookie and dropped from the address bar.
	p.navigate(srv.URL + "/?token=tok-123")
	p.waitUntil("the catalog table", `document.readyState === "complete" && document.querySelector("#count")`)
	var loc string
	p.eval(`location.pathname + location.search`, &loc)
	var ids []string
	p.eval(`[...document.querySelectorAll("table.tasks tbody tr")].map(r => r.dataset.task)`, &ids)
	if loc != "/" || len(ids) != 4 {
		t.Fatalf("after opening /?token=: at %q with rows %v; want / with all 4 tasks", loc, ids)
	}
	p.screenshot(filepath.Join(shots, "catalog.png"))
	if dst := os.Getenv("REELVAULT_WEB_SCREENSHOT"); dst != "" {
		p.screenshot(strings.TrimSuffix(dst, ".png") + "-catalog.png")
	}

	// Filter: type prompt words into the form and press Enter.
	p.eval(`document.querySelector("input[name=prompt]").focus()`, nil)
	p.typeText("lighthouse storm")
	p.pressEnter()
	p.waitUntil("the filtered table", `location.search.includes("prompt=lighthouse") && document.readyState === "complete"`)
	p.eval(`[...document.querySelectorAll("table.tasks tbody tr")].map(r => r.dataset.task)`, &ids)
	if !sameIDs(ids, a.lighthouse) {
		t.Fatalf("prompt filter \"lighthouse storm\": rows %v, want only %s", ids, a.lighthouse)
	}

	// Open the task by clicking its row.
	p.click(fmt.Sprintf(`tr[data-task=%q] td.model`, a.lighthouse))
	p.waitUntil("the task page", fmt.Sprintf(`location.pathname === "/tasks/%s" && document.readyState === "complete"`, a.lighthouse))
	var videos []struct{ Kind, Src string }
	p.eval(`[...document.querySelectorAll("video")].map(v => ({kind: v.dataset.kind, src: v.currentSrc}))`, &videos)
	if len(videos) != 2 || videos[0].Kind != "result" || !strings.HasSuffix(videos[0].Src, "/tasks/"+a.lighthouse+"/video/result") {
		t.Fatalf("task page videos %+v; want the result then the original, served by reelvault", videos)
	}

	// The player's own request for the video, as the server answered it.
	resultLoad := func() string {
		for _, l := range loads.list() {
			if strings.Contains(l, "/video/result -> ") {
				return l
			}
		}
		return ""
	}
	for resultLoad() == "" {
		select {
		case <-loads.more:
		case <-t.Context().Done():
			t.Fatalf("the result video element never requested its source (requests seen: %q)", loads.list())
		}
	}
	if got := resultLoad(); !strings.Contains(got, "/video/result -> 200 video/mp4") && !strings.Contains(got, "/video/result -> 206 video/mp4") {
		t.Errorf("the video element's request: %s; want a 200 (or 206) video/mp4 answer", got)
	}

	// And what the browser gets for the element's source: the whole video.
	var fetched struct {
		Status int
		Type   string
		Length int64
	}
	p.eval(`fetch(document.querySelector("video").currentSrc).then(async r =>
		({status: r.status, type: r.headers.get("content-type"), length: (await r.arrayBuffer()).byteLength}))`, &fetched)
	var want int64
	for _, as := range lighthouse.Assets {
		if as.Kind == catalog.KindResult {
			want = as.Size
		}
	}
	if fetched.Status != 200 || fetched.Type != "video/mp4" || fetched.Length != want {
		t.Errorf("the video source as the browser fetches it: %+v; want 200 video/mp4 with the %d archived bytes", fetched, want)
	}
	// The player read the video's metadata (its duration) from those bytes.
	// (It may report a decode error later: the simulator's MP4s have no
	// samples.)
	p.waitUntil("the video's metadata", `(v => v.readyState >= 1 || v.error)(document.querySelector("video"))`)
	var state struct {
		ReadyState int
		Error      int
		Duration   float64
	}
	p.eval(`(v => ({readyState: v.readyState, error: v.error ? v.error.code : 0, duration: v.duration}))(document.querySelector("video"))`, &state)
	if state.ReadyState < 1 || state.Duration != lighthouse.Duration {
		t.Errorf("video element: %+v; want its metadata read, with the task's %v s duration", state, lighthouse.Duration)
	}
	p.screenshot(filepath.Join(shots, "task.png"))
	if dst := os.Getenv("REELVAULT_WEB_SCREENSHOT"); dst != "" {
		p.screenshot(dst)
	}
	t.Logf("screenshots in %s; requests of the video element: %q", shots, loads.list())

	// A hostile prompt is text on the page, never markup.
	p.navigate(srv.URL + "/tasks/" + a.hostile)
	p.waitUntil("the hostile task's page", fmt.Sprintf(`location.pathname === "/tasks/%s" && document.readyState === "complete"`, a.hostile))
	var shown struct {
		Text   string
		Pwned  bool
		Images int
	}
	p.eval(`({text: document.querySelector("#prompt").textContent, pwned: window.pwned !== undefined,
		images: document.querySelectorAll("img").length})`, &shown)
	if shown.Text != hostilePrompt || shown.Pwned || shown.Images != 0 {
		t.Errorf("hostile prompt page: text %q, script ran %v, %d <img>; want the prompt as plain text", shown.Text, shown.Pwned, shown.Images)
	}
}
