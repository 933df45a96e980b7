package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/web"
)

// field returns the text of the first <dd> after <dt>label</dt> in page;
// "" when there is none.
func field(page, label string) string {
	m := regexp.MustCompile(`<dt>` + regexp.QuoteMeta(label) + `</dt><dd>(.*?)</dd>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

// TestTaskPageShowsWhereEachVideoIs: after a real archive run, a task's page
// names each video's url, as `catalog list` does, and when the task settled.
func TestTaskPageShowsWhereEachVideoIs(t *testing.T) {
	a := archiveRun(t)
	task, err := a.cat.Get(t.Context(), a.kitten)
	if err != nil || len(task.Assets) != 1 || task.Assets[0].URL == "" || task.SettledAt == nil {
		t.Fatalf("archive run: %+v, %v; want one archived video with its url, and a settled_at", task, err)
	}
	srv := a.serve(t, web.Options{})
	_, page := get(t, nil, srv.URL+"/tasks/"+a.kitten)
	if got := field(page, "url"); got != task.Assets[0].URL {
		t.Errorf("task page url %q, want %q", got, task.Assets[0].URL)
	}
	if got := field(page, "bucket"); got != "" {
		t.Errorf("task page bucket %q on fs, want none", got)
	}
	if got, want := field(page, "settled"), task.SettledAt.UTC().Format("2006-01-02 15:04:05 UTC"); got != want {
		t.Errorf("task page settled %q, want %q", got, want)
	}
}

// TestIncompleteTaskPageIsNotDatedArchived: a task whose video expired
// shows when it settled, and no "archived" time.
func TestIncompleteTaskPageIsNotDatedArchived(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := day1
	task := catalog.Task{TaskID: "task_expired", Status: "SUCCESS", Model: "m", FinishTime: now.Unix()}
	if _, err := f.cat.Track(ctx, []string{task.TaskID}, now); err != nil {
		t.Fatal(err)
	}
	a := catalog.Asset{TaskID: task.TaskID, Kind: catalog.KindResult, SourceURL: "https://cdn.example/v.mp4", ExpiresAt: now}
	if err := f.cat.Finish(ctx, task, []catalog.Asset{a}, now); err != nil {
		t.Fatal(err)
	}
	if err := f.cat.AssetGone(ctx, a, catalog.AssetExpired, "url expired"); err != nil {
		t.Fatal(err)
	}
	settled := now.Add(time.Minute)
	if err := f.cat.SidecarWritten(ctx, task.TaskID, "2026/11/28/task_expired/task.json", settled); err != nil {
		t.Fatal(err)
	}
	resp, page := get(t, nil, f.serve(t, web.Options{}).URL+"/tasks/task_expired")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET task page: %s", resp.Status)
	}
	if got := field(page[strings.Index(page, "<h2>Task</h2>"):], "archived"); !strings.HasPrefix(got, "-") {
		t.Errorf("incomplete task page: archived %q, want -", got)
	}
	if got := field(page, "settled"); got != "2026-11-28 09:31:00 UTC" {
		t.Errorf("incomplete task page: settled %q, want 2026-11-28 09:31:00 UTC", got)
	}
}
