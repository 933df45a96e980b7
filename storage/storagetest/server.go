package storagetest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ServerEnv locates the real S3 server tests run against. scripts/with-s3.sh
// starts one on loopback and exports it through the REELVAULT_TEST_S3_*
// variables.
type ServerEnv struct {
	Endpoint  string // base URL, e.g. "http://127.0.0.1:34567"
	AccessKey string
	SecretKey string
}

// HostPort returns the endpoint as minio-go wants it: "host:port", and
// whether the scheme is https.
func (e ServerEnv) HostPort() (hostport string, secure bool) {
	u, err := url.Parse(e.Endpoint)
	if err != nil || u.Host == "" {
		return e.Endpoint, false
	}
	return u.Host, u.Scheme == "https"
}

// S3Server returns the test server from the environment. Without one the test
// is skipped, except under CI=true: there a skip would hide a suite that never
// ran, so it fails instead (restic's SkipDisallowed, for the same reason).
func S3Server(t testing.TB) ServerEnv {
	t.Helper()
	env := ServerEnv{
		Endpoint:  os.Getenv("REELVAULT_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("REELVAULT_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("REELVAULT_TEST_S3_SECRET_KEY"),
	}
	if env.Endpoint != "" && env.AccessKey != "" && env.SecretKey != "" {
		return env
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no S3 test server: run tests via `make test`")
	}
	t.Skip("no S3 test server (REELVAULT_TEST_S3_ENDPOINT unset): run via scripts/with-s3.sh")
	return ServerEnv{}
}

// NewBucket creates a bucket with a fresh random name on env's server and
// registers a cleanup that empties it (objects and unfinished multipart
// uploads) and removes it.
func NewBucket(t testing.TB, env ServerEnv) string {
	t.Helper()
	client := adminClient(t, env)
	bucket := "rv-test-" + strings.ToLower(rand.Text())
	if err := client.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create test bucket %q: %v", bucket, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeBucket(ctx, client, bucket); err != nil {
			t.Errorf("remove test bucket %q: %v", bucket, err)
		}
	})
	return bucket
}

func adminClient(t testing.TB, env ServerEnv) *minio.Client {
	t.Helper()
	host, secure := env.HostPort()
	client, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""),
		Secure: secure,
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("minio client for %s: %v", env.Endpoint, err)
	}
	return client
}

func removeBucket(ctx context.Context, client *minio.Client, bucket string) error {
	for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := client.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	for up := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err != nil {
			return up.Err
		}
		if err := client.RemoveIncompleteUpload(ctx, bucket, up.Key); err != nil {
			return err
		}
	}
	return client.RemoveBucket(ctx, bucket)
}
