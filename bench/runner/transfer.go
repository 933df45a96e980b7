package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
)

// transferFigures are one program's figures on one driver, one value per run.
type transferFigures struct {
	videosPerMin, mibPerSec, cpuPerGiB, rssMiB series
}

func (f *transferFigures) add(u usage, videos int, bytes int64) {
	f.videosPerMin = append(f.videosPerMin, float64(videos)/u.wall.Minutes())
	f.mibPerSec = append(f.mibPerSec, float64(bytes)/(1<<20)/u.wall.Seconds())
	f.cpuPerGiB = append(f.cpuPerGiB, u.cpu.Seconds()/(float64(bytes)/(1<<30)))
	f.rssMiB = append(f.rssMiB, float64(u.maxRSS)/(1<<20))
}

// scenario is one transfer workload.
type scenario struct {
	videos      int
	videoBytes  int64
	concurrency int   // archive.concurrency, and the baseline's errgroup
	bytesPerSec int64 // per-download limit at the origin; 0 = none
}

// transferResult is one scenario (throughput, big video, network-bound) on
// both drivers.
type transferResult struct {
	scenario
	reelvault   map[string]*transferFigures // by driver
	baseline    map[string]*transferFigures
	ratio       map[string]series // reelvault MiB/s / baseline MiB/s, paired per run
	wallSeconds series
}

var drivers = []string{"s3", "minio"}

// benchTransfers moves sc.videos videos of sc.videoBytes each, runs times,
// with reelvault and with the baseline, into each driver. The two programs
// run back to back on the same driver in every round, alternating which goes
// first, so that a burst of load from the machine's other tenants hits both
// alike; the ratio is taken per round.
func benchTransfers(ctx context.Context, o options, env s3Env, log *slog.Logger, sc scenario) (*transferResult, error) {
	videos, videoBytes := sc.videos, sc.videoBytes
	o.concurrency = sc.concurrency
	org, err := startSimulator(videoBytes, sc.bytesPerSec)
	if err != nil {
		return nil, err
	}
	defer org.stop()
	res := &transferResult{scenario: sc, reelvault: map[string]*transferFigures{},
		baseline: map[string]*transferFigures{}, ratio: map[string]series{}}
	for _, d := range drivers {
		res.reelvault[d], res.baseline[d] = &transferFigures{}, &transferFigures{}
	}
	total := int64(videos) * videoBytes
	for round := range o.runs {
		for _, d := range drivers {
			programs := []string{"reelvault", "baseline"}
			if round%2 == 1 {
				programs = []string{"baseline", "reelvault"}
			}
			var mibs [2]float64
			for _, p := range programs {
				u, err := transferOnce(ctx, o, env, org, p, d, videos, videoBytes)
				if err != nil {
					return nil, fmt.Errorf("%s into %s, run %d: %w", p, d, round+1, err)
				}
				figs, slot := res.reelvault[d], 0
				if p == "baseline" {
					figs, slot = res.baseline[d], 1
				}
				figs.add(u, videos, total)
				mibs[slot] = float64(total) / (1 << 20) / u.wall.Seconds()
				log.Info("transfer run", "program", p, "driver", d, "run", round+1, "wall", u.wall.Round(time.Millisecond),
					"cpu", u.cpu.Round(time.Millisecond), "rss_mib", u.maxRSS>>20, "mib_s", int(mibs[slot]))
			}
			res.ratio[d] = append(res.ratio[d], mibs[0]/mibs[1])
		}
	}
	return res, nil
}

// transferOnce runs one program once into a fresh bucket and checks that
// every video arrived whole.
func transferOnce(ctx context.Context, o options, env s3Env, org *origin, program, driver string, videos int, videoBytes int64) (usage, error) {
	bucket, err := env.newBucket(ctx)
	if err != nil {
		return usage{}, fmt.Errorf("create bucket: %w", err)
	}
	defer func() {
		if err := env.drop(context.WithoutCancel(ctx), bucket); err != nil {
			slog.Warn("bench: could not remove bucket", "bucket", bucket, "err", err)
		}
	}()
	ids := org.newTasks(videos)
	var u usage
	if program == "reelvault" {
		u, err = runReelvault(ctx, o, env, org, driver, bucket, ids)
	} else {
		u, err = runBaseline(ctx, o, env, org, driver, bucket, ids)
	}
	if err != nil {
		return u, err
	}
	n, err := env.videosIn(ctx, bucket, videoBytes)
	if err != nil {
		return u, fmt.Errorf("list bucket: %w", err)
	}
	if n != videos {
		return u, fmt.Errorf("%d of %d videos of %d bytes in the bucket", n, videos, videoBytes)
	}
	return u, nil
}

// runReelvault tracks ids in a fresh catalog and measures `reelvault run
// --once`: polling every task, then archiving, verifying and cataloguing
// every video, then writing every task.json.
func runReelvault(ctx context.Context, o options, env s3Env, org *origin, driver, bucket string, ids []string) (usage, error) {
	dir, err := os.MkdirTemp(o.work, "run.")
	if err != nil {
		return usage{}, err
	}
	defer os.RemoveAll(dir)
	cfg, catPath, err := writeConfig(dir, org.url, driver, bucket, env, o, "15s")
	if err != nil {
		return usage{}, err
	}
	if err := track(ctx, catPath, ids); err != nil {
		return usage{}, err
	}
	cmd := o.reelvaultCmd(ctx, "--config", cfg, "run", "--once", "--deadline", "30m")
	u, err := measure(cmd)
	if err != nil {
		return u, err
	}
	cat, err := catalog.Open(ctx, catPath)
	if err != nil {
		return u, err
	}
	defer cat.Close()
	done, err := cat.List(ctx, catalog.Filter{ArchiveState: catalog.ArchiveArchived})
	if err != nil {
		return u, err
	}
	if len(done) != len(ids) {
		return u, fmt.Errorf("catalog: %d of %d tasks archived", len(done), len(ids))
	}
	return u, nil
}

// runBaseline resolves the tasks' video URLs (not measured) and measures
// the baseline program copying them.
func runBaseline(ctx context.Context, o options, env s3Env, org *origin, driver, bucket string, ids []string) (usage, error) {
	gw := gateway.NewClient(org.url, "sim-key", nil)
	var list strings.Builder
	for _, id := range ids {
		t, _, err := gw.Task(ctx, id)
		if err != nil {
			return usage{}, err
		}
		fmt.Fprintf(&list, "baseline/%s/result.mp4\t%s\n", id, t.VideoURL())
	}
	cmd := exec.CommandContext(ctx, o.baseline)
	cmd.Stdin = strings.NewReader(list.String())
	cmd.Env = append(os.Environ(),
		"BENCH_STORE_DRIVER="+driver, "BENCH_STORE_ENDPOINT="+env.endpoint, "BENCH_STORE_BUCKET="+bucket,
		"BENCH_STORE_ACCESS_KEY="+env.accessKey, "BENCH_STORE_SECRET_KEY="+env.secretKey,
		"BENCH_PART_SIZE="+strconv.FormatInt(o.partSize, 10), "BENCH_CONCURRENCY="+strconv.Itoa(o.concurrency))
	return measure(cmd)
}
