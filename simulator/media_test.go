package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// download fetches url and returns the response with its whole body.
func download(tb testing.TB, url string, header map[string]string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

func TestMediaDownloadAndExpiry(t *testing.T) {
	tests := []struct {
		name  string
		sr    bool
		kind  string
		width uint32
	}{
		{"normal result on TOS", false, kindResult, 1280},
		{"super-resolution result on VOD", true, kindResult, 1280},
		{"super-resolution original on TOS", true, kindOriginal, 854},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(tt.sr), Duration: 6})
			clock.Advance(finishedLater)
			result, original := successURLs(t, ts, id)
			url := result
			if tt.kind == kindOriginal {
				url = original
			}
			_, videos, _ := sim.Expected(id)
			var want Video
			for _, v := range videos {
				if v.Kind == tt.kind {
					want = v
				}
			}

			// Fresh, and one second before expiry: the video.
			for _, wait := range []time.Duration{0, defaultURLTTL - time.Second} {
				clock.Advance(wait)
				resp, body := download(t, url, nil)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" ||
					resp.ContentLength != want.Size || int64(len(body)) != want.Size {
					t.Fatalf("HTTP %d %q length %d/%d, want 200 video/mp4 %d",
						resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, len(body), want.Size)
				}
				if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != want.SHA256 {
					t.Fatalf("sha256 of the download differs from Expected()")
				}
				if f := parseMP4(t, body); f.duration != 6000 || f.width != tt.width {
					t.Errorf("mp4 duration %d width %d, want 6000 and %d", f.duration, f.width, tt.width)
				}
			}

			// At expiry: the store's XML refusal.
			clock.Advance(time.Second)
			resp, body := download(t, url, nil)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/xml" ||
				!strings.Contains(string(body), "<Code>AccessDenied</Code><Message>Request has expired</Message>") {
				t.Errorf("after expiry: HTTP %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

func TestMediaTampered(t *testing.T) {
	clock := newFakeClock()
	sim, ts := mustStartSimulator(t, testConfig(clock))
	normal := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	other := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	sr := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(true)})
	clock.Advance(finishedLater)
	tosURL, _ := successURLs(t, ts, normal)
	vodURL, _ := successURLs(t, ts, sr)
	finish := clock.Now()
	ts1 := strconv.FormatInt(finish.Add(defaultURLTTL).Unix(), 10)
	ts2 := strconv.FormatInt(finish.Add(2*defaultURLTTL).Unix(), 10)

	flipLast := func(s string) string {
		if strings.HasSuffix(s, "0") {
			return s[:len(s)-1] + "1"
		}
		return s[:len(s)-1] + "0"
	}
	tests := []struct {
		name, url string
	}{
		{"TOS signature", flipLast(tosURL)},
		{"TOS lifetime extended", strings.Replace(tosURL, "X-Tos-Expires=86400", "X-Tos-Expires=172800", 1)},
		{"TOS date moved", strings.Replace(tosURL, "X-Tos-Date="+finish.Format("20060102"), "X-Tos-Date=20990101", 1)},
		{"TOS other task", strings.Replace(tosURL, normal, other, 1)},
		{"TOS no query", tosURL[:strings.Index(tosURL, "?")]},
		{"VOD hash", flipLast(vodURL)},
		{"VOD timestamp extended", strings.Replace(vodURL, "auth_key="+ts1, "auth_key="+ts2, 1)},
		{"VOD other file", strings.Replace(vodURL, "/result.mp4", "/original.mp4", 1)},
		{"VOD path on TOS", strings.Replace(vodURL, "/vod/", "/tos/", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := download(t, tt.url, nil)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/xml" ||
				!strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") {
				t.Errorf("%s: HTTP %d %s", tt.url, resp.StatusCode, body)
			}
		})
	}
}

func TestMediaRangeAndHead(t *testing.T) {
	clock := newFakeClock()
	sim, ts := mustStartSimulator(t, testConfig(clock))
	id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	clock.Advance(finishedLater)
	url, _ := successURLs(t, ts, id)
	_, full := download(t, url, nil)

	resp, part := download(t, url, map[string]string{"Range": "bytes=1000-1999"})
	if resp.StatusCode != http.StatusPartialContent || string(part) != string(full[1000:2000]) {
		t.Errorf("range: HTTP %d, %d bytes, equal %v", resp.StatusCode, len(part), string(part) == string(full[1000:2000]))
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodHead, url, nil)
	head, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK || head.ContentLength != int64(len(full)) {
		t.Errorf("HEAD: HTTP %d length %d, want %d", head.StatusCode, head.ContentLength, len(full))
	}
}

// TestDeterminism checks that a seed fixes ids and bytes, whatever the traffic.
func TestDeterminism(t *testing.T) {
	run := func(seed int64, polls int) ([]string, []string) {
		clock := newFakeClock()
		cfg := testConfig(clock)
		cfg.Seed = seed
		cfg.Faults.API5xx = 0.5 // faults must not disturb the task generator
		sim, ts := mustStartSimulator(t, cfg)
		var sums []string
		for range 5 {
			id := sim.CreateTask(TaskOptions{Fail: ptr(false)})
			for range polls {
				get(t, ts, ts.URL+"/v1/video/generations/"+id, defaultAPIKey).Body.Close()
			}
			_, videos, _ := sim.Expected(id)
			for _, v := range videos {
				sums = append(sums, v.SHA256)
			}
		}
		return sim.TaskIDs(), sums
	}
	ids1, sums1 := run(1, 0)
	ids2, sums2 := run(1, 3)
	ids3, sums3 := run(2, 0)
	if strings.Join(ids1, ",") != strings.Join(ids2, ",") || strings.Join(sums1, ",") != strings.Join(sums2, ",") {
		t.Errorf("same seed, different traffic: ids or videos differ")
	}
	if ids1[0] == ids3[0] || sums1[0] == sums3[0] {
		t.Errorf("different seeds gave the same first id or video")
	}
}
