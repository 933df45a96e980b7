package archiver_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// pollCase is a gateway that misbehaves for the first replies of a task and
// then reports it done, with its video on a well-behaved origin.
type pollCase struct {
	f     *fixture
	video []byte
	src   string // the video's URL
}

func newPollCase(t *testing.T) *pollCase {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := counting(t, videoHandler(video), false)
	return &pollCase{f: newFixture(t, fsStore(t)), video: video, src: src.URL + "/v.mp4"}
}

func (c *pollCase) success(w http.ResponseWriter, id string) {
	writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: c.src, duration: 5, resolution: "720p"})
}

// script answers the first len(faults) polls of every task with the faults,
// then with success.
func (c *pollCase) script(faults ...http.HandlerFunc) {
	c.f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		if n < len(faults) {
			faults[n](w, r)
			return
		}
		c.success(w, id)
	}
}

func status(code int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

// truncatedTask is the real reply cut in half, with a matching length.
func truncatedTask(src string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		writeTask(rec, "asyntask_poll", taskSpec{status: "SUCCESS", resultURL: src, duration: 5, resolution: "720p"})
		half := rec.Body.Bytes()[:rec.Body.Len()/2]
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(half)))
		w.Write(half)
	}
}

// TestPollFaults: every kind of bad gateway reply is retried, and the task
// still ends archived once the gateway answers properly.
func TestPollFaults(t *testing.T) {
	jsonErr := `{"error":{"message":"upstream error: do request failed","type":"new_api_error"}}`
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	tests := []struct {
		name   string
		faults func(c *pollCase) []http.HandlerFunc
	}{
		{"5xx burst", func(*pollCase) []http.HandlerFunc {
			return []http.HandlerFunc{status(500, "application/json", jsonErr), status(502, "text/plain", "502 Bad Gateway"),
				status(503, "text/html", "<html>503</html>"), status(504, "", "")}
		}},
		{"429 without Retry-After", func(*pollCase) []http.HandlerFunc {
			return []http.HandlerFunc{status(429, "text/plain", ""), status(429, "application/json", jsonErr)}
		}},
		{"timeouts", func(*pollCase) []http.HandlerFunc { return []http.HandlerFunc{hang, hang} }},
		{"200 with an HTML page", func(*pollCase) []http.HandlerFunc {
			return []http.HandlerFunc{status(200, "text/html; charset=utf-8", htmlPage)}
		}},
		{"200 with truncated JSON", func(c *pollCase) []http.HandlerFunc { return []http.HandlerFunc{truncatedTask(c.src)} }},
		{"200 with no status", func(*pollCase) []http.HandlerFunc {
			return []http.HandlerFunc{status(200, "application/json", `{"code":"success","data":{"task_id":"asyntask_poll"}}`)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newPollCase(t)
			c.f.clientTimeout = 200 * time.Millisecond
			faults := tt.faults(c)
			c.script(faults...)
			if err := c.f.run("asyntask_poll"); err != nil {
				t.Fatalf("run: %v", err)
			}
			if n := len(c.f.pollTimes("asyntask_poll")); n != len(faults)+1 {
				t.Errorf("gateway polled %d times, want %d (each fault, then success)", n, len(faults)+1)
			}
			task := c.f.task("asyntask_poll")
			if task.Status != "SUCCESS" || task.LastError != "" || task.ArchiveState != catalog.ArchiveArchived {
				t.Errorf("task status %q, archive_state %q, last_error %q; want SUCCESS, archived, no error",
					task.Status, task.ArchiveState, task.LastError)
			}
			c.f.assertArchived("asyntask_poll", catalog.KindResult, c.video)
			c.f.assertNothingFalse()
		})
	}
}

// TestPoll429RetryAfter: after a 429 with Retry-After the gateway hears
// nothing for at least that long; an hour-long Retry-After is capped at the
// backoff maximum (the run, bounded at 30 s by the fixture, finishes).
func TestPoll429RetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		max        time.Duration
		wantGap    time.Duration
	}{
		{"honoured", "1", 5 * time.Second, time.Second},
		{"capped", "3600", 300 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newPollCase(t)
			c.f.opts.PollBackoff.Max = tt.max
			var sent atomic.Int64 // when the 429 was written, unix nanoseconds
			c.script(func(w http.ResponseWriter, r *http.Request) {
				status(429, "application/json", `{"error":{"message":"rate limit exceeded"}}`, "Retry-After", tt.retryAfter)(w, r)
				sent.Store(time.Now().UnixNano())
			})
			if err := c.f.run("asyntask_poll"); err != nil {
				t.Fatalf("run: %v", err)
			}
			polls := c.f.pollTimes("asyntask_poll")
			if len(polls) != 2 {
				t.Fatalf("gateway polled %d times, want 2", len(polls))
			}
			if gap := polls[1].Sub(time.Unix(0, sent.Load())); gap < tt.wantGap {
				t.Errorf("next request %v after the 429, want at least %v", gap, tt.wantGap)
			}
			c.f.assertArchived("asyntask_poll", catalog.KindResult, c.video)
			c.f.assertNothingFalse()
		})
	}
}

// TestPollUnknownStatus: a status word the gateway never documented keeps
// the task polling, with one warning per task however many polls it takes.
func TestPollUnknownStatus(t *testing.T) {
	c := newPollCase(t)
	c.f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case n < 4 && id == "asyntask_a":
			writeTask(w, id, taskSpec{status: "WAITING_FOR_GPU"})
		case n < 3 && id == "asyntask_b":
			writeTask(w, id, taskSpec{status: []string{"unknown", "UNKNOWN", "IN_PROGRESS"}[n]})
		case n < 2 && id == "asyntask_c":
			writeTask(w, id, taskSpec{status: "IN_PROGRESS"})
		default:
			c.success(w, id)
		}
	}
	if err := c.f.run("asyntask_a", "asyntask_b", "asyntask_c"); err != nil {
		t.Fatalf("run: %v", err)
	}
	for id, want := range map[string]int{"asyntask_a": 1, "asyntask_b": 1, "asyntask_c": 0} {
		if n := c.f.countLogs("unknown task status", "task_id="+id); n != want {
			t.Errorf("%s: %d warnings about an unknown status, want %d", id, n, want)
		}
		c.f.assertArchived(id, catalog.KindResult, c.video)
	}
	if n := len(c.f.pollTimes("asyntask_a")); n != 5 {
		t.Errorf("asyntask_a polled %d times, want 5 (polling went on through the unknown status)", n)
	}
	c.f.assertNothingFalse()
}

// TestPollNullFields: a gateway that sends nulls or leaves fields out still
// gets its video archived.
func TestPollNullFields(t *testing.T) {
	c := newPollCase(t)
	c.f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		body := `{"code":"success","message":null,"data":{"task_id":null,"status":"IN_PROGRESS","progress":null,` +
			`"submit_time":null,"fail_reason":null,"data":null}}`
		if n > 0 {
			body = `{"code":"success","data":{"status":"SUCCESS","result_url":"` + c.src + `","finish_time":null,` +
				`"fail_reason":null,"data":{"duration":null,"resolution":null,"usage":null,"content":null}}}`
		}
		status(200, "application/json", body)(w, r)
	}
	if err := c.f.run("asyntask_nulls"); err != nil {
		t.Fatalf("run: %v", err)
	}
	task := c.f.task("asyntask_nulls")
	if task.Status != "SUCCESS" || task.FailReason != "" {
		t.Errorf("status %q, fail_reason %q; want SUCCESS and no failure", task.Status, task.FailReason)
	}
	a := c.f.assertArchived("asyntask_nulls", catalog.KindResult, c.video)
	if a.MediaCheck != "ok" || a.MediaHeight != 720 {
		t.Errorf("media check %q, height %d; want ok (nothing to compare) and the file's 720", a.MediaCheck, a.MediaHeight)
	}
	c.f.assertNothingFalse()
}

// TestKeyRejectedMidRun: the gateway starts refusing the key after the
// first polls. A --once run archives what it already knew, stops polling,
// says so with ErrKeyRejected, and marks no task lost.
func TestKeyRejectedMidRun(t *testing.T) {
	c := newPollCase(t)
	var requests atomic.Int64
	c.f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case requests.Add(1) > 2:
			status(401, "application/json", `{"error":{"message":"invalid token","type":"new_api_error"}}`)(w, r)
		case id == "asyntask_done":
			c.success(w, id)
		default:
			writeTask(w, id, taskSpec{status: "IN_PROGRESS"})
		}
	}
	err := c.f.run("asyntask_done", "asyntask_running")
	if !errors.Is(err, archiver.ErrKeyRejected) {
		t.Fatalf("run --once returned %v, want ErrKeyRejected", err)
	}
	c.f.assertArchived("asyntask_done", catalog.KindResult, c.video)
	running := c.f.task("asyntask_running")
	if running.Status != "IN_PROGRESS" {
		t.Errorf("running task has status %q, want IN_PROGRESS (not marked lost)", running.Status)
	}
	if live, _, _ := c.f.cat.Outstanding(t.Context()); live != 1 {
		t.Errorf("%d live tasks, want 1: the running task stays tracked for the next run", live)
	}
	if n := c.f.countLogs("rejected the API key"); n != 1 {
		t.Errorf("%d log lines about the rejected key, want 1:\n%s", n, c.f.logs)
	}
	if bytes.Contains([]byte(c.f.logs.String()), []byte("test-key")) {
		t.Errorf("the log shows the API key")
	}
	c.f.assertNothingFalse()
}
