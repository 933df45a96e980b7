package archiver_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	rvfs "github.com/reelvault/reelvault/storage/fs"
)

// signedFor is a signed URL's query, signed now for life.
func signedFor(life time.Duration) string {
	return "X-Tos-Date=" + time.Now().UTC().Format("20060102T150405Z") +
		"&X-Tos-Expires=" + strconv.Itoa(int(life.Seconds())) + "&X-Tos-Signature=SIGNATURE-SECRET"
}

// serveTasks answers every poll with SUCCESS and the URL urls names for the
// task.
func serveTasks(f *fixture, urls map[string]string) {
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: urls[id], duration: 5, resolution: "720p"})
	}
}

// TestMaxVideoBytes: a video over archive.max_video_bytes is refused for
// good with the reason, on its Content-Length before its body is read, or
// as soon as a body without one grows past the cap; nothing of it is left
// in storage, and the other video of the run is archived.
func TestMaxVideoBytes(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	const limit = 1 << 20
	declared := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(2*limit))
		w.Write(video[:8])
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // the rest never comes: only a refusal ends this
	}
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(video)
		chunk := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	for _, tt := range []struct {
		name   string
		s3     bool
		big    http.HandlerFunc
		reason string
	}{
		{"Content-Length over the cap", false, declared, "Content-Length 2097152"},
		{"endless body without Content-Length", false, endless, "sent without a Content-Length"},
		{"endless body without Content-Length, s3", true, endless, "sent without a Content-Length"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			var store storage.Store
			if tt.s3 {
				store = s3Store(t)
			} else {
				var err error
				if store, err = rvfs.New(root); err != nil {
					t.Fatal(err)
				}
			}
			f := newFixture(t, store)
			f.opts.MaxVideoBytes = limit
			big := httptest.NewServer(tt.big)
			t.Cleanup(big.Close)
			good, _ := origin(t, video)
			serveTasks(f, map[string]string{
				"asyntask_big":  big.URL + "/big.mp4?" + signedFor(time.Hour), // earliest expiry: tried first
				"asyntask_good": good.URL + "/good.mp4?" + signedFor(24*time.Hour),
			})
			if err := f.run("asyntask_big", "asyntask_good"); err != nil {
				t.Fatalf("run: %v", err)
			}
			f.assertGone("asyntask_big", catalog.KindResult, catalog.AssetError,
				"video larger than archive.max_video_bytes (1048576 bytes)")
			f.assertGone("asyntask_big", catalog.KindResult, catalog.AssetError, tt.reason)
			if a := f.asset("asyntask_big", catalog.KindResult); a.Attempts != 1 {
				t.Errorf("refused after %d attempts, want 1: the cap is no reason to try again", a.Attempts)
			}
			f.assertArchived("asyntask_good", catalog.KindResult, video)
			f.assertNothingFalse()
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.Contains(p, "asyntask_big") && !strings.HasSuffix(p, "task.json") &&
					!strings.HasSuffix(p, ".reelvault-meta.json") {
					t.Errorf("%s left in storage", p)
				}
				return nil
			})
		})
	}
}

// dribble sends the headers and the first bytes of video, then one byte
// every 5 ms: never still for the stall timeout, but far too slow.
func dribble(video []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(video)))
		w.Write(video[:64])
		http.NewResponseController(w).Flush()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for _, b := range video[64:] {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
			w.Write([]byte{b})
			http.NewResponseController(w).Flush()
		}
	}
}

// TestDribblingOriginFreesItsSlot: an origin that sends a byte every 5 ms
// never trips the stall timeout, but its average rate is under
// archive.min_bytes_per_second: the transfer is aborted with that reason
// and retried later, and with a single transfer slot the other video is
// archived meanwhile.
func TestDribblingOriginFreesItsSlot(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	f := newFixture(t, fsStore(t))
	f.opts.Concurrency = 1
	f.opts.MinBytesPerSecond = 64 << 10
	f.opts.RateWindow = 100 * time.Millisecond
	slow := httptest.NewServer(dribble(video))
	t.Cleanup(slow.Close)
	good, _ := origin(t, video)
	serveTasks(f, map[string]string{
		"asyntask_slow": slow.URL + "/slow.mp4?" + signedFor(time.Hour), // earliest expiry: takes the slot first
		"asyntask_good": good.URL + "/good.mp4?" + signedFor(24*time.Hour),
	})
	stop := f.daemon(f.archiver("asyntask_slow", "asyntask_good"))
	f.waitFor("the good video archived and the slow one retried", func() bool {
		return f.archivedNow("asyntask_good") && f.resultNow("asyntask_slow").Attempts >= 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	a := f.asset("asyntask_slow", catalog.KindResult)
	if a.State != catalog.AssetPending || !strings.Contains(a.LastError, "transfer too slow") ||
		!strings.Contains(a.LastError, "archive.min_bytes_per_second") {
		t.Errorf("slow video: state %q, last error %q; want pending, to retry, with why it was aborted", a.State, a.LastError)
	}
	f.assertArchived("asyntask_good", catalog.KindResult, video)
	f.assertNothingFalse()
}

// TestTransferEndsAtItsURLExpiry: with the minimum rate off, a dribbling
// transfer still ends when its URL expires (plus the grace): the video is
// then lost as expired, saying why, and the run goes on to the next video.
func TestTransferEndsAtItsURLExpiry(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	f := newFixture(t, fsStore(t))
	f.opts.Concurrency = 1
	f.opts.MinBytesPerSecond = -1
	f.opts.ExpiryGrace = 50 * time.Millisecond
	slow := httptest.NewServer(dribble(video))
	t.Cleanup(slow.Close)
	good, _ := origin(t, video)
	serveTasks(f, map[string]string{
		"asyntask_slow": slow.URL + "/slow.mp4?" + signedFor(time.Second),
		"asyntask_good": good.URL + "/good.mp4?" + signedFor(24*time.Hour),
	})
	if err := f.run("asyntask_slow", "asyntask_good"); err != nil {
		t.Fatalf("run: %v", err)
	}
	f.assertGone("asyntask_slow", catalog.KindResult, catalog.AssetExpired, "transfer ran past its URL's expiry")
	f.assertArchived("asyntask_good", catalog.KindResult, video)
	f.assertNothingFalse()
}
