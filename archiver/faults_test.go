package archiver_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
)

// origin serves video, except that request number i (from 0) is answered by
// faults[i] while there are faults left.
func origin(t *testing.T, video []byte, faults ...http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := n.Add(1) - 1; int(i) < len(faults) {
			faults[i](w, r)
			return
		}
		serveVideo(w, video)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func serveVideo(w http.ResponseWriter, video []byte) {
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Length", strconv.Itoa(len(video)))
	w.Write(video)
}

// raw answers on the bare connection: head, then body, then a close (or a
// TCP reset), so a test can send what net/http would refuse to.
func raw(w http.ResponseWriter, head string, body []byte, reset bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	buf.WriteString(head)
	buf.Write(body)
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		tc.SetLinger(0)
	}
	conn.Close()
}

func page(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(body))
	}
}

const (
	htmlPage    = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"
	expiredXML  = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`
	internalXML = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>`
)

// TestDownloadFaults archives one video through an origin that misbehaves
// once; each row asserts the video ends archived byte for byte after the
// attempts the fault costs, with nothing false in the store.
func TestDownloadFaults(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	head := "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: " + strconv.Itoa(len(video)) + "\r\n\r\n"
	truncated := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(video)))
		w.Write(video[:len(video)/2])
	}
	reset := func(w http.ResponseWriter, r *http.Request) { raw(w, head, video[:len(video)/3], true) }
	chunked := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for b := video; len(b) > 0; b = b[min(len(b), 8<<10):] {
			w.Write(b[:min(len(b), 8<<10)])
			http.NewResponseController(w).Flush()
		}
	}
	// slowBody sends the video in 10 pieces 50 ms apart: 500 ms in all,
	// longer than the 300 ms stall timeout, but never still for that long.
	slowBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(video)))
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		piece := len(video)/10 + 1
		for b := video; len(b) > 0; b = b[min(len(b), piece):] {
			w.Write(b[:min(len(b), piece)])
			http.NewResponseController(w).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}
	// stalled sends headers and a little, then nothing until the client
	// gives up.
	stalled := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(video)))
		w.Write(video[:4096])
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
	tests := []struct {
		name     string
		s3       bool
		stall    time.Duration
		faults   []http.HandlerFunc
		attempts int // attempts recorded on the archived asset
	}{
		{name: "truncated body", faults: []http.HandlerFunc{truncated}, attempts: 2},
		{name: "truncated body, s3", s3: true, faults: []http.HandlerFunc{truncated}, attempts: 2},
		{name: "connection reset mid-body", faults: []http.HandlerFunc{reset}, attempts: 2},
		{name: "connection reset mid-body, s3", s3: true, faults: []http.HandlerFunc{reset}, attempts: 2},
		{name: "connection closed before any reply", faults: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			raw(w, "", nil, true)
		}}, attempts: 2},
		{name: "body longer than Content-Length", faults: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			raw(w, head, append(append([]byte{}, video...), "EXTRA BYTES PAST THE DECLARED LENGTH"...), false)
		}}, attempts: 1},
		{name: "no Content-Length (chunked)", faults: []http.HandlerFunc{chunked}, attempts: 1},
		{name: "no Content-Length (chunked), s3", s3: true, faults: []http.HandlerFunc{chunked}, attempts: 1},
		{name: "no Content-Length, cut short", faults: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			raw(w, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n",
				[]byte(strconv.FormatInt(int64(len(video)/2), 16)+"\r\n"+string(video[:len(video)/2])+"\r\n"), false)
		}}, attempts: 2},
		{name: "200 with an HTML page", faults: []http.HandlerFunc{page("text/html; charset=utf-8", htmlPage)}, attempts: 2},
		{name: "200 with an XML page", faults: []http.HandlerFunc{page("application/xml", internalXML)}, attempts: 2},
		{name: "200 with an XML page labelled video/mp4", faults: []http.HandlerFunc{page("video/mp4", internalXML)}, attempts: 2},
		{name: "503 with an XML body", faults: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(internalXML))
		}}, attempts: 2},
		{name: "slow but moving body is not killed", stall: 300 * time.Millisecond, faults: []http.HandlerFunc{slowBody}, attempts: 1},
		{name: "stalled body is aborted and retried", stall: 300 * time.Millisecond, faults: []http.HandlerFunc{stalled}, attempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var store storage.Store
			if tt.s3 {
				store = s3Store(t)
			} else {
				store = fsStore(t)
			}
			f := newFixture(t, store)
			if tt.stall > 0 {
				f.opts.StallTimeout = tt.stall
			}
			src, requests := origin(t, video, tt.faults...)
			f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
				writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/tos/" + id + "/result.mp4?" + signedQuery(),
					duration: 5, resolution: "720p"})
			}
			if err := f.run("asyntask_fault"); err != nil {
				t.Fatalf("run: %v", err)
			}
			a := f.assertArchived("asyntask_fault", catalog.KindResult, video)
			if a.Attempts != tt.attempts || requests.Load() != int64(tt.attempts) {
				t.Errorf("archived after %d attempts and %d requests to the origin, want %d (last error %q)",
					a.Attempts, requests.Load(), tt.attempts, a.LastError)
			}
			if a.MediaCheck != "ok" || a.MediaWidth != 1280 || a.MediaHeight != 720 || a.MediaDuration != 5 {
				t.Errorf("media check %q (%dx%d, %.1fs), want ok for 1280x720 5s", a.MediaCheck, a.MediaWidth, a.MediaHeight, a.MediaDuration)
			}
			if got := f.task("asyntask_fault").ArchiveState; got != catalog.ArchiveArchived {
				t.Errorf("task archive_state %q, want archived", got)
			}
			f.assertNothingFalse()
			if f.countLogs("SIGNATURE-SECRET") > 0 || f.countLogs("CREDENTIAL-SECRET") > 0 {
				t.Errorf("the log shows the URL's signature:\n%s", f.logs)
			}
		})
	}
}

// signedQuery stands for a signed URL's query, signed now for a day: its
// secret values must never reach a log or the catalog.
func signedQuery() string {
	return "X-Tos-Credential=CREDENTIAL-SECRET&X-Tos-Date=" + time.Now().UTC().Format("20060102T150405Z") +
		"&X-Tos-Expires=86400&X-Tos-Signature=SIGNATURE-SECRET"
}

// TestURLExpiresMidRun: the origin refuses the signed URL with the stores'
// 403 XML. The archiver asks the gateway once for a fresh URL: with one it
// archives; without one the video ends expired, with the origin's reason.
func TestURLExpiresMidRun(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src := refusingOrigin(t, video)
	for _, fresh := range []bool{true, false} {
		t.Run("fresh URL "+strconv.FormatBool(fresh), func(t *testing.T) {
			f := newFixture(t, fsStore(t))
			f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
				u := src.URL + "/stale/" + id + ".mp4"
				if fresh && n > 0 {
					u = src.URL + "/fresh/" + id + ".mp4"
				}
				writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: u, duration: 5, resolution: "720p"})
			}
			const id = "asyntask_expiring"
			if err := f.run(id); err != nil {
				t.Fatalf("run: %v", err)
			}
			if polls := len(f.pollTimes(id)); polls != 2 {
				t.Errorf("gateway polled %d times, want 2 (the first poll and one for a fresh URL)", polls)
			}
			if fresh {
				f.assertArchived(id, catalog.KindResult, video)
			} else {
				f.assertGone(id, catalog.KindResult, catalog.AssetExpired, "Request has expired")
				if got := f.task(id).ArchiveState; got != catalog.ArchiveIncomplete {
					t.Errorf("task archive_state %q, want incomplete", got)
				}
				if lost, _ := f.cat.LostAssets(t.Context()); lost != 1 {
					t.Errorf("%d lost assets, want 1 (what makes `run --once` exit non-zero)", lost)
				}
			}
			f.assertNothingFalse()
		})
	}
}

// While the gateway cannot answer the re-poll, a refused video is not given
// up: it waits for the fresh URL.
func TestRefusedURLWaitsForTheRepoll(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src := refusingOrigin(t, video)
	f := newFixture(t, fsStore(t))
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case n == 0:
			writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/stale/" + id + ".mp4", duration: 5, resolution: "720p"})
		case n < 8: // the gateway is down for the re-poll, for a while
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/fresh/" + id + ".mp4", duration: 5, resolution: "720p"})
		}
	}
	// The refused video is tried again long before the gateway is back.
	f.opts.RefreshWait = 5 * time.Millisecond
	const id = "asyntask_repoll_down"
	if err := f.run(id); err != nil {
		t.Fatalf("run: %v", err)
	}
	f.assertArchived(id, catalog.KindResult, video)
	f.assertNothingFalse()
}

// refusingOrigin serves video under /fresh/ and answers every other path
// with the 403 XML of an expired signed URL.
func refusingOrigin(t *testing.T, video []byte) *httptest.Server {
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fresh/") {
			serveVideo(w, video)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(expiredXML))
	}))
	t.Cleanup(src.Close)
	return src
}
