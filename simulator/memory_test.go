package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// heapWatcher is an io.Writer that discards what it gets and samples the
// heap every few MiB, to show a download runs in flat memory.
type heapWatcher struct {
	n, next, every int64
	maxInuse       uint64
}

func (h *heapWatcher) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	if h.n >= h.next {
		h.next += h.every
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.maxInuse = max(h.maxInuse, ms.HeapInuse)
	}
	return len(p), nil
}

// TestStreamingMemory serves a 100 MiB video and checks the heap stays small
// while it is downloaded and while Expected hashes it. No timing is asserted.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	const size = 100 << 20
	const limit = 20 << 20
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.VideoBytes = size
	sim, ts := mustStartSimulator(t, cfg)
	id := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	clock.Advance(finishedLater)
	url, _ := successURLs(t, ts, id)
	runtime.GC()

	resp := get(t, ts, url, "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != size {
		t.Fatalf("HTTP %d length %d", resp.StatusCode, resp.ContentLength)
	}
	w := &heapWatcher{every: 4 << 20}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil || n != size {
		t.Fatalf("copied %d bytes: %v", n, err)
	}
	if w.maxInuse >= limit {
		t.Errorf("heap in use peaked at %d MiB while streaming, want < %d MiB", w.maxInuse>>20, limit>>20)
	}

	_, videos, _ := sim.Expected(id)
	if got := hex.EncodeToString(h.Sum(nil)); got != videos[0].SHA256 {
		t.Errorf("sha256 %s, Expected() says %s", got, videos[0].SHA256)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse >= limit {
		t.Errorf("heap in use %d MiB after hashing, want < %d MiB", ms.HeapInuse>>20, limit>>20)
	}
	t.Logf("peak heap in use while streaming %d MiB: %.1f MiB", size>>20, float64(w.maxInuse)/(1<<20))
}

// BenchmarkVideoReader measures how fast videos are generated.
func BenchmarkVideoReader(b *testing.B) {
	v := &video{width: 1280, height: 720, durationMS: 5000, size: 64 << 20, key: [32]byte{3}}
	b.SetBytes(v.size)
	for b.Loop() {
		if _, err := io.Copy(io.Discard, newVideoReader(v)); err != nil {
			b.Fatal(err)
		}
	}
}
