package minio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

func testConfig(env storagetest.ServerEnv, bucket string) Config {
	host, secure := env.HostPort()
	return Config{
		Endpoint:  host,
		Bucket:    bucket,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		Secure:    secure,
		PartSize:  MinPartSize,
	}
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	env := storagetest.S3Server(t)
	s, err := New(t.Context(), testConfig(env, storagetest.NewBucket(t, env)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newTestStore(t) })
}

func TestNewRejectsBadConfig(t *testing.T) {
	env := storagetest.S3Server(t)
	bucket := storagetest.NewBucket(t, env)
	host, _ := env.HostPort()
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantMsg string
	}{
		{"missing bucket", func(c *Config) { c.Bucket = "rv-test-no-such-bucket" }, `bucket "rv-test-no-such-bucket" does not exist`},
		{"wrong secret", func(c *Config) { c.SecretKey += "x" }, "credentials rejected by " + host},
		{"unknown key", func(c *Config) { c.AccessKey = "nobody" }, "credentials rejected by " + host},
		{"scheme in endpoint", func(c *Config) { c.Endpoint = "http://" + c.Endpoint }, "without a scheme"},
		{"part size too small", func(c *Config) { c.PartSize = MinPartSize - 1 }, "part size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(env, bucket)
			tt.mutate(&cfg)
			_, err := New(t.Context(), cfg)
			if err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("New = %v, want a permanent error containing %q", err, tt.wantMsg)
			}
		})
	}
}

func TestTagsStored(t *testing.T) {
	s := newTestStore(t)
	tags := map[string]string{"provider": "veo", "note": "a b=c+d/e"}
	for _, size := range []int64{100, -1} {
		key := "tagged/" + map[int64]string{100: "single", -1: "multipart"}[size]
		if err := s.Put(t.Context(), key, storagetest.Payload(1, 100), size, storage.PutOptions{Tags: tags}); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		got, err := s.client.GetObjectTagging(t.Context(), s.bucket, key, minio.GetObjectTaggingOptions{})
		if err != nil {
			t.Fatalf("GetObjectTagging(%q): %v", key, err)
		}
		if m := got.ToMap(); len(m) != len(tags) || m["provider"] != "veo" || m["note"] != "a b=c+d/e" {
			t.Errorf("tags of %q = %v, want %v", key, m, tags)
		}
	}
}

func TestPresign(t *testing.T) {
	s := newTestStore(t)
	const key = "presign/video 1.mp4"
	want := []byte("presigned frames")
	if err := s.Put(t.Context(), key, bytes.NewReader(want), int64(len(want)), storage.PutOptions{}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	u, err := s.Presign(t.Context(), key, time.Hour)
	if err != nil {
		t.Fatalf("Presign: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("GET presigned URL = %d %q (err %v), want 200 %q", resp.StatusCode, got, err, want)
	}
}

// TestUploadPaths pins how minio-go is driven: a known size is one PUT even
// above PartSize (plain ETag), an unknown size is multipart in PartSize
// parts (ETag "<md5>-3" for 12 MiB in 5 MiB parts).
func TestUploadPaths(t *testing.T) {
	s := newTestStore(t)
	tests := []struct {
		name     string
		size     int64
		wantETag string // suffix
	}{
		{"known size", 12 * storagetest.MiB, ""},
		{"unknown size", -1, "-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "paths/" + tt.name
			if err := s.Put(t.Context(), key, storagetest.Payload(1, 12*storagetest.MiB), tt.size, storage.PutOptions{}); err != nil {
				t.Fatalf("Put: %v", err)
			}
			oi, err := s.client.StatObject(t.Context(), s.bucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("StatObject: %v", err)
			}
			if multipart := strings.Contains(oi.ETag, "-"); multipart != (tt.wantETag != "") || !strings.HasSuffix(oi.ETag, tt.wantETag) {
				t.Errorf("ETag = %q, want suffix %q (multipart: %v)", oi.ETag, tt.wantETag, tt.wantETag != "")
			}
		})
	}
}

func TestFailedMultipartIsAborted(t *testing.T) {
	s := newTestStore(t)
	boom := errors.New("source died")
	body := io.MultiReader(storagetest.Payload(1, 7*storagetest.MiB), errReader{boom})
	if err := s.Put(t.Context(), "mpu/failed.mp4", body, -1, storage.PutOptions{}); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want %v", err, boom)
	}
	for up := range s.client.ListIncompleteUploads(t.Context(), s.bucket, "", true) {
		t.Errorf("unfinished upload after a failed Put: %q %v", up.Key, up.Err)
	}
}

func TestAbortIncompleteUploads(t *testing.T) {
	s := newTestStore(t)
	core := minio.Core{Client: s.client}
	for _, key := range []string{"tmp/a", "tmp/b", "keep/c"} {
		if _, err := core.NewMultipartUpload(t.Context(), s.bucket, key, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("NewMultipartUpload(%q): %v", key, err)
		}
	}
	n, err := s.AbortIncompleteUploads(t.Context(), "tmp/")
	if err != nil || n != 2 {
		t.Fatalf("AbortIncompleteUploads(tmp/) = %d, %v; want 2, nil", n, err)
	}
	var left []string
	for up := range s.client.ListIncompleteUploads(t.Context(), s.bucket, "", true) {
		left = append(left, up.Key)
	}
	if len(left) != 1 || left[0] != "keep/c" {
		t.Errorf("remaining uploads = %q, want only keep/c", left)
	}
}

func TestCancelledContext(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Put(ctx, "cancelled", strings.NewReader("x"), 1, storage.PutOptions{})
	if !errors.Is(err, context.Canceled) || retry.IsPermanent(err) {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled, not permanent", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
