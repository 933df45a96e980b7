package s3

// Wire tests pin what the driver sends, against an httptest server standing
// in for S3. They need no real server: they check request shapes that a
// real server would accept either way.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// fakeS3 answers HEAD and PUT like S3 and records the PUT it received.
type fakeS3 struct {
	firstMiB chan struct{} // closed once the handler has read 1 MiB of a PUT body

	mu     sync.Mutex
	header http.Header
	body   []byte // the first 64 KiB, enough to hash small bodies
	tail   []byte // the last 256 bytes, where an aws-chunked trailer is
}

func newFakeS3() *fakeS3 { return &fakeS3{firstMiB: make(chan struct{})} }

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.mu.Lock()
	f.header = r.Header.Clone()
	f.mu.Unlock()
	var n int64
	buf := make([]byte, 32<<10)
	var once sync.Once
	for {
		m, err := r.Body.Read(buf)
		f.mu.Lock()
		if len(f.body) < 64<<10 {
			f.body = append(f.body, buf[:m]...)
		}
		f.tail = append(f.tail, buf[:m]...)
		f.tail = f.tail[max(0, len(f.tail)-256):]
		f.mu.Unlock()
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

func (f *fakeS3) sent() (http.Header, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.header, f.body
}

// fakeStore is a Store on srv; stream selects the unbuffered PutObject that
// New enables only on AWS.
func fakeStore(srv *httptest.Server, checksum aws.RequestChecksumCalculation, stream bool) *Store {
	client := s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("AK", "SK", ""),
		HTTPClient:                 srv.Client(),
		RequestChecksumCalculation: checksum,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &Store{
		client:    client,
		uploader:  newUploader(client, MinPartSize, checksum == aws.RequestChecksumCalculationWhenRequired),
		bufs:      storage.NewPartBuffers(MinPartSize),
		partSize:  MinPartSize,
		bucket:    "bucket",
		server:    srv.URL,
		streamPut: stream,
	}
}

// TestStreamedPutDoesNotBuffer puts from a body that pauses after 1 MiB
// until the server has received that MiB: a driver that buffered the object
// would send nothing, and trip the watchdog.
func TestStreamedPutDoesNotBuffer(t *testing.T) {
	tests := []struct {
		name         string
		tls          bool
		checksum     aws.RequestChecksumCalculation
		wantSHA      string // X-Amz-Content-Sha256
		wantEncoding string
	}{
		// AWS: https, default checksums; the SDK sends an aws-chunked body
		// with a CRC32 trailer.
		{"https default checksums", true, aws.RequestChecksumCalculationWhenSupported, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "aws-chunked"},
		// Plain http, checksums when required: raw bytes, unsigned.
		{"http checksums when required", false, aws.RequestChecksumCalculationWhenRequired, "UNSIGNED-PAYLOAD", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeS3()
			srv := httptest.NewUnstartedServer(fake)
			if tt.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			// A cleanup, not a defer: it must run after t.Context() is
			// cancelled, which unblocks the gated body if the test fails.
			t.Cleanup(srv.Close)
			s := fakeStore(srv, tt.checksum, true)

			const size = 3 * storagetest.MiB
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

			h, _ := fake.sent()
			checks := []struct{ header, want string }{
				{"X-Amz-Content-Sha256", tt.wantSHA},
				{"Content-Encoding", tt.wantEncoding},
				{"X-Amz-Tagging", "a=b+c"},
			}
			for _, c := range checks {
				if got := h.Get(c.header); got != c.want {
					t.Errorf("%s = %q, want %q", c.header, got, c.want)
				}
			}
			if !tt.tls {
				for name := range h {
					if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") || strings.EqualFold(name, "X-Amz-Sdk-Checksum-Algorithm") {
						t.Errorf("sent %s with checksums when required", name)
					}
				}
			}
		})
	}
}

// TestBufferedPutSignsPayload pins why custom endpoints get the buffered
// path: the request carries the payload's sha256 in its signature, so a
// server cannot mistake a truncated body for the object. It is the digest
// PutSHA256 returns: one hash serves the signature and the caller.
func TestBufferedPutSignsPayload(t *testing.T) {
	fake := newFakeS3()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := fakeStore(srv, aws.RequestChecksumCalculationWhenRequired, false)
	const size = 1000
	res, err := s.PutSHA256(t.Context(), "k", storagetest.Payload(1, size), size, storage.PutOptions{})
	if err != nil {
		t.Fatalf("PutSHA256: %v", err)
	}
	h, body := fake.sent()
	sum := sha256.Sum256(body)
	if got, want := h.Get("X-Amz-Content-Sha256"), hex.EncodeToString(sum[:]); got != want || len(body) != size {
		t.Errorf("X-Amz-Content-Sha256 = %q for %d bytes, want %q (the body's sha256)", got, len(body), want)
	}
	if res.SHA256 != sum || !res.Verified {
		t.Errorf("PutSHA256 = %x (verified %v), want %x, verified", res.SHA256, res.Verified, sum)
	}
}

// TestStreamedPutSHA256Trailer pins PutSHA256 on AWS's streamed path: the
// trailing checksum is SHA-256 rather than CRC32, the only hash of the body,
// and the digest returned is the one in the trailer, which S3 checks.
func TestStreamedPutSHA256Trailer(t *testing.T) {
	fake := newFakeS3()
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	s := fakeStore(srv, aws.RequestChecksumCalculationWhenSupported, true)
	const size = 3 * storagetest.MiB
	res, err := s.PutSHA256(t.Context(), "k", storagetest.Payload(1, size), size, storage.PutOptions{})
	if err != nil {
		t.Fatalf("PutSHA256: %v", err)
	}
	want, err := hex.DecodeString(storagetest.PayloadSHA256(t, 1, size))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := fake.sent()
	fake.mu.Lock()
	tail := string(fake.tail)
	fake.mu.Unlock()
	if got := h.Get("X-Amz-Trailer"); got != "x-amz-checksum-sha256" {
		t.Errorf("X-Amz-Trailer = %q, want x-amz-checksum-sha256", got)
	}
	if line := "x-amz-checksum-sha256:" + base64.StdEncoding.EncodeToString(want); !strings.Contains(tail, line) {
		t.Errorf("body ends %q, want the trailer %q", tail, line)
	}
	if !bytes.Equal(res.SHA256[:], want) || !res.Verified {
		t.Errorf("PutSHA256 = %x (verified %v), want %x (the payload's), verified", res.SHA256, res.Verified, want)
	}
}
