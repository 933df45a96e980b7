package minio

// A wire test pins what the driver sends, against an httptest server
// standing in for MinIO; it needs no real server.

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// fakeS3 answers HEAD and PUT like S3 and records the PUT's headers and the
// sha256 of its body.
type fakeS3 struct {
	firstMiB chan struct{} // closed once the handler has read 1 MiB of a PUT body

	mu      sync.Mutex
	header  http.Header
	bodySum [32]byte
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.mu.Lock()
	f.header = r.Header.Clone()
	f.mu.Unlock()
	var n int64
	var once sync.Once
	buf := make([]byte, 32<<10)
	h := sha256.New()
	defer func() {
		f.mu.Lock()
		h.Sum(f.bodySum[:0])
		f.mu.Unlock()
	}()
	for {
		m, err := r.Body.Read(buf)
		h.Write(buf[:m])
		if n += int64(m); n >= storagetest.MiB {
			once.Do(func() { close(f.firstMiB) })
		}
		if err != nil {
			break
		}
	}
	w.Header().Set("ETag", `"fake"`)
	w.WriteHeader(http.StatusOK)
}

func newFakeStore(t *testing.T, fake *fakeS3) *Store {
	t.Helper()
	srv := httptest.NewServer(fake)
	// A cleanup, not a defer: it must run after t.Context() is cancelled,
	// which unblocks a gated body if the test fails.
	t.Cleanup(srv.Close)
	s, err := New(t.Context(), Config{
		Endpoint:  strings.TrimPrefix(srv.URL, "http://"),
		Bucket:    "bucket",
		AccessKey: "AK",
		SecretKey: "SK",
		Region:    "us-east-1", // no GetBucketLocation round trip
		PartSize:  MinPartSize,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// TestSmallPutSignsPayload pins the path of a body up to one part: one PUT
// whose X-Amz-Content-Sha256 is the body's SHA-256, the digest PutSHA256
// returns (not minio-go's chunk signatures, which would hash it again), and
// user metadata sent as x-amz-meta-* even when its key is a header's name.
func TestSmallPutSignsPayload(t *testing.T) {
	fake := &fakeS3{firstMiB: make(chan struct{})}
	s := newFakeStore(t, fake)
	const size = 1000
	res, err := s.PutSHA256(t.Context(), "k", storagetest.Payload(1, size), size, storage.PutOptions{
		ContentType: "video/mp4", Metadata: map[string]string{"task-id": "t1", "content-type": "text/html"}})
	if err != nil {
		t.Fatalf("PutSHA256: %v", err)
	}
	fake.mu.Lock()
	h, sum := fake.header, fake.bodySum
	fake.mu.Unlock()
	checks := []struct{ header, want string }{
		{"X-Amz-Content-Sha256", hex.EncodeToString(sum[:])},
		{"Content-Length", strconv.Itoa(size)},
		{"Content-Type", "video/mp4"},
		{"X-Amz-Meta-Task-Id", "t1"},
		{"X-Amz-Meta-Content-Type", "text/html"},
	}
	for _, c := range checks {
		if got := h.Get(c.header); got != c.want {
			t.Errorf("%s = %q, want %q", c.header, got, c.want)
		}
	}
	if res.SHA256 != sum || !res.Verified {
		t.Errorf("PutSHA256 = %x (verified %v), want %x (the body's), verified", res.SHA256, res.Verified, sum)
	}
}

// TestSinglePutStreams puts 12 MiB of known size (above the 5 MiB part
// size, so minio-go's default would be multipart) from a body that pauses
// after 1 MiB until the server has received that MiB: a driver that
// buffered the object would send nothing, and trip the watchdog.
func TestSinglePutStreams(t *testing.T) {
	fake := &fakeS3{firstMiB: make(chan struct{})}
	s := newFakeStore(t, fake)

	const size = 12 * storagetest.MiB
	body := storagetest.GatedPayload(t.Context(), 1, size, storagetest.MiB, fake.firstMiB)
	done := make(chan error, 1)
	go func() {
		done <- s.Put(t.Context(), "k", body, size, storage.PutOptions{Tags: map[string]string{"a": "b c"}})
	}()
	select {
	case <-fake.firstMiB:
	case err := <-done:
		t.Fatalf("Put returned %v with the body still open", err)
	case <-time.After(time.Minute): // a watchdog, not a wait: the normal path never gets here
		t.Fatal("the server received no bytes while the body was open: Put buffers")
	}
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}

	fake.mu.Lock()
	h := fake.header
	fake.mu.Unlock()
	checks := []struct{ header, want string }{
		// Signed chunk by chunk: a truncated body lacks its final chunk.
		{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
		{"X-Amz-Decoded-Content-Length", strconv.Itoa(size)},
		{"X-Amz-Tagging", "a=b+c"},
	}
	for _, c := range checks {
		if got := h.Get(c.header); got != c.want {
			t.Errorf("%s = %q, want %q", c.header, got, c.want)
		}
	}
}
