package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// microBenchmarks are the hot-path benchmarks of issues 6 and 11, by package.
var microBenchmarks = []struct{ pkg, pattern string }{
	{"./gateway", "^(BenchmarkDecode|BenchmarkRedactReply)$"},
	{"./archiver", "^(BenchmarkFetch|BenchmarkVerifier)$"},
	{"./catalog", "^(BenchmarkDuePolls100k|BenchmarkProgress100k|BenchmarkNextPoll100k)$"},
	// Per request and per byte of each SDK driver, against the S3 server.
	{"./storage/s3", "^BenchmarkS3(Put3KiB|Put8MiB|Put40MiB|Stat)$"},
	{"./storage/minio", "^BenchmarkMinio(Put3KiB|Put8MiB|Put40MiB|Stat)$"},
}

// catalogScaleFile holds the 1,000,000-task catalog benchmarks of issue 4,
// written by another change; they are run when the file exists.
const catalogScaleFile = "catalog/bench_test.go"

// goBench is one Go benchmark, measured count times.
type goBench struct {
	name                 string
	nsPerOp, mbPerS      series
	bytesPerOp, allocsOp series
	extra                map[string]series // custom b.ReportMetric units
}

// goBenchmarks runs the micro-benchmarks and, when present, the catalog
// scale benchmarks, each -count=runs, and returns them in output order.
func goBenchmarks(ctx context.Context, o options, log *slog.Logger) (micro, scale []*goBench, scaleNote string, err error) {
	count := strconv.Itoa(o.runs)
	for _, m := range microBenchmarks {
		// Other changes land in this tree all the time: a package that does
		// not build right now costs its rows, not the whole report.
		out, err := goTest(ctx, m.pkg, "-bench", m.pattern, "-count", count)
		if err != nil {
			log.Error("micro-benchmarks failed", "package", m.pkg, "err", err)
			micro = append(micro, &goBench{name: m.pkg + ": go test failed, see the log"})
			continue
		}
		micro = append(micro, parseBench(out)...)
	}
	if _, err := os.Stat(catalogScaleFile); err != nil {
		return micro, nil, "see issue 4 benchmarks (" + catalogScaleFile + " not present when this ran)", nil
	}
	log.Info("catalog scale benchmarks", "file", catalogScaleFile)
	out, err := goTest(ctx, "./catalog", "-bench", ".", "-skip", "100k$", "-count", count)
	if err != nil {
		log.Error("catalog scale benchmarks failed", "err", err)
		return micro, nil, "see issue 4 benchmarks (`go test -bench . ./catalog` failed when this ran: " +
			strings.SplitN(err.Error(), "\n", 2)[0] + ")", nil
	}
	scale = parseBench(out)
	if len(scale) == 0 {
		scaleNote = "see issue 4 benchmarks (" + catalogScaleFile + " has no benchmark yet)"
	}
	return micro, scale, scaleNote, nil
}

func goTest(ctx context.Context, pkg string, args ...string) (string, error) {
	full := append([]string{"test", "-run", "^$", "-benchmem", "-timeout", "20m"}, args...)
	full = append(full, pkg)
	cmd := exec.CommandContext(ctx, "go", full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(full, " "), err, tail(string(out), 3000))
	}
	return string(out), nil
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench` output: one line per benchmark and run,
// "BenchmarkX-2  N  v unit  v unit ...".
func parseBench(out string) []*goBench {
	var order []*goBench
	byName := map[string]*goBench{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		b := byName[m[1]]
		if b == nil {
			b = &goBench{name: m[1], extra: map[string]series{}}
			byName[m[1]] = b
			order = append(order, b)
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				b.nsPerOp = append(b.nsPerOp, v)
			case "MB/s":
				b.mbPerS = append(b.mbPerS, v)
			case "B/op":
				b.bytesPerOp = append(b.bytesPerOp, v)
			case "allocs/op":
				b.allocsOp = append(b.allocsOp, v)
			default:
				b.extra[unit] = append(b.extra[unit], v)
			}
		}
	}
	return order
}
