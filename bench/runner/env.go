package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// s3Env is the S3 server scripts/with-s3.sh started.
type s3Env struct {
	endpoint, accessKey, secretKey string
	admin                          *miniogo.Client // creates and empties buckets
}

func s3FromEnv() (s3Env, error) {
	e := s3Env{
		endpoint:  os.Getenv("REELVAULT_TEST_S3_ENDPOINT"),
		accessKey: os.Getenv("REELVAULT_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("REELVAULT_TEST_S3_SECRET_KEY"),
	}
	if e.endpoint == "" {
		return e, errors.New("REELVAULT_TEST_S3_ENDPOINT is not set: run under scripts/with-s3.sh (make bench does)")
	}
	u, err := url.Parse(e.endpoint)
	if err != nil {
		return e, fmt.Errorf("REELVAULT_TEST_S3_ENDPOINT: %w", err)
	}
	e.admin, err = miniogo.New(u.Host, &miniogo.Options{
		Creds: credentials.NewStaticV4(e.accessKey, e.secretKey, ""), Secure: u.Scheme == "https", Region: "us-east-1"})
	return e, err
}

func (e s3Env) host() string {
	return strings.TrimPrefix(strings.TrimPrefix(e.endpoint, "http://"), "https://")
}

// newBucket creates a bucket for one run; drop empties and removes it, so
// gigabytes of videos do not pile up on the server's disk.
func (e s3Env) newBucket(ctx context.Context) (string, error) {
	name := fmt.Sprintf("bench-%08x", rand.Uint32())
	return name, e.admin.MakeBucket(ctx, name, miniogo.MakeBucketOptions{Region: "us-east-1"})
}

func (e s3Env) drop(ctx context.Context, bucket string) error {
	for obj := range e.admin.ListObjects(ctx, bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := e.admin.RemoveObject(ctx, bucket, obj.Key, miniogo.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return e.admin.RemoveBucket(ctx, bucket)
}

// videosIn counts the objects in bucket whose size is exactly size.
func (e s3Env) videosIn(ctx context.Context, bucket string, size int64) (int, error) {
	n := 0
	for obj := range e.admin.ListObjects(ctx, bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return 0, obj.Err
		}
		if obj.Size == size && strings.HasSuffix(obj.Key, ".mp4") {
			n++
		}
	}
	return n, nil
}

// origin is the simulator serving finished tasks with videos of one size.
type origin struct {
	sim  *simulator.Server
	url  string
	stop func()
}

// startSimulator serves a simulator on a free loopback port. Tasks created
// on it are finished at once (every phase skipped). bytesPerSec > 0 limits
// every video download to that rate (throttleMedia).
func startSimulator(videoBytes, bytesPerSec int64) (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sim := simulator.New(simulator.Config{
		Seed: 1, NotStartFor: -1, QueuedFor: -1, RunFor: -1, URLTTL: 24 * time.Hour,
		FailureRate: -1, SuperResolutionRate: -1, VideoBytes: videoBytes,
	})
	srv := &http.Server{Handler: throttleMedia(sim, bytesPerSec), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &origin{sim: sim, url: "http://" + ln.Addr().String(), stop: func() { srv.Close() }}, nil
}

func (o *origin) newTasks(n int) []string {
	no := false
	ids := make([]string, n)
	for i := range ids {
		ids[i] = o.sim.CreateTask(simulator.TaskOptions{Fail: &no, SuperResolution: &no})
	}
	return ids
}

// track adds ids to the catalog at catPath, as `reelvault track` would.
func track(ctx context.Context, catPath string, ids []string) error {
	cat, err := catalog.Open(ctx, catPath)
	if err != nil {
		return err
	}
	defer cat.Close()
	_, err = cat.Track(ctx, ids, time.Now())
	return err
}

// writeConfig writes a reelvault.yaml for one run and returns its path and
// the catalog path in it.
func writeConfig(dir, gatewayURL, driver, bucket string, env s3Env, o options, pollInterval string) (cfgPath, catPath string, err error) {
	catPath = filepath.Join(dir, "catalog.db")
	cfg := fmt.Sprintf(`api:
  base_url: %s
  api_key: sim-key
  poll_interval: %s
  requests_per_second: 100000
catalog:
  path: %s
storage:
  driver: %s
  fs:
    root: %s
  s3:
    bucket: %s
    region: us-east-1
    endpoint: %s
    force_path_style: true
    access_key_id: %s
    secret_access_key: %s
  minio:
    endpoint: %s
    bucket: %s
    access_key: %s
    secret_key: %s
archive:
  concurrency: %d
  part_size: %d
  allow_http: true
  allow_private_networks: true
server:
  listen: 127.0.0.1:0
log:
  level: warn
`, gatewayURL, pollInterval, catPath, driver, filepath.Join(dir, "objects"), bucket, env.endpoint, env.accessKey, env.secretKey,
		env.host(), bucket, env.accessKey, env.secretKey, o.concurrency, o.partSize)
	cfgPath = filepath.Join(dir, "reelvault.yaml")
	return cfgPath, catPath, os.WriteFile(cfgPath, []byte(cfg), 0o600)
}

// reelvaultCmd is the reelvault binary with args, behind o.wrap if set.
func (o options) reelvaultCmd(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(append(append([]string(nil), o.wrap...), o.reelvault), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}
