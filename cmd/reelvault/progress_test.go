package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/reelvault/reelvault/config"
)

// syncBuffer is a bytes.Buffer safe for the bar's render goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressBarShowsWhatTheRunDid(t *testing.T) {
	var out syncBuffer
	bar := newProgressBar(&out, mpb.WithAutoRefresh(), mpb.WithWidth(200)) // draw as on a wide terminal
	ctx, cancel := context.WithCancel(t.Context())
	reads := 0
	read := func(context.Context) snapshot {
		reads++
		if reads == 3 {
			cancel() // the run is over after the third reading
		}
		// Work drains: 5 left, then 3, then 0 of 5.
		left := []int{5, 3, 0}[reads-1]
		return snapshot{polled: 12, archived: int64(5 - left), bytes: int64(5-left) << 20, unfinished: left}
	}
	bar.Run(ctx, read)
	screen := out.String()
	for _, want := range []string{"5/5 tasks", "polled 12", "archived 5 (5.0 MiB)", "left 0 polling + 0 archiving"} {
		if !strings.Contains(screen, want) {
			t.Errorf("progress bar output lacks %q:\n%q", want, screen)
		}
	}
}

// notifyWriter hands every write to a channel.
type notifyWriter chan string

func (w notifyWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func TestStatsLineLogsProgressWithoutATerminal(t *testing.T) {
	lines := make(notifyWriter, 1)
	view := statsLine{log: newLogger(lines, config.Log{Level: "info", Format: "text"}), interval: time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		view.Run(ctx, func(context.Context) snapshot {
			return snapshot{polled: 7, archived: 2, bytes: 3 << 20, unfinished: 1, toArchive: 4}
		})
	}()
	var line string
	select {
	case line = <-lines:
	case <-t.Context().Done():
		t.Fatal("no progress line logged")
	}
	cancel()
	for { // drain lines logged meanwhile, until Run returns
		select {
		case <-lines:
			continue
		case <-done:
		}
		break
	}
	for _, want := range []string{"msg=progress", "polled=7", "archived=2", "bytes=3145728", "unfinished=1", "to_archive=4"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
}
