package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/reelvault/reelvault/archiver"
)

// runStats counts what this run did; it is an archiver.Observer.
type runStats struct {
	polled, archived, bytes, lost atomic.Int64
}

func (s *runStats) Polled(string) { s.polled.Add(1) }
func (s *runStats) Archived(_ string, n int64, _, _ time.Duration) {
	s.archived.Add(1)
	s.bytes.Add(n)
}
func (s *runStats) Lost(string, string) { s.lost.Add(1) }

// observers fans archiver events out to several observers.
type observers []archiver.Observer

func (o observers) Polled(outcome string) {
	for _, x := range o {
		x.Polled(outcome)
	}
}

func (o observers) Archived(kind string, n int64, took, left time.Duration) {
	for _, x := range o {
		x.Archived(kind, n, took, left)
	}
}

func (o observers) Lost(kind, state string) {
	for _, x := range o {
		x.Lost(kind, state)
	}
}

// snapshot is one reading of a run's progress.
type snapshot struct {
	polled, archived, bytes, lost int64
	unfinished, toArchive         int   // tasks still polled; tasks whose videos are not all stored
	moving                        int   // videos in flight
	movingBytes                   int64 // bytes they have moved so far
}

func (s snapshot) String() string {
	return fmt.Sprintf("polled %d · in flight %d (%s) · archived %d (%s) · lost %d · left %d polling + %d archiving",
		s.polled, s.moving, humanBytes(s.movingBytes), s.archived, humanBytes(s.bytes), s.lost, s.unfinished, s.toArchive)
}

// progressView shows a --once run's progress until ctx ends. read takes a
// snapshot; it is called from the view's goroutine only.
type progressView interface {
	Run(ctx context.Context, read func(context.Context) snapshot)
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency for one bit.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// statsLine logs a compact progress line every interval: for cron mail and
// journald, where a bar would be noise.
type statsLine struct {
	log      *slog.Logger
	interval time.Duration
}

func (v statsLine) Run(ctx context.Context, read func(context.Context) snapshot) {
	tick := time.NewTicker(v.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s := read(ctx)
			v.log.Info("progress", "polled", s.polled, "archived", s.archived, "bytes", s.bytes, "lost", s.lost,
				"unfinished", s.unfinished, "to_archive", s.toArchive)
		}
	}
}

// progressBar draws one live bar on a terminal: done over done + left, with
// the counters beside it. Log lines go through it (see swapWriter) so they
// print above the bar instead of tearing it.
type progressBar struct {
	p *mpb.Progress
}

func newProgressBar(out io.Writer, extra ...mpb.ContainerOption) *progressBar {
	opts := append([]mpb.ContainerOption{mpb.WithOutput(out), mpb.WithRefreshRate(250 * time.Millisecond)}, extra...)
	return &progressBar{p: mpb.New(opts...)}
}

// Write prints log lines above the bar.
func (b *progressBar) Write(p []byte) (int, error) { return b.p.Write(p) }

func (b *progressBar) Run(ctx context.Context, read func(context.Context) snapshot) {
	var mu sync.Mutex
	var last snapshot
	bar := b.p.New(0, mpb.BarStyle(),
		mpb.PrependDecorators(decor.CountersNoUnit("%d/%d tasks")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return last.String()
		})),
	)
	// done grows as work leaves the queue; new work grows the total.
	var total, prevLeft int64 = 0, -1
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		s := read(ctx)
		left := int64(s.unfinished + s.toArchive)
		if prevLeft < 0 || left > prevLeft {
			total += left - max(prevLeft, 0)
		}
		prevLeft = left
		mu.Lock()
		last = s
		mu.Unlock()
		bar.SetTotal(total, false)
		bar.SetCurrent(total - left)
		select {
		case <-ctx.Done():
			bar.Abort(false)
			b.p.Wait()
			return
		case <-tick.C:
		}
	}
}

// swapWriter is the log's output: the progress bar while it runs, stderr
// before and after.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *swapWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}
