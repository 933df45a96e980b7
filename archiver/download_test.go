package archiver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// policyCase runs one task whose result_url is srcURL through the archiver
// with opts adjusted by tune, and returns the fixture for checks.
func policyCase(t *testing.T, srcURL string, tune func(*fixture)) *fixture {
	t.Helper()
	f := newFixture(t, fsStore(t))
	if tune != nil {
		tune(f)
	}
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: srcURL, duration: 5, resolution: "720p"})
	}
	if err := f.run("asyntask_policy"); err != nil {
		t.Fatalf("run: %v", err)
	}
	f.assertNothingFalse()
	return f
}

// counting serves video and counts the requests that reached it.
func counting(t *testing.T, h http.Handler, tls bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h.ServeHTTP(w, r) })
	srv := httptest.NewUnstartedServer(wrapped)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &n
}

func videoHandler(video []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveVideo(w, video) })
}

func redirectTo(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
}

// port returns ":port" of a test server.
func port(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return ":" + u.Port()
}

// TestRedirectToAnotherHost: the store answers with a redirect to a CDN. It
// is followed only when the CDN passes archive.allowed_hosts too.
func TestRedirectToAnotherHost(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	cdn, cdnHits := counting(t, videoHandler(video), false)
	store, _ := counting(t, redirectTo("http://edge.cdn.example.net"+port(cdn)+"/v.mp4"), false)
	dns := func(f *fixture) {
		f.setup = append(f.setup, func(a *archiver.Archiver) {
			archiver.ResolveForTest(a, map[string]string{"tos.example.com": "127.0.0.1", "edge.cdn.example.net": "127.0.0.1"})
		})
	}
	src := "http://tos.example.com" + port(store) + "/v.mp4?X-Tos-Signature=abc"

	t.Run("allowed", func(t *testing.T) {
		f := policyCase(t, src, func(f *fixture) {
			dns(f)
			f.opts.AllowedHosts = []string{"*.example.com", "*.cdn.example.net"}
		})
		f.assertArchived("asyntask_policy", catalog.KindResult, video)
	})
	t.Run("not allowed", func(t *testing.T) {
		before := cdnHits.Load()
		f := policyCase(t, src, func(f *fixture) {
			dns(f)
			f.opts.AllowedHosts = []string{"*.example.com"}
		})
		f.assertGone("asyntask_policy", catalog.KindResult, catalog.AssetError, `host "edge.cdn.example.net" is not in archive.allowed_hosts`)
		if n := cdnHits.Load() - before; n != 0 {
			t.Errorf("the refused host got %d requests, want none", n)
		}
	})
	t.Run("first URL not allowed", func(t *testing.T) {
		f := policyCase(t, src, func(f *fixture) { dns(f); f.opts.AllowedHosts = []string{"videos.example.org"} })
		f.assertGone("asyntask_policy", catalog.KindResult, catalog.AssetError, `host "tos.example.com" is not in`)
	})
}

// TestHTTPSPolicy: https is fetched; http only with AllowHTTP; an https
// URL never redirects down to http, even with AllowHTTP on.
func TestHTTPSPolicy(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	plain, plainHits := counting(t, videoHandler(video), false)
	secure, _ := counting(t, videoHandler(video), true)
	downgrade, _ := counting(t, redirectTo(plain.URL+"/v.mp4"), true)
	trust := func(srvs ...*httptest.Server) func(*fixture) {
		return func(f *fixture) {
			for _, s := range srvs {
				f.setup = append(f.setup, func(a *archiver.Archiver) { archiver.TrustTestServer(a, s) })
			}
		}
	}

	t.Run("https archives", func(t *testing.T) {
		f := policyCase(t, secure.URL+"/v.mp4", trust(secure))
		f.assertArchived("asyntask_policy", catalog.KindResult, video)
	})
	t.Run("redirect from https to http refused", func(t *testing.T) {
		before := plainHits.Load()
		f := policyCase(t, downgrade.URL+"/v.mp4", trust(downgrade))
		f.assertGone("asyntask_policy", catalog.KindResult, catalog.AssetError, "redirect from https to http")
		if n := plainHits.Load() - before; n != 0 {
			t.Errorf("the http origin got %d requests, want none", n)
		}
	})
	t.Run("http refused by default", func(t *testing.T) {
		f := policyCase(t, plain.URL+"/v.mp4", func(f *fixture) { f.opts.AllowHTTP = false })
		f.assertGone("asyntask_policy", catalog.KindResult, catalog.AssetError, `scheme "http" not allowed`)
	})
}

// TestPrivateAddressRefused: with AllowPrivateNetworks off, no download
// connects to loopback, whether the URL names the address or a DNS answer
// leads there (the check runs at dial time), and no request reaches it.
func TestPrivateAddressRefused(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	internal, hits := counting(t, videoHandler(video), false)
	tests := []struct {
		name, url string
	}{
		{"loopback IP in the URL", internal.URL + "/v.mp4"},
		{"public-looking name that resolves to loopback", "http://videos.example.com" + port(internal) + "/v.mp4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := policyCase(t, tt.url, func(f *fixture) {
				f.opts.AllowPrivateNetworks = false
				f.setup = append(f.setup, func(a *archiver.Archiver) {
					archiver.ResolveForTest(a, map[string]string{"videos.example.com": "127.0.0.1"})
				})
			})
			f.assertGone("asyntask_policy", catalog.KindResult, catalog.AssetError, "address 127.0.0.1 is loopback")
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server got %d requests, want none", n)
	}
}

// TestMediaCheck: the archived asset records what the MP4 says, and how it
// differs from the task record, without refusing the video.
func TestMediaCheck(t *testing.T) {
	tests := []struct {
		name      string
		video     []byte
		spec      taskSpec
		wantCheck string
	}{
		{"matches", simVideo(t, simulator.TaskOptions{Resolution: "1080p", Ratio: "9:16", Duration: 10}),
			taskSpec{duration: 10, resolution: "1080p"}, "ok"},
		{"shorter and smaller than the task says", simVideo(t, simulator.TaskOptions{Resolution: "480p", Duration: 4}),
			taskSpec{duration: 5, resolution: "720p"}, "duration 4.0s, task says 5s; height 480, task says 720p"},
		{"super-resolution result compared with super_resolution", simVideo(t, simulator.TaskOptions{Resolution: "1080p", Duration: 5}),
			taskSpec{duration: 5, resolution: "720p", superRes: "1080p"}, "ok"},
		{"nothing to compare with", simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5}),
			taskSpec{resolution: "adaptive"}, "ok"},
		{"not readable", append([]byte("\x00\x00\x00\x10ftypisom\x00\x00\x00\x00"), strings.Repeat("x", 1000)...),
			taskSpec{duration: 5, resolution: "720p"}, "unreadable: not a readable MP4: file ends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := counting(t, videoHandler(tt.video), false)
			f := newFixture(t, fsStore(t))
			f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
				s := tt.spec
				s.status, s.resultURL = "SUCCESS", src.URL+"/v.mp4"
				writeTask(w, id, s)
			}
			if err := f.run("asyntask_media"); err != nil {
				t.Fatal(err)
			}
			a := f.assertArchived("asyntask_media", catalog.KindResult, tt.video)
			if !strings.HasPrefix(a.MediaCheck, tt.wantCheck) {
				t.Errorf("media_check %q, want %q", a.MediaCheck, tt.wantCheck)
			}
			if tt.wantCheck != "ok" && f.countLogs("does not match its task record") != 1 {
				t.Errorf("want one warning about the mismatch in the log:\n%s", f.logs)
			}
			f.assertNothingFalse()
		})
	}
}

// TestMediaCheckAgainstSimulator: for the simulator's tasks, whose replies
// follow the gateway's (data.resolution is what Ark made, super_resolution
// what the user gets), every archived video checks out: the enhanced result
// against super_resolution, the original against resolution.
func TestMediaCheckAgainstSimulator(t *testing.T) {
	sim := simulator.New(simulator.Config{NotStartFor: -1, QueuedFor: -1, RunFor: -1, VideoBytes: 48 << 10, FailureRate: -1})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sr, plain := true, false
	ids := []string{
		sim.CreateTask(simulator.TaskOptions{SuperResolution: &sr, Resolution: "1080p", Duration: 10}),
		sim.CreateTask(simulator.TaskOptions{SuperResolution: &sr, Resolution: "720p", Ratio: "9:16"}),
		sim.CreateTask(simulator.TaskOptions{SuperResolution: &plain, Resolution: "480p", Duration: 8}),
	}
	f := newFixture(t, fsStore(t))
	f.gatewayURL, f.apiKey = srv.URL, "sim-key"
	if err := f.run(ids...); err != nil {
		t.Fatal(err)
	}
	var checked int
	for _, id := range ids {
		for _, a := range f.task(id).Assets {
			checked++
			if a.State != catalog.AssetArchived || a.MediaCheck != "ok" || a.MediaDuration == 0 || a.MediaHeight == 0 {
				t.Errorf("%s %s: state %q, media check %q (%dx%d, %.1fs); want archived and ok",
					id, a.Kind, a.State, a.MediaCheck, a.MediaWidth, a.MediaHeight, a.MediaDuration)
			}
		}
	}
	if checked != 5 {
		t.Errorf("%d videos archived, want 5 (two super-resolution tasks with two videos, one plain)", checked)
	}
	f.assertNothingFalse()
}
