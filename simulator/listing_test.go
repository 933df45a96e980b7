package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// listTasks GETs /api/task/self with the given headers and decodes the reply.
func listTasks(tb testing.TB, ts *httptest.Server, query string, headers map[string]string) (int, listingReplyForTest) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, ts.URL+"/api/task/self?"+query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out listingReplyForTest
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatalf("decode listing: %v", err)
	}
	return resp.StatusCode, out
}

type listingReplyForTest struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    struct {
		Page     int `json:"page"`
		PageSize int `json:"page_size"`
		Total    int `json:"total"`
		Items    []struct {
			TaskID     string `json:"task_id"`
			Platform   string `json:"platform"`
			Status     string `json:"status"`
			SubmitTime int64  `json:"submit_time"`
			ResultURL  string `json:"result_url"`
		} `json:"items"`
	} `json:"data"`
}

var dashboard = map[string]string{"Authorization": "Bearer " + defaultAccessToken, "New-Api-User": "1"}

func TestTaskListingNewestFirstWithinWindow(t *testing.T) {
	clock := newFakeClock()
	srv, ts := mustStartSimulator(t, testConfig(clock))
	var ids []string
	for range 5 {
		ids = append(ids, srv.CreateTask(TaskOptions{Fail: ptr(false)}))
		clock.Advance(time.Minute)
	}
	t1 := clock.Now().Add(-4 * time.Minute).Unix() // submit time of ids[1]
	t3 := t1 + 2*60                                // submit time of ids[3]

	status, reply := listTasks(t, ts, "p=1&page_size=100&start_timestamp="+strconv.FormatInt(t1, 10)+
		"&end_timestamp="+strconv.FormatInt(t3, 10), dashboard)
	if status != http.StatusOK || !reply.Success {
		t.Fatalf("listing: HTTP %d success %v (%s)", status, reply.Success, reply.Message)
	}
	var got []string
	for _, it := range reply.Data.Items {
		got = append(got, it.TaskID)
		if it.Platform != videoPlatform || it.Status != statusSuccess || it.ResultURL == "" {
			t.Errorf("item %s: platform %q status %q result_url %q", it.TaskID, it.Platform, it.Status, it.ResultURL)
		}
	}
	want := []string{ids[3], ids[2], ids[1]}
	if reply.Data.Total != 3 || len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("window [%d,%d]: total %d, items %v; want newest first %v", t1, t3, reply.Data.Total, got, want)
	}
}

func TestTaskListingPagesShiftWhenTasksAreCreated(t *testing.T) {
	clock := newFakeClock()
	srv, ts := mustStartSimulator(t, testConfig(clock))
	for range 3 {
		srv.CreateTask(TaskOptions{})
	}
	_, first := listTasks(t, ts, "p=1&page_size=2", dashboard)
	srv.CreateTask(TaskOptions{}) // a new task pushes every row one place down
	_, second := listTasks(t, ts, "p=2&page_size=2", dashboard)
	if len(first.Data.Items) != 2 || len(second.Data.Items) != 2 {
		t.Fatalf("pages of 2: got %d and %d items", len(first.Data.Items), len(second.Data.Items))
	}
	if second.Data.Items[0].TaskID != first.Data.Items[1].TaskID {
		t.Fatalf("page 2 starts with %s; the shift should repeat page 1's last row %s",
			second.Data.Items[0].TaskID, first.Data.Items[1].TaskID)
	}
	_, capped := listTasks(t, ts, "p=1&page_size=1000", dashboard)
	if capped.Data.PageSize != maxListPageSize {
		t.Fatalf("page_size 1000 answered as %d; the gateway caps it at %d", capped.Data.PageSize, maxListPageSize)
	}
}

func TestTaskListingAuthQuirks(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	_, ts := mustStartSimulator(t, cfg)
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		success bool
	}{
		{"token with Bearer", dashboard, http.StatusOK, true},
		{"bare token (old clients)", map[string]string{"Authorization": defaultAccessToken, "New-Api-User": "1"}, http.StatusOK, true},
		{"the API key is not an access token", map[string]string{"Authorization": "Bearer " + defaultAPIKey, "New-Api-User": "1"}, http.StatusOK, false},
		{"no token", map[string]string{"New-Api-User": "1"}, http.StatusUnauthorized, false},
		{"no user id", map[string]string{"Authorization": "Bearer " + defaultAccessToken}, http.StatusUnauthorized, false},
		{"another user's id", map[string]string{"Authorization": "Bearer " + defaultAccessToken, "New-Api-User": "2"}, http.StatusUnauthorized, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, reply := listTasks(t, ts, "p=1", tc.headers)
			if status != tc.status || reply.Success != tc.success {
				t.Fatalf("HTTP %d success %v (%q); want HTTP %d success %v", status, reply.Success, reply.Message, tc.status, tc.success)
			}
			if !reply.Success && reply.Message == "" {
				t.Fatal("a refusal carries no message")
			}
		})
	}
}

func TestTaskListingMissingEndpoint(t *testing.T) {
	cfg := testConfig(newFakeClock())
	cfg.NoTaskListing = true
	_, ts := mustStartSimulator(t, cfg)
	resp := get(t, ts, ts.URL+"/api/task/self?p=1", "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("NoTaskListing: HTTP %d %q; want a 404 HTML page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
