package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// minioBucketBackend is bucket on the test S3 server through the minio
// driver, under prefix "vault/".
func minioBucketBackend(t *testing.T, srv storagetest.ServerEnv, bucket string) backend {
	host, secure := srv.HostPort()
	yaml := fmt.Sprintf(`storage:
  driver: minio
  prefix: vault/
  minio:
    endpoint: %s
    secure: %t
    bucket: %s
    access_key: %s
    secret_key: %s
`, host, secure, bucket, srv.AccessKey, srv.SecretKey)
	return backend{name: "minio", yaml: yaml, prefix: "vault/", secret: srv.SecretKey, open: func(t *testing.T, _ *env) storage.Store {
		s, err := minio.New(t.Context(), minio.Config{Endpoint: host, Secure: secure, Bucket: bucket,
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// minioBackend is a fresh bucket through the minio driver; it skips the
// test when there is no S3 server (fails under CI=true).
func minioBackend(t *testing.T) backend {
	t.Helper()
	srv := storagetest.S3Server(t)
	return minioBucketBackend(t, srv, storagetest.NewBucket(t, srv))
}

// listedAsset is what a script reads of a video in `catalog list --format json`.
type listedAsset struct {
	Kind, State, Bucket, Key, URL, SHA256 string
}

// TestScriptsReadBucketNameAndURL is the script of issue 11 on all three
// drivers, after a real `run --once`: `bucket` must be the bucket's name
// alone, what `aws s3 cp "s3://$bucket/$key"` needs ("" on fs), and `url`
// the video's full address (s3://bucket/key for both S3 drivers, the file's
// URL on fs), the same in `catalog list --format json`, `catalog export
// --format csv`, `catalog show` and the task.json in the bucket.
func TestScriptsReadBucketNameAndURL(t *testing.T) {
	for _, b := range []struct {
		name    string
		backend func(*testing.T) (backend, string) // and the bucket's name
	}{
		{"fs", func(*testing.T) (backend, string) { return fsBackend(), "" }},
		{"s3", func(t *testing.T) (backend, string) {
			srv := storagetest.S3Server(t)
			bucket := storagetest.NewBucket(t, srv)
			return s3BucketBackend(t, srv, bucket), bucket
		}},
		{"minio", func(t *testing.T) (backend, string) {
			srv := storagetest.S3Server(t)
			bucket := storagetest.NewBucket(t, srv)
			return minioBucketBackend(t, srv, bucket), bucket
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			backend, bucket := b.backend(t)
			e := newEnvWith(t, simulator.Config{Seed: 21, NotStartFor: -1, QueuedFor: -1, RunFor: 50 * time.Millisecond,
				FailureRate: -1, SuperResolutionRate: 0.5, VideoBytes: 32 << 10}, envOptions{storage: backend})
			if code, _, stderr := e.run(t, e.createTasks(4), "track", "-"); code != 0 {
				t.Fatalf("track: exit %d: %s", code, stderr)
			}
			if code, _, stderr := e.run(t, "", "run", "--once", "--deadline", "2m"); code != 0 {
				t.Fatalf("run --once: exit %d: %s", code, stderr)
			}
			store := backend.store(t, e)
			// checkAddress checks what a script would do with bucket and url:
			// fetch the object they name, and get the video.
			checkAddress := func(where string, a listedAsset) {
				t.Helper()
				if a.Bucket != bucket {
					t.Errorf("%s: %s bucket %q, want %q", where, a.Kind, a.Bucket, bucket)
				}
				if b.name != "fs" {
					if want := "s3://" + bucket + "/" + a.Key; a.URL != want {
						t.Errorf("%s: %s url %q, want %s", where, a.Kind, a.URL, want)
					}
					if got := storagetest.ObjectSHA256(t, store, a.Key); got != a.SHA256 {
						t.Errorf("%s: %s object %s: sha256 %s, want %s", where, a.Kind, a.Key, got, a.SHA256)
					}
					return
				}
				u, err := url.Parse(a.URL)
				if err != nil || u.Scheme != "file" || !strings.HasSuffix(u.Path, "/reelvault-data/objects/"+a.Key) {
					t.Errorf("%s: %s url %q (%v), want the file URL of reelvault-data/objects/%s", where, a.Kind, a.URL, err, a.Key)
					return
				}
				body, err := os.ReadFile(filepath.FromSlash(u.Path))
				if err != nil || sha256Of(body) != a.SHA256 {
					t.Errorf("%s: %s: the file at %s: %v, not the archived video", where, a.Kind, a.URL, err)
				}
			}

			code, stdout, stderr := e.run(t, "", "catalog", "list", "--format", "json")
			var tasks []struct {
				TaskID       string        `json:"task_id"`
				ArchiveState string        `json:"archive_state"`
				TaskJSONKey  string        `json:"task_json_key"`
				Assets       []listedAsset `json:"assets"`
			}
			if err := json.Unmarshal([]byte(stdout), &tasks); code != 0 || err != nil || len(tasks) != 4 {
				t.Fatalf("catalog list --format json: exit %d, %d tasks, %v: %s%s", code, len(tasks), err, stdout, stderr)
			}
			byKey := map[string]listedAsset{}
			for _, task := range tasks {
				if task.ArchiveState != "archived" || len(task.Assets) == 0 {
					t.Fatalf("%s: %s with %d videos, want archived", task.TaskID, task.ArchiveState, len(task.Assets))
				}
				for _, a := range task.Assets {
					checkAddress("catalog list "+task.TaskID, a)
					byKey[a.Key] = a
				}
				sc := readTaskJSON(t, store, task.TaskJSONKey)
				for _, a := range sc.Archive.Assets {
					if l := byKey[a.Key]; a.Bucket != l.Bucket || a.URL != l.URL {
						t.Errorf("task.json of %s: %s bucket %q, url %q; catalog list says %q, %q",
							task.TaskID, a.Kind, a.Bucket, a.URL, l.Bucket, l.URL)
					}
				}
			}

			code, stdout, _ = e.run(t, "", "catalog", "export", "--format", "csv")
			records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
			if code != 0 || err != nil || len(records) != 5 {
				t.Fatalf("export csv: exit %d, %d records, %v:\n%s", code, len(records), err, stdout)
			}
			col := map[string]int{}
			for i, c := range records[0] {
				col[c] = i
			}
			for _, r := range records[1:] {
				for _, kind := range []string{"result", "original"} {
					key := r[col[kind+"_key"]]
					if key == "" {
						continue
					}
					a := byKey[key]
					a.Bucket, a.URL = r[col["bucket"]], r[col[kind+"_url"]]
					checkAddress("catalog export --format csv", a)
				}
			}

			id := tasks[0].TaskID
			code, stdout, _ = e.run(t, "", "catalog", "show", id, "--format", "text")
			if a := tasks[0].Assets[0]; code != 0 || !strings.Contains(stdout, a.URL) || bucket != "" && !strings.Contains(stdout, bucket) {
				t.Errorf("catalog show --format text (exit %d) lacks the url %s or the bucket %q:\n%s", code, a.URL, bucket, stdout)
			}
		})
	}
}

func readTaskJSON(t *testing.T, store storage.Store, key string) archiver.Sidecar {
	t.Helper()
	r, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	var sc archiver.Sidecar
	if err := json.NewDecoder(r).Decode(&sc); err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return sc
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
