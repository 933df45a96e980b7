package archiver_test

import (
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/s3"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// TestVideosCarryTagsAndConsoleHeaders runs the archiver against the s3 and
// minio drivers and reads back, with a plain S3 client, what a console shows:
// Content-Type, a human Content-Disposition, and tags a lifecycle rule can
// filter on, with a hostile model name reduced to what S3 accepts.
func TestVideosCarryTagsAndConsoleHeaders(t *testing.T) {
	env := storagetest.S3Server(t)
	host, secure := env.HostPort()
	client, err := miniogo.New(host, &miniogo.Options{Creds: credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""), Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	for _, driver := range []string{"s3", "minio"} {
		t.Run(driver, func(t *testing.T) {
			bucket := storagetest.NewBucket(t, env)
			var store storage.Store
			switch driver {
			case "s3":
				store, err = s3.New(t.Context(), s3.Config{Bucket: bucket, Endpoint: env.Endpoint, ForcePathStyle: true,
					AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, PartSize: 5 << 20})
			default:
				store, err = minio.New(t.Context(), minio.Config{Endpoint: host, Secure: secure, Bucket: bucket,
					AccessKey: env.AccessKey, SecretKey: env.SecretKey, PartSize: 5 << 20})
			}
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, store, simulator.Config{Seed: 3, NotStartFor: -1, QueuedFor: -1, RunFor: 20 * time.Millisecond,
				VideoBytes: 32 << 10})
			yes, no := true, false
			id := h.sim.CreateTask(simulator.TaskOptions{Model: "seedance&pro<2.0>", Resolution: "720p", SuperResolution: &yes, Fail: &no})
			if _, err := h.cat.Track(t.Context(), []string{id}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := h.run(t, "sim-key", fastOptions(t)); err != nil {
				t.Fatalf("run --once: %v", err)
			}
			task, err := h.cat.Get(t.Context(), id)
			if err != nil || len(task.Assets) != 2 {
				t.Fatalf("task %s: %d assets, %v; want a super-resolution task with two videos", id, len(task.Assets), err)
			}
			for _, a := range task.Assets {
				got, err := client.GetObjectTagging(t.Context(), bucket, a.Key, miniogo.GetObjectTaggingOptions{})
				if err != nil {
					t.Fatalf("tags of %s: %v", a.Key, err)
				}
				want := map[string]string{"kind": a.Kind, "model": "seedancepro2.0", "resolution": task.Resolution,
					"super_resolution": task.SuperResolution, "action": task.Action, "archived-by": "reelvault"}
				checkTags(t, a.Key, got, want)
				info, err := store.Stat(t.Context(), a.Key)
				if err != nil {
					t.Fatal(err)
				}
				wantName := `filename="` + time.Unix(task.FinishTime, 0).UTC().Format("2006-01-02") + "_" + id + "_" + task.SuperResolution + "_" + a.Kind + `.mp4"`
				if info.ContentType != "video/mp4" || !strings.HasPrefix(info.ContentDisposition, "inline; ") ||
					!strings.Contains(info.ContentDisposition, wantName) || info.Metadata["task-id"] != id {
					t.Errorf("%s: Content-Type %q, Content-Disposition %q, metadata %v; want video/mp4, inline with %s",
						a.Key, info.ContentType, info.ContentDisposition, info.Metadata, wantName)
				}
			}
		})
	}
}

func checkTags(t *testing.T, key string, got *tags.Tags, want map[string]string) {
	t.Helper()
	m := got.ToMap()
	if len(m) > 10 {
		t.Errorf("%s: %d tags, S3 allows 10", key, len(m))
	}
	for k, v := range want {
		if v != "" && m[k] != v {
			t.Errorf("%s: tag %s = %q, want %q (all tags %v)", key, k, m[k], v, m)
		}
	}
}
