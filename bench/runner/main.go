// Command runner is `make bench`: it measures reelvault against the
// simplest correct copy program, on loopback, and writes bench/results.md.
//
// It expects the S3 server of scripts/with-s3.sh (REELVAULT_TEST_S3_*), the
// reelvault binary and the baseline binary (bench/baseline) already built.
// The simulator runs inside this process as the gateway and video origin;
// reelvault and the baseline each run as a process of their own, so their
// CPU time and peak RSS are read from the kernel and are theirs alone.
//
// BENCH_QUICK=1 runs a smaller, faster version for development.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the knobs of one benchmark run.
type options struct {
	reelvault, baseline string // binaries
	out                 string // results.md
	work                string // scratch directory for catalogs and configs
	runs                int
	videos              int   // throughput: videos per run
	videoBytes          int64 // throughput: bytes per video
	bigBytes            int64 // big video size
	concurrency         int
	partSize            int64
	netVideos           int   // network-bound: videos per run
	netConcurrency      int   // network-bound: downloads at once
	netRate             int64 // network-bound: bytes per second per download
	pollTasks           int   // tracked unfinished tasks
	pollWarmup, polls   int   // polls not measured, then measured
	goBench             bool
	quick               bool
	only                string // comma-separated sections, empty = all
	// wrap prefixes every reelvault command, for profiling with an outside
	// tool (e.g. "perf record -g -o /tmp/rv.perf --"); the figures of such a
	// run measure the wrapper, not reelvault.
	wrap []string
}

func main() {
	var o options
	flag.StringVar(&o.reelvault, "reelvault", "bin/reelvault", "reelvault binary")
	flag.StringVar(&o.baseline, "baseline", "bin/bench-baseline", "baseline binary (bench/baseline)")
	flag.StringVar(&o.out, "out", "bench/results.md", "markdown results file")
	flag.IntVar(&o.runs, "runs", 3, "runs of every measurement (the median is reported)")
	flag.BoolVar(&o.goBench, "gobench", true, "also run the Go micro-benchmarks and the catalog-scale benchmarks")
	flag.StringVar(&o.only, "only", "", "run only these sections: throughput,big,network,polls,gobench")
	flag.Int64Var(&o.netRate, "net-rate", 8<<20, "network-bound case: bytes per second per download")
	wrap := flag.String("wrap", "", "prefix every reelvault command with this (profiling only; the figures are then wrong)")
	flag.Parse()
	o.wrap = strings.Fields(*wrap)
	o.quick = os.Getenv("BENCH_QUICK") == "1"
	o.videos, o.videoBytes, o.bigBytes = 200, 8<<20, 2<<30
	o.concurrency, o.partSize = 4, 16<<20
	o.netVideos, o.netConcurrency = 64, 8
	o.pollTasks, o.pollWarmup, o.polls = 100_000, 500, 5000
	if o.quick {
		o.videos, o.bigBytes, o.polls, o.netVideos = 40, 256<<20, 2000, 32
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, o, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	began := time.Now()
	dir, err := os.MkdirTemp("", "reelvault-bench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.work = dir
	env, err := s3FromEnv()
	if err != nil {
		return err
	}
	want := func(section string) bool {
		return o.only == "" || strings.Contains(","+o.only+",", ","+section+",")
	}
	r := &report{
		opts: o, started: began.UTC(), cpu: cpuModel(), cores: runtime.NumCPU(),
		loadBefore: loadAverage(), goVersion: runtime.Version(),
	}
	if want("throughput") {
		log.Info("throughput", "videos", o.videos, "bytes", o.videoBytes, "runs", o.runs)
		sc := scenario{videos: o.videos, videoBytes: o.videoBytes, concurrency: o.concurrency}
		if r.throughput, err = benchTransfers(ctx, o, env, log, sc); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if want("big") {
		log.Info("big video", "bytes", o.bigBytes, "runs", o.runs)
		sc := scenario{videos: 1, videoBytes: o.bigBytes, concurrency: o.concurrency}
		if r.big, err = benchTransfers(ctx, o, env, log, sc); err != nil {
			return fmt.Errorf("big video: %w", err)
		}
	}
	if want("network") {
		sc := scenario{videos: o.netVideos, videoBytes: o.videoBytes, concurrency: o.netConcurrency, bytesPerSec: o.netRate}
		log.Info("network-bound", "videos", sc.videos, "bytes", sc.videoBytes, "concurrency", sc.concurrency,
			"bytes_per_sec", sc.bytesPerSec, "runs", o.runs)
		if r.network, err = benchTransfers(ctx, o, env, log, sc); err != nil {
			return fmt.Errorf("network-bound: %w", err)
		}
	}
	if want("polls") {
		log.Info("poll scale", "tasks", o.pollTasks, "polls", o.polls, "runs", o.runs)
		if r.polls, err = benchPolls(ctx, o, log); err != nil {
			return fmt.Errorf("poll scale: %w", err)
		}
	}
	if o.goBench && want("gobench") {
		log.Info("go micro-benchmarks")
		if r.micro, r.catalogScale, r.catalogNote, err = goBenchmarks(ctx, o, log); err != nil {
			return fmt.Errorf("go benchmarks: %w", err)
		}
	}
	r.loadAfter = loadAverage()
	r.took = time.Since(began)
	md := r.markdown()
	fmt.Print(md)
	if o.only != "" {
		log.Info("partial run: results file left alone", "only", o.only)
		return nil
	}
	return os.WriteFile(o.out, []byte(md), 0o644)
}
