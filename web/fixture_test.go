package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/fs"
	"github.com/reelvault/reelvault/web"
)

// fixture is a real catalog and fs store filled by hand, for tests that
// need exact field values; browser_test.go fills one by a real archive run.
type fixture struct {
	cat   *catalog.DB
	where string // the catalog's SQLite file or Postgres URL, for writes behind its back
	store storage.Store
}

// newFixture opens an empty catalog and an fs store.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := fs.New(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, store)
}

// newFixtureWith opens an empty catalog beside store.
func newFixtureWith(t *testing.T, store storage.Store) *fixture {
	t.Helper()
	cat, where := catalogtest.Open(t, t.TempDir())
	return &fixture{cat: cat, where: where, store: store}
}

// fakeMP4 is enough bytes for a player to see an MP4 header.
func fakeMP4(n int) []byte {
	b := append([]byte{0, 0, 0, 0x18}, "ftypisom"...)
	return append(b, bytes.Repeat([]byte{7}, n-len(b))...)
}

// add records a finished task as the poller would, with the given creation
// prompt; a non-nil video is stored and archived as its result.
func (f *fixture) add(t *testing.T, task catalog.Task, prompt string, video []byte) {
	t.Helper()
	ctx := t.Context()
	now := time.Unix(task.FinishTime, 0)
	if err := f.cat.RecordCreation(ctx, task.TaskID, catalog.CreationRequest{Model: task.Model, Prompt: prompt,
		Source: catalog.SourceIntake}, now); err != nil {
		t.Fatal(err)
	}
	var assets []catalog.Asset
	if video != nil {
		assets = []catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://cdn.example/v.mp4", ExpiresAt: now.Add(24 * time.Hour)}}
	}
	if err := f.cat.Finish(ctx, task, assets, now); err != nil {
		t.Fatal(err)
	}
	if video == nil {
		return
	}
	key := "2026/11/29/" + task.TaskID + "/result.mp4"
	if err := f.store.Put(ctx, key, bytes.NewReader(video), int64(len(video)),
		storage.PutOptions{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	a := catalog.Asset{TaskID: task.TaskID, Kind: catalog.KindResult, Key: key, Size: int64(len(video))}
	if err := f.cat.AssetArchived(ctx, a, now); err != nil {
		t.Fatal(err)
	}
	if err := f.cat.SidecarWritten(ctx, task.TaskID, "2026/11/29/"+task.TaskID+"/task.json", now); err != nil {
		t.Fatal(err)
	}
}

// serve starts the web view on a loopback test server.
func (f *fixture) serve(t *testing.T, opts web.Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(web.New(f.cat, f.store, opts))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url with optional header pairs and returns the response with
// its body read.
func get(t *testing.T, client *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

var rowPattern = regexp.MustCompile(`<tr data-task="([^"]+)"`)

// rows lists the task ids in the page's table, in order.
func rows(page string) []string {
	ids := []string{}
	for _, m := range rowPattern.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func sameIDs(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}
