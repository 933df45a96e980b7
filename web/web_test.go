package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/s3"
	"github.com/reelvault/reelvault/storage/storagetest"
	"github.com/reelvault/reelvault/web"
)

var day1 = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

// sampleTasks fills f with four tasks that differ in every filterable field.
func sampleTasks(t *testing.T, f *fixture) {
	t.Helper()
	f.add(t, catalog.Task{TaskID: "task_lighthouse", Status: "SUCCESS", Model: "seedance-pro", Resolution: "720p",
		SuperResolution: "1080p", Duration: 5, FinishTime: day1.Unix()}, "A lighthouse in a storm, waves crashing", fakeMP4(4096))
	f.add(t, catalog.Task{TaskID: "task_cat", Status: "SUCCESS", Model: "seedance-lite", Resolution: "480p",
		Duration: 5, FinishTime: day1.Add(26 * time.Hour).Unix()}, "A cat asleep on a sunny windowsill", fakeMP4(2048))
	f.add(t, catalog.Task{TaskID: "task_failed", Status: "FAILURE", Model: "seedance-pro", Resolution: "720p",
		FailReason: "content policy", FinishTime: day1.Add(27 * time.Hour).Unix()}, "A storm over the city", nil)
	f.add(t, catalog.Task{TaskID: "task_100percent", Status: "SUCCESS", Model: "seedance-lite", Resolution: "720p",
		Duration: 10, FinishTime: day1.Add(28 * time.Hour).Unix()}, "100% pure_joy", fakeMP4(1024))
}

func TestTableFilters(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := f.serve(t, web.Options{})
	for _, tc := range []struct {
		query string
		want  []string // newest first
	}{
		{"", []string{"task_100percent", "task_failed", "task_cat", "task_lighthouse"}},
		{"?status=FAILURE", []string{"task_failed"}},
		{"?model=seedance-pro", []string{"task_failed", "task_lighthouse"}},
		{"?res=1080p", []string{"task_lighthouse"}},
		{"?res=720p&model=seedance-lite", []string{"task_100percent"}},
		{"?day=2026-11-28", []string{"task_lighthouse"}},
		{"?prompt=STORM", []string{"task_failed", "task_lighthouse"}},
		{"?prompt=storm+lighthouse", []string{"task_lighthouse"}},
		{"?prompt=100%25", []string{"task_100percent"}},
		{"?prompt=_", []string{"task_100percent"}}, // a LIKE wildcard, matched literally
		{"?archive=archived&model=seedance-pro", []string{"task_lighthouse"}},
		{"?model=nope", []string{}},
	} {
		resp, page := get(t, nil, srv.URL+"/"+tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /%s: %s", tc.query, resp.Status)
		}
		if got := rows(page); !sameIDs(got, tc.want...) {
			t.Errorf("GET /%s: table shows %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestHostilePromptIsEscaped(t *testing.T) {
	f := newFixture(t)
	const prompt = `<script>alert(1)</script>`
	const model = `"><img src=x onerror=alert(2)>`
	f.add(t, catalog.Task{TaskID: "task_xss", Status: "SUCCESS", Model: model, FinishTime: day1.Unix()}, prompt, fakeMP4(512))
	srv := f.serve(t, web.Options{})
	for _, path := range []string{"/", "/tasks/task_xss", "/?prompt=" + strings.ReplaceAll(prompt, "<", "%3C")} {
		_, page := get(t, nil, srv.URL+path)
		if strings.Contains(page, "<script>alert(1)") || strings.Contains(page, "<img src=x") {
			t.Errorf("GET %s: the hostile prompt or model is in the page unescaped", path)
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s: the prompt is not shown, escaped, as text", path)
		}
	}
}

func TestTaskPageShowsMetadataAndVideo(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := f.serve(t, web.Options{})
	resp, page := get(t, nil, srv.URL+"/tasks/task_lighthouse")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET task page: %s", resp.Status)
	}
	for _, want := range []string{"A lighthouse in a storm", "seedance-pro", "720p → 1080p",
		`<video controls preload="metadata" src="/tasks/task_lighthouse/video/result"`} {
		if !strings.Contains(page, want) {
			t.Errorf("task page lacks %q", want)
		}
	}
	_, page = get(t, nil, srv.URL+"/tasks/task_failed")
	if !strings.Contains(page, "content policy") || strings.Contains(page, "<video") {
		t.Errorf("failed task page: want its fail reason and no video")
	}
	if resp, _ := get(t, nil, srv.URL+"/tasks/task_unknown"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown task: %s, want 404", resp.Status)
	}
}

func TestVideoStreamsFromStorage(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := f.serve(t, web.Options{})
	want := fakeMP4(4096)
	resp, body := get(t, nil, srv.URL+"/tasks/task_lighthouse/video/result")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" || body != string(want) ||
		resp.ContentLength != int64(len(want)) {
		t.Fatalf("video: %s, %q, %d bytes (Content-Length %d); want 200 video/mp4 with the %d stored bytes",
			resp.Status, resp.Header.Get("Content-Type"), len(body), resp.ContentLength, len(want))
	}
	resp, body = get(t, nil, srv.URL+"/tasks/task_lighthouse/video/result", "Range", "bytes=100-199")
	if resp.StatusCode != http.StatusPartialContent || body != string(want[100:200]) {
		t.Errorf("range request: %s with %d bytes, want 206 with bytes 100-199", resp.Status, len(body))
	}
	for _, path := range []string{"/tasks/task_lighthouse/video/original", "/tasks/task_failed/video/result", "/tasks/nope/video/result"} {
		if resp, _ := get(t, nil, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}

// presigningStore is a store with the Presigner capability, standing in for
// s3 or minio.
type presigningStore struct{ storage.Store }

func (presigningStore) Presign(_ context.Context, key string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("https://bucket.example/%s?X-Amz-Expires=%d", key, int(ttl.Seconds())), nil
}

func TestVideoByPresignedURL(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := httptest.NewServer(web.New(f.cat, presigningStore{f.store}, web.Options{PresignTTL: time.Hour}))
	t.Cleanup(srv.Close)
	want := "https://bucket.example/2026/11/29/task_lighthouse/result.mp4?X-Amz-Expires=3600"
	_, page := get(t, nil, srv.URL+"/tasks/task_lighthouse")
	if !strings.Contains(page, `src="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
		t.Errorf("task page: the video's src is not the pre-signed URL %s", want)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, noRedirect, srv.URL+"/tasks/task_lighthouse/video/result")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("video route: %s to %q, want a redirect to the pre-signed URL", resp.Status, resp.Header.Get("Location"))
	}
}

// With a real S3 server: the pre-signed URL on the page serves the video,
// and so does reelvault without pre-signing.
func TestVideoByPresignedURLFromS3(t *testing.T) {
	env := storagetest.S3Server(t)
	store, err := s3.New(t.Context(), s3.Config{Bucket: storagetest.NewBucket(t, env), Endpoint: env.Endpoint,
		ForcePathStyle: true, AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, store)
	video := fakeMP4(8192)
	f.add(t, catalog.Task{TaskID: "task_s3", Status: "SUCCESS", Model: "m", FinishTime: day1.Unix()}, "on s3", video)
	srv := f.serve(t, web.Options{PresignTTL: 10 * time.Minute})
	_, page := get(t, nil, srv.URL+"/tasks/task_s3")
	if !strings.Contains(page, `src="`+env.Endpoint) {
		t.Fatalf("task page: the video's src is not a URL on the S3 endpoint %s", env.Endpoint)
	}
	resp, body := get(t, nil, srv.URL+"/tasks/task_s3/video/result") // follows the redirect to the bucket
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" || body != string(video) {
		t.Errorf("pre-signed video: %s %q with %d bytes; want 200 video/mp4 with the %d stored bytes",
			resp.Status, resp.Header.Get("Content-Type"), len(body), len(video))
	}

	// Without pre-signing the bytes stream through reelvault (s3 bodies do not seek).
	resp, body = get(t, nil, f.serve(t, web.Options{}).URL+"/tasks/task_s3/video/result")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" || body != string(video) {
		t.Errorf("streamed video: %s %q with %d bytes; want 200 video/mp4 with the %d stored bytes",
			resp.Status, resp.Header.Get("Content-Type"), len(body), len(video))
	}
}

func TestPagesOfAHundred(t *testing.T) {
	f := newFixture(t)
	for i := range 101 {
		f.add(t, catalog.Task{TaskID: fmt.Sprintf("task_%03d", i), Status: "SUCCESS", Model: "m",
			FinishTime: day1.Add(time.Duration(i) * time.Minute).Unix()}, "", nil)
	}
	srv := f.serve(t, web.Options{})
	_, page := get(t, nil, srv.URL+"/?model=m")
	if ids := rows(page); len(ids) != 100 || ids[0] != "task_100" || !strings.Contains(page, "1–100 of 101 tasks") {
		t.Fatalf("first page: %d rows starting %v; want the 100 newest of 101", len(ids), ids[:1])
	}
	next := regexp.MustCompile(`<a href="([^"]+)">older →</a>`).FindStringSubmatch(page)
	if next == nil {
		t.Fatal("first page has no link to older tasks")
	}
	_, page = get(t, nil, srv.URL+html.UnescapeString(next[1]))
	if ids := rows(page); !sameIDs(ids, "task_000") || strings.Contains(page, "older →") {
		t.Errorf("second page: rows %v; want only the oldest task, and no further page", ids)
	}
}

func TestTokenGuardsEveryPage(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := f.serve(t, web.Options{Token: "s3cret"})
	for _, path := range []string{"/", "/tasks/task_cat", "/tasks/task_cat/video/result", "/static/style.css", "/?token=wrong"} {
		if resp, _ := get(t, nil, srv.URL+path); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %s, want 401", path, resp.Status)
		}
	}
	if resp, _ := get(t, nil, srv.URL+"/tasks/task_cat", "Authorization", "Bearer s3cret"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with the bearer token: %s, want 200", resp.Status)
	}

	// A browser: ?token= once, then the cookie carries it.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, page := get(t, browser, srv.URL+"/?model=seedance-lite&token=s3cret")
	if resp.StatusCode != http.StatusOK || !sameIDs(rows(page), "task_100percent", "task_cat") {
		t.Fatalf("GET /?token=: %s with rows %v, want the filtered table", resp.Status, rows(page))
	}
	if u := resp.Request.URL; u.Query().Has("token") || u.Query().Get("model") != "seedance-lite" {
		t.Errorf("after the token exchange the browser is at %s; want the same URL without the token", u)
	}
	if resp, _ := get(t, browser, srv.URL+"/tasks/task_cat/video/result"); resp.StatusCode != http.StatusOK {
		t.Errorf("video with the session cookie: %s, want 200", resp.Status)
	}
	for _, c := range jar.Cookies(resp.Request.URL) {
		if strings.Contains(c.Value, "s3cret") {
			t.Errorf("cookie %s holds the token itself", c.Name)
		}
	}
}

func TestNoTokenServesLoopbackOnly(t *testing.T) {
	f := newFixture(t)
	h := web.New(f.cat, f.store, web.Options{})
	for addr, want := range map[string]int{"127.0.0.1:5000": http.StatusOK, "[::1]:5000": http.StatusOK, "192.0.2.7:5000": http.StatusForbidden} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("client %s without a configured token: %d, want %d", addr, rec.Code, want)
		}
	}
}

func TestHealthNumbersOnTop(t *testing.T) {
	f := newFixture(t)
	sampleTasks(t, f)
	srv := f.serve(t, web.Options{Health: func(context.Context) (web.Health, error) {
		return web.Health{PendingVideos: 7, NextExpiry: time.Now().Add(30 * time.Minute)}, nil
	}})
	_, page := get(t, nil, srv.URL+"/")
	for _, want := range []string{`<span class="label">pending videos</span> <span class="value">7</span>`,
		`<span class="label">next URL expiry</span> <span class="value">in 29m</span>`, `<li class="warn"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page header lacks %q", want)
		}
	}

	// Read from the catalog by default: three archived videos, none pending.
	_, page = get(t, nil, f.serve(t, web.Options{}).URL+"/")
	if !strings.Contains(page, `pending videos</span> <span class="value">0</span>`) ||
		!strings.Contains(page, `last archive</span> <span class="value">`) || strings.Contains(page, `value">never<`) {
		t.Errorf("catalog health: want 0 pending and a last archive time in the header")
	}
}
