package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// usage is what the kernel says one child process cost.
type usage struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes, the process's peak resident set
}

// measure runs cmd to completion and returns its own cost: wall time from
// start to exit, user+system CPU time (getrusage of the child) and peak RSS,
// so the driver's simulator and the S3 server are never counted.
//
// Peak RSS is not getrusage's ru_maxrss: Linux carries the high-water mark
// of the forked, not yet exec'd child, which is the driver's own RSS, into
// it (exec keeps the larger of the two), and the driver holds the simulator.
// It is VmHWM of the exec'd process instead, sampled from /proc every 10 ms;
// VmHWM only grows, so the last sample misses at most a final 10 ms spike.
func measure(cmd *exec.Cmd) (usage, error) {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return usage{}, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	err := cmd.Wait()
	u := usage{wall: time.Since(start), maxRSS: hwm()}
	if ps := cmd.ProcessState; ps != nil {
		u.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return u, fmt.Errorf("%s: %w\n%s", cmd.Path, err, tail(stderr.String(), 2000))
	}
	return u, nil
}

// watchHWM samples the VmHWM of process pid until the returned function is
// called, which returns the highest value seen, in bytes.
func watchHWM(pid int) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := vmHWM(pid); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// vmHWM reads a live process's peak resident set size from /proc.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procCPU reads a live process's user+system CPU time from /proc.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may contain spaces, in parens.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// series is one figure measured several times.
type series []float64

func (s series) sorted() series {
	c := append(series(nil), s...)
	sort.Float64s(c)
	return c
}

func (s series) median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := s.sorted()
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// format prints "median (min–max)" with prec decimals.
func (s series) format(prec int) string {
	if len(s) == 0 {
		return "n/a"
	}
	c := s.sorted()
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if len(c) == 1 {
		return f(c[0])
	}
	return f(s.median()) + " (" + f(c[0]) + "–" + f(c[len(c)-1]) + ")"
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
