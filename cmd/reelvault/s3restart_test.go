package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/reelvault/reelvault/simulator"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// TestS3RestartMidMultipartUpload kills the S3 server (a versitygw of the
// test's own) while a video goes up in parts, and starts it again on the
// same port and data once the run has noticed: the run must still complete
// with the video stored byte for byte, and `reelvault cleanup` must abort
// the dead multipart upload and say how many it aborted.
func TestS3RestartMidMultipartUpload(t *testing.T) {
	t.Parallel()
	v := startVersitygw(t)
	bucket := storagetest.NewBucket(t, v.env)
	b := s3BucketBackend(t, v.env, bucket)
	e := newEnvWith(t, simulator.Config{
		NotStartFor: 50 * time.Millisecond, QueuedFor: 50 * time.Millisecond, RunFor: 200 * time.Millisecond,
		// Two 5 MiB parts, sent at about 3 MiB/s: the upload is under way
		// for a second or two.
		VideoBytes: 6<<20 + 12345, FailureRate: -1, SuperResolutionRate: -1,
		Faults: simulator.Faults{MediaSlow: 1, SlowChunkDelay: 10 * time.Millisecond},
	}, envOptions{storage: b, archive: "  part_size: 5MiB\n"})
	if code, _, stderr := e.run(t, e.createTasks(1), "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}

	cmd, _, _ := e.command(t.Context(), "", "run", "--once", "--deadline", "2m")
	cmd.Stderr = nil
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := watchLog(pipe)
	done := make(chan error, 1)
	go func() { <-logs.done; done <- cmd.Wait() }()

	admin := v.admin(t)
	for v.uploads(t, admin, bucket) == 0 {
		select {
		case err := <-done:
			t.Fatalf("run ended (%v) before a multipart upload began:\n%s", err, logs)
		case <-t.Context().Done():
			t.Fatalf("no multipart upload began:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	v.kill(t)
	logs.waitFor(t, "video download failed")
	e.sim.SetFaults(simulator.Faults{})
	v.start(t)

	if err := <-done; err != nil {
		t.Fatalf("run --once across the restart: %v:\n%s", err, logs)
	}
	checkArchive(t, e, b.store(t, e), 1)

	left := v.uploads(t, admin, bucket)
	code, stdout, stderr := e.run(t, "", "cleanup")
	if want := fmt.Sprintf("aborted %d unfinished upload(s)", left); code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("cleanup: exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
	}
	if n := v.uploads(t, admin, bucket); n != 0 {
		t.Errorf("%d multipart upload(s) left under vault/ after cleanup, want 0", n)
	}
	t.Logf("multipart uploads left by the restart, aborted by cleanup: %d", left)

	// A killed run leaves its multipart upload behind too; the next run,
	// holding the catalog lock, aborts it before doing anything else.
	ids := e.createTasks(1)
	if code, _, stderr := e.run(t, ids, "track", "-"); code != 0 {
		t.Fatalf("track: exit %d: %s", code, stderr)
	}
	e.sim.SetFaults(simulator.Faults{MediaSlow: 1, SlowChunkDelay: 20 * time.Millisecond})
	killed, _, _ := e.command(t.Context(), "", "run", "--once")
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	for v.uploads(t, admin, bucket) == 0 {
		select {
		case <-t.Context().Done():
			t.Fatal("no multipart upload began before the kill")
		case <-time.After(10 * time.Millisecond):
		}
	}
	killed.Process.Kill()
	killed.Wait()
	e.sim.SetFaults(simulator.Faults{})
	code, _, stderr = e.run(t, "", "run", "--once", "--deadline", "1m")
	if code != 0 || !strings.Contains(stderr, "aborted uploads a killed run left") {
		t.Errorf("run after a kill: exit %d, want 0 and the dead upload aborted; stderr:\n%s", code, stderr)
	}
	if n := v.uploads(t, admin, bucket); n != 0 {
		t.Errorf("%d multipart upload(s) left after the next run, want 0", n)
	}
	checkArchive(t, e, b.store(t, e), 2)
}

// versitygw is an S3 server of one test's own, which the test may kill and
// start again on the same port and data directory.
type versitygw struct {
	bin, dir, addr string
	env            storagetest.ServerEnv
	cmd            *exec.Cmd
	exited         chan struct{}
	log            lockedBuffer
}

// lockedBuffer is the server's output, written by exec's copying goroutines
// while a failing test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startVersitygw starts versitygw (installed by scripts/with-s3.sh) on a
// free loopback port. Without the binary the test is skipped, except under
// CI=true, where it fails.
func startVersitygw(t *testing.T) *versitygw {
	t.Helper()
	bin := filepath.Join(os.Getenv("HOME"), ".cache", "reelvault", "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no versitygw at %s: run tests via `make test`", bin)
		}
		t.Skipf("no versitygw at %s: run scripts/with-s3.sh once to install it", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	v := &versitygw{bin: bin, dir: t.TempDir(), addr: addr, env: storagetest.ServerEnv{
		Endpoint: "http://" + addr, AccessKey: "restart-test", SecretKey: rand.Text(),
	}}
	v.start(t)
	t.Cleanup(func() { v.kill(t) })
	return v
}

// start runs the server and waits for its health check, starting it again
// while the port is still held by the killed one.
func (v *versitygw) start(t *testing.T) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(v.bin, "--quiet", "posix", v.dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+v.env.AccessKey, "ROOT_SECRET_KEY="+v.env.SecretKey,
			"VGW_PORT="+v.addr, "VGW_HEALTH=/health")
		cmd.Stdout, cmd.Stderr = &v.log, &v.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		v.cmd, v.exited = cmd, make(chan struct{})
		go func(exited chan struct{}) { cmd.Wait(); close(exited) }(v.exited)
		if v.healthy(t) {
			return
		}
		if attempt == 50 {
			t.Fatalf("versitygw on %s exited %d times:\n%s", v.addr, attempt, v.log.String())
		}
	}
}

// healthy waits for /health; false when the server exited first.
func (v *versitygw) healthy(t *testing.T) bool {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.env.Endpoint+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-v.exited:
			return false
		case <-t.Context().Done():
			t.Fatalf("versitygw on %s never answered /health:\n%s", v.addr, v.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (v *versitygw) kill(t *testing.T) {
	select {
	case <-v.exited:
		return
	default:
	}
	if err := v.cmd.Process.Kill(); err != nil {
		t.Errorf("kill versitygw: %v", err)
	}
	<-v.exited
}

func (v *versitygw) admin(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(v.addr, &minio.Options{Creds: credentials.NewStaticV4(v.env.AccessKey, v.env.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uploads counts the unfinished multipart uploads under vault/.
func (v *versitygw) uploads(t *testing.T, admin *minio.Client, bucket string) int {
	t.Helper()
	n := 0
	for up := range admin.ListIncompleteUploads(t.Context(), bucket, "vault/", true) {
		if up.Err != nil {
			t.Fatalf("list multipart uploads: %v", up.Err)
		}
		n++
	}
	return n
}
