package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

func testConfig(env storagetest.ServerEnv, bucket string) Config {
	return Config{
		Bucket:          bucket,
		Endpoint:        env.Endpoint,
		ForcePathStyle:  true,
		AccessKeyID:     env.AccessKey,
		SecretAccessKey: env.SecretKey,
		PartSize:        MinPartSize,
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
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantMsg string
	}{
		{"missing bucket", func(c *Config) { c.Bucket = "rv-test-no-such-bucket" }, `bucket "rv-test-no-such-bucket" does not exist`},
		{"wrong secret", func(c *Config) { c.SecretAccessKey += "x" }, "credentials rejected by " + env.Endpoint},
		{"unknown key", func(c *Config) { c.AccessKeyID = "nobody" }, "credentials rejected by " + env.Endpoint},
		{"part size too small", func(c *Config) { c.PartSize = MinPartSize - 1 }, "part size"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "no bucket"},
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
		out, err := s.client.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &s.bucket, Key: &key})
		if err != nil {
			t.Fatalf("GetObjectTagging(%q): %v", key, err)
		}
		got := map[string]string{}
		for _, tag := range out.TagSet {
			got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if len(got) != len(tags) || got["provider"] != "veo" || got["note"] != "a b=c+d/e" {
			t.Errorf("tags of %q = %v, want %v", key, got, tags)
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

// TestUnknownSizeIsMultipart pins the upload path: 12 MiB of unknown size in
// 5 MiB parts is a three-part upload (ETag "<md5>-3").
func TestUnknownSizeIsMultipart(t *testing.T) {
	s := newTestStore(t)
	const key = "mpu/video.mp4"
	if err := s.Put(t.Context(), key, storagetest.Payload(1, 12*storagetest.MiB), -1, storage.PutOptions{}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	out, err := s.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if etag := aws.ToString(out.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Errorf("ETag = %s, want a 3-part multipart ETag", etag)
	}
}

func TestFailedMultipartIsAborted(t *testing.T) {
	s := newTestStore(t)
	boom := errors.New("source died")
	body := io.MultiReader(storagetest.Payload(1, 7*storagetest.MiB), errReader{boom})
	if err := s.Put(t.Context(), "mpu/failed.mp4", body, -1, storage.PutOptions{}); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want %v", err, boom)
	}
	out, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("unfinished uploads after a failed Put: %d, want 0", len(out.Uploads))
	}
}

func TestAbortIncompleteUploads(t *testing.T) {
	s := newTestStore(t)
	for _, key := range []string{"tmp/a", "tmp/b", "keep/c"} {
		if _, err := s.client.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: aws.String(key)}); err != nil {
			t.Fatalf("CreateMultipartUpload(%q): %v", key, err)
		}
	}
	n, err := s.AbortIncompleteUploads(t.Context(), "tmp/")
	if err != nil || n != 2 {
		t.Fatalf("AbortIncompleteUploads(tmp/) = %d, %v; want 2, nil", n, err)
	}
	out, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != "keep/c" {
		t.Errorf("remaining uploads = %d, want only keep/c", len(out.Uploads))
	}
}

// TestStreamedPutRoundTrip runs the unbuffered PutObject that New enables
// only on AWS against the real server: the server must accept the
// UNSIGNED-PAYLOAD stream and store the bytes.
func TestStreamedPutRoundTrip(t *testing.T) {
	s := newTestStore(t)
	s.streamPut = true
	const key, size = "streamed/video.mp4", 12 * storagetest.MiB
	if err := s.Put(t.Context(), key, storagetest.Payload(7, size), size, storage.PutOptions{ContentType: "video/mp4"}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, want := sha256Hex(t, rc), sha256Hex(t, storagetest.Payload(7, size))
	if got != want {
		t.Errorf("sha256 = %s, want %s", got, want)
	}
}

func sha256Hex(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
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
