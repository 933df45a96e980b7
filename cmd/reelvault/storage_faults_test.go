package main

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// TestRunRefusesBadStorageAtStartUp points `run --once` at a bucket that
// does not exist, and at the right bucket with a wrong secret or an unknown
// access key, through both S3 drivers: the run must stop at start-up with a
// message naming the bucket or saying the credentials were rejected, never
// print the secret, and leave the tracked tasks alone.
func TestRunRefusesBadStorageAtStartUp(t *testing.T) {
	t.Parallel()
	srv := storagetest.S3Server(t)
	bucket := storagetest.NewBucket(t, srv)
	host, _ := srv.HostPort()
	wrongSecret := "wrong-secret-" + rand.Text()
	missing := "rv-missing-" + strings.ToLower(rand.Text())
	tests := []struct {
		name, bucket, access, secret string
		want                         []string
	}{
		{"missing bucket", missing, srv.AccessKey, srv.SecretKey, []string{fmt.Sprintf("bucket %q does not exist", missing)}},
		{"wrong secret", bucket, srv.AccessKey, wrongSecret, []string{"credentials rejected", bucket}},
		{"unknown access key", bucket, "nobody-" + rand.Text(), wrongSecret, []string{"credentials rejected", bucket}},
	}
	for _, driver := range []string{"s3", "minio"} {
		for _, tt := range tests {
			t.Run(driver+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				yaml := fmt.Sprintf("storage:\n  driver: s3\n  s3:\n    bucket: %s\n    endpoint: %s\n    force_path_style: true\n"+
					"    access_key_id: %s\n    secret_access_key: %s\n", tt.bucket, srv.Endpoint, tt.access, tt.secret)
				if driver == "minio" {
					yaml = fmt.Sprintf("storage:\n  driver: minio\n  minio:\n    bucket: %s\n    endpoint: %s\n"+
						"    access_key: %s\n    secret_key: %s\n", tt.bucket, host, tt.access, tt.secret)
				}
				e := newEnvWith(t, simulator.Config{}, envOptions{storage: backend{yaml: yaml}})
				if code, _, stderr := e.run(t, e.createTasks(2), "track", "-"); code != 0 {
					t.Fatalf("track: exit %d: %s", code, stderr)
				}
				code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "1m")
				if code == 0 {
					t.Fatalf("run --once succeeded against %s; want a start-up error", tt.name)
				}
				for _, w := range tt.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, stderr)
					}
				}
				if strings.Contains(stderr, tt.secret) {
					t.Errorf("stderr shows the secret key:\n%s", stderr)
				}
				for _, task := range catalogTasks(t, e) {
					if task.Status != catalog.StatusTracked || task.Polls != 0 {
						t.Errorf("%s: status %s after %d polls; want untouched (TRACKED, 0 polls)", task.TaskID, task.Status, task.Polls)
					}
				}
			})
		}
	}
}
