package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/retry"
)

const (
	testKey = "sk-TESTKEY-0123456789abcdef"
	testID  = "asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E"
)

// newTestClient serves h on loopback and returns a client for it whose clock
// reads now.
func newTestClient(t *testing.T, h http.HandlerFunc, now time.Time) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, testKey, srv.Client())
	c.now = func() time.Time { return now }
	return c
}

// respond writes a canned response.
func respond(status int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func envelope(id, status string) string {
	return fmt.Sprintf(`{"code":"success","message":"","data":{"task_id":%q,"status":%q,"finish_time":1777288800}}`, id, status)
}

func TestClientTaskOK(t *testing.T) {
	body := strings.ReplaceAll(string(readTestdata(t, "success_normal.json")), "\n", "\r\n")
	var gotAuth, gotPath, gotAccept string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotAccept = r.Header.Get("Authorization"), r.URL.EscapedPath(), r.Header.Get("Accept")
		respond(200, "application/json", body)(w, r)
	}, time.Now())

	task, raw, err := c.Task(t.Context(), testID)
	if err != nil {
		t.Fatalf("Task: %v", err)
	}
	if task.TaskID != testID || task.Status != StatusSuccess || task.FinishTime != 1777288800 {
		t.Errorf("task = %+v", task)
	}
	if string(raw) != body {
		t.Errorf("raw body not returned verbatim")
	}
	if want := "Bearer " + testKey; gotAuth != want {
		t.Errorf("Authorization = %q, want %q", gotAuth, want)
	}
	if want := "/v1/video/generations/" + testID; gotPath != want {
		t.Errorf("path = %q, want %q", gotPath, want)
	}
	if gotAccept != "application/json" {
		t.Errorf("Accept = %q", gotAccept)
	}
}

func TestClientPathPrefixAndEscaping(t *testing.T) {
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.EscapedPath()
		respond(200, "application/json", envelope("a/b?c", "QUEUED"))(w, r)
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL+"/prefix/", " "+testKey+"\n", srv.Client())
	task, _, err := c.Task(t.Context(), "a/b?c")
	if err != nil {
		t.Fatalf("Task: %v", err)
	}
	if want := "/prefix/v1/video/generations/a%2Fb%3Fc"; gotPath != want {
		t.Errorf("path = %q, want %q", gotPath, want)
	}
	if task.Status != StatusQueued {
		t.Errorf("status = %q", task.Status)
	}
}

func TestClientTaskErrors(t *testing.T) {
	now := time.Date(2026, 4, 27, 11, 15, 5, 0, time.UTC)
	echoKey := func(status int, contentType, format string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			respond(status, contentType, fmt.Sprintf(format, r.Header.Get("Authorization")))(w, r)
		}
	}
	tests := []struct {
		name      string
		h         http.HandlerFunc
		is        []error // errors.Is must hold for each
		isNot     []error // and fail for each
		permanent bool
		after     time.Duration // 0: no Retry-After expected
	}{
		{
			name:      "401 new-api error echoing the key",
			h:         echoKey(401, "application/json", `{"error":{"message":"invalid token: %s","type":"new_api_error"}}`),
			is:        []error{ErrKeyRejected},
			isNot:     []error{ErrTaskNotFound, ErrBadReply},
			permanent: true,
		},
		{
			name:      "403 HTML page echoing the key",
			h:         echoKey(403, "text/html", `<html>%s forbidden</html>`),
			is:        []error{ErrKeyRejected},
			permanent: true,
		},
		{
			name:  "404 task_not_exist",
			h:     respond(404, "application/json", `{"code":"task_not_exist","message":"task_not_exist","data":null}`),
			is:    []error{ErrTaskNotFound},
			isNot: []error{ErrKeyRejected, ErrBadReply},
		},
		{
			name:  "404 empty body",
			h:     respond(404, "", ""),
			is:    []error{ErrTaskNotFound},
			isNot: []error{ErrBadReply},
		},
		{
			name:  "404 from a route (new-api Invalid URL)",
			h:     respond(404, "application/json", `{"error":{"message":"Invalid URL (GET /v1/v1/video/generations/x)","type":"invalid_request_error"}}`),
			is:    []error{ErrBadReply},
			isNot: []error{ErrTaskNotFound},
		},
		{
			name:  "404 HTML page",
			h:     respond(404, "text/html", `<html><body>nginx</body></html>`),
			is:    []error{ErrBadReply},
			isNot: []error{ErrTaskNotFound},
		},
		{
			name:  "400 task_not_exist",
			h:     respond(400, "application/json", `{"code":"task_not_exist","message":"task_not_exist","data":null}`),
			is:    []error{ErrTaskNotFound},
			isNot: []error{ErrKeyRejected, ErrBadReply},
		},
		{
			name: "200 task_not_exist",
			h:    respond(200, "application/json", `{"code":"task_not_exist","message":"task_not_exist"}`),
			is:   []error{ErrTaskNotFound},
		},
		{
			name:  "429 Retry-After seconds",
			h:     respond(429, "", "", "Retry-After", "7"),
			isNot: []error{ErrBadReply, ErrTaskNotFound},
			after: 7 * time.Second,
		},
		{
			name:  "429 Retry-After HTTP-date",
			h:     respond(429, "text/plain", "slow down", "Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat)),
			after: 2 * time.Minute,
		},
		{
			name:  "429 Retry-After absurd",
			h:     respond(429, "", "", "Retry-After", "99999999999999999999999"),
			after: maxRetryAfter,
		},
		{
			name: "429 Retry-After garbage",
			h:    respond(429, "", "", "Retry-After", "soon"),
		},
		{
			name:  "503",
			h:     respond(503, "text/html", "<html>Service Unavailable</html>"),
			isNot: []error{ErrBadReply, ErrTaskNotFound, ErrKeyRejected},
		},
		{
			name:  "500 gateway error code",
			h:     respond(500, "application/json", `{"code":"fail_to_fetch_task","message":"upstream timeout"}`),
			isNot: []error{ErrTaskNotFound},
		},
		{
			name: "200 HTML echoing the key",
			h:    echoKey(200, "text/html; charset=utf-8", "<!DOCTYPE html>\n<title>Just a moment...</title>%s"),
			is:   []error{ErrBadReply},
		},
		{
			name: "200 truncated JSON",
			h:    respond(200, "application/json", `{"code":"success","message":"","data":{"task_id":"asyntask_h81`),
			is:   []error{ErrBadReply},
		},
		{
			name: "200 empty body",
			h:    respond(200, "application/json", ""),
			is:   []error{ErrBadReply},
		},
		{
			name: "200 JSON array",
			h:    respond(200, "application/json", "[]"),
			is:   []error{ErrBadReply},
		},
		{
			name: "200 another task",
			h:    respond(200, "application/json", envelope("asyntask_other", "SUCCESS")),
			is:   []error{ErrBadReply},
		},
		{
			name: "200 body over 4 MiB",
			h: func(w http.ResponseWriter, r *http.Request) {
				pad := strings.Repeat(" ", maxReplyBytes)
				respond(200, "application/json", envelope(testID, "SUCCESS")+pad)(w, r)
			},
			is: []error{ErrBadReply},
		},
		{
			name:  "200 gateway error code",
			h:     respond(200, "application/json", `{"code":"get_channel_failed","message":"no channel"}`),
			isNot: []error{ErrBadReply, ErrTaskNotFound},
		},
		{
			name: "connection reset",
			h: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				conn.Close()
			},
			isNot: []error{ErrBadReply, ErrTaskNotFound, ErrKeyRejected, context.Canceled},
		},
		{
			name: "body cut short",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				fmt.Fprint(w, `{"code":"success"`)
			},
			isNot: []error{ErrTaskNotFound, ErrKeyRejected},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.h, now)
			task, _, err := c.Task(t.Context(), testID)
			if err == nil {
				t.Fatalf("Task = %+v, want an error", task)
			}
			if task != nil {
				t.Errorf("task = %+v with error %v", task, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "poll task "+testID+": ") {
				t.Errorf("error %q does not name the task", msg)
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, testKey[:12]) {
				t.Errorf("error leaks the API key: %q", msg)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%q, %v) = false", msg, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%q, %v) = true", msg, target)
				}
			}
			if got := retry.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%q) = %v, want %v", msg, got, tt.permanent)
			}
			after, ok := retry.AfterOf(err)
			if ok != (tt.after != 0) || after != tt.after {
				t.Errorf("AfterOf = %v, %v; want %v", after, ok, tt.after)
			}
			t.Logf("%s", msg)
		})
	}
}

func TestClientContextCancel(t *testing.T) {
	arrived := make(chan struct{})
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // hold the reply until the client gives up
	}, time.Now())

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, _, err := c.Task(ctx, testID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if retry.ShouldRetry(ctx, err) {
		t.Errorf("ShouldRetry = true for a cancelled poll")
	}
	if !strings.Contains(err.Error(), testID) {
		t.Errorf("error %q does not name the task", err)
	}
}

func TestClientConfigErrors(t *testing.T) {
	tests := []struct {
		name, base, id string
	}{
		{"base not http", "ftp://example.com", testID},
		{"base without host", "https://", testID},
		{"base with query", "https://example.com/?x=1", testID},
		{"base unparseable", "https://exa mple.com:port", testID},
		{"empty id", "https://example.com", ""},
		{"dot-dot id", "https://example.com", ".."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(tt.base, testKey, nil)
			_, _, err := c.Task(t.Context(), tt.id)
			if err == nil || !retry.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), testKey) {
				t.Errorf("key leaked")
			}
		})
	}
}

func TestClientTimeoutIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answer; the client's own timeout ends the request
	}))
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = 20 * time.Millisecond
	c := NewClient(srv.URL, testKey, hc)

	_, _, err := c.Task(t.Context(), testID)
	if err == nil {
		t.Fatal("Task succeeded against a server that never answers")
	}
	if !retry.ShouldRetry(t.Context(), err) || errors.Is(err, context.Canceled) {
		t.Errorf("err = %v: want a transient error", err)
	}
}

func TestClientFillsMissingTaskID(t *testing.T) {
	c := newTestClient(t, respond(200, "application/json", `{"code":"success","data":{"status":"QUEUED"}}`), time.Now())
	task, _, err := c.Task(t.Context(), testID)
	if err != nil {
		t.Fatalf("Task: %v", err)
	}
	if task.TaskID != testID {
		t.Errorf("TaskID = %q, want %q", task.TaskID, testID)
	}
}
