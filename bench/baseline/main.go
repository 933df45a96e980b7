// Command baseline is the yardstick reelvault's throughput is measured
// against: the simplest correct Go program that copies videos from signed
// URLs into a bucket. It GETs each URL and streams the body into the same
// storage driver's Put, a fixed number at once, with no catalog, no hashing,
// no verification beyond the HTTP status and the driver's own size check.
//
// It reads "key<TAB>url" lines on stdin and takes the bucket from the
// environment (BENCH_STORE_*), so `make bench` can run it as a process of
// its own and read its CPU time and peak RSS from the kernel.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/minio"
	"github.com/reelvault/reelvault/storage/s3"
)

func main() {
	stop := startProfile(os.Getenv("BENCH_BASELINE_CPUPROFILE"))
	err := run(context.Background())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// startProfile writes a CPU profile to path ("%p" replaced by the process
// id) until the returned function is called; an empty path does nothing.
// For comparing profiles with reelvault's (bench/README.md, Profiling).
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid())))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline: cpu profile:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

func run(ctx context.Context) error {
	store, err := openStore(ctx)
	if err != nil {
		return err
	}
	concurrency, err := strconv.Atoi(os.Getenv("BENCH_CONCURRENCY"))
	if err != nil || concurrency < 1 {
		return fmt.Errorf("BENCH_CONCURRENCY %q: want a positive number", os.Getenv("BENCH_CONCURRENCY"))
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		key, url, ok := strings.Cut(lines.Text(), "\t")
		if !ok {
			continue
		}
		g.Go(func() error { return copyOne(ctx, store, key, url) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return lines.Err()
}

// copyOne streams one URL into the store.
func copyOne(ctx context.Context, store storage.Store, key, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", key, resp.StatusCode)
	}
	if err := store.Put(ctx, key, resp.Body, resp.ContentLength, storage.PutOptions{ContentType: "video/mp4"}); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// openStore opens the driver named by BENCH_STORE_DRIVER on the bucket the
// benchmark created, with the same part size reelvault uses.
func openStore(ctx context.Context) (storage.Store, error) {
	env := os.Getenv
	part, err := strconv.ParseInt(env("BENCH_PART_SIZE"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("BENCH_PART_SIZE %q: %w", env("BENCH_PART_SIZE"), err)
	}
	switch d := env("BENCH_STORE_DRIVER"); d {
	case "s3":
		return s3.New(ctx, s3.Config{Bucket: env("BENCH_STORE_BUCKET"), Endpoint: env("BENCH_STORE_ENDPOINT"),
			ForcePathStyle: true, AccessKeyID: env("BENCH_STORE_ACCESS_KEY"),
			SecretAccessKey: env("BENCH_STORE_SECRET_KEY"), PartSize: part})
	case "minio":
		host := strings.TrimPrefix(env("BENCH_STORE_ENDPOINT"), "http://")
		return minio.New(ctx, minio.Config{Endpoint: host, Bucket: env("BENCH_STORE_BUCKET"),
			AccessKey: env("BENCH_STORE_ACCESS_KEY"), SecretKey: env("BENCH_STORE_SECRET_KEY"), PartSize: part})
	default:
		return nil, fmt.Errorf("BENCH_STORE_DRIVER %q: want s3 or minio", d)
	}
}
