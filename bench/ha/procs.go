package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a child gets to exit after SIGTERM before it is
// killed.
const stopTimeout = 30 * time.Second

// child is one process the driver started: a simulator or a reelvault
// instance. Its stderr is kept (the last 4 KiB) for error messages.
type child struct {
	name   string
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{} // closed when it has exited and been reaped
	err    error         // Wait's result, set before done closes
	exited time.Time
}

// startChild starts cmd and reaps it in the background.
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, stderr: &tailBuffer{max: 4096}, done: make(chan struct{})}
	if cmd.Stderr == nil {
		cmd.Stderr = c.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		c.exited = time.Now()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM and waits for the exit, killing the process after
// stopTimeout. It returns what the process exited with, nil on a clean
// exit after the signal.
func (c *child) stop() error {
	select {
	case <-c.done:
		return c.exitErr()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", c.name, stopTimeout)
	}
	return c.exitErr()
}

func (c *child) exitErr() error {
	if c.err != nil {
		return fmt.Errorf("%s: %w\n%s", c.name, c.err, c.stderr.String())
	}
	return nil
}

// cpu is the process's user+system time: from the kernel's accounting
// once it has exited, from /proc while it runs.
func (c *child) cpu() (time.Duration, error) {
	select {
	case <-c.done:
		ps := c.cmd.ProcessState
		return ps.UserTime() + ps.SystemTime(), nil
	default:
		return procCPU(c.cmd.Process.Pid, false)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// simOptions are the simulator flags a scenario sets.
type simOptions struct {
	tasks       int
	seed        int64
	runFor      time.Duration
	videoBytes  int64
	failureRate float64
}

// simulator is `reelvault simulate` on a free loopback port, with the ids
// of the tasks it created at start.
type simulator struct {
	*child
	url string
	ids []string
}

// startSimulator starts the simulator, waits until it listens and has
// printed its task ids. Tasks skip NOT_START and QUEUED: they run for
// runFor from the moment they are created, then end SUCCESS or FAILURE.
func startSimulator(ctx context.Context, bin string, o simOptions) (*simulator, error) {
	cmd := exec.CommandContext(ctx, bin, "--log-format", "json", "simulate", "--listen", "127.0.0.1:0",
		"--tasks", strconv.Itoa(o.tasks), "--seed", strconv.FormatInt(o.seed, 10),
		"--not-start-for", "0", "--queued-for", "0", "--run-for", o.runFor.String(),
		"--video-bytes", strconv.FormatInt(o.videoBytes, 10),
		"--failure-rate", strconv.FormatFloat(o.failureRate, 'f', -1, 64), "--sr-rate", "0.3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	c, err := startChild("simulator", cmd)
	if err != nil {
		return nil, err
	}
	go func() { <-c.done; pw.Close() }()
	// The listening line gives the address; the log is drained after it
	// into the child's tail so the simulator never blocks on a full pipe.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Bytes()
			c.stderr.Write(line)
			c.stderr.Write([]byte{'\n'})
			var l struct{ Msg, Addr string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "simulator listening" {
				addr <- l.Addr
			}
		}
		io.Copy(io.Discard, pr)
	}()
	s := &simulator{child: c}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			s.ids = append(s.ids, id)
		}
	}
	if len(s.ids) != o.tasks {
		s.stop()
		return nil, fmt.Errorf("simulator printed %d task ids, want %d\n%s", len(s.ids), o.tasks, c.stderr.String())
	}
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-c.done:
		return nil, fmt.Errorf("simulator exited: %v\n%s", c.err, c.stderr.String())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("simulator did not say where it listens within 30s")
	}
	return s, nil
}

// pollStats is the simulator's /_sim/poll-stats reply (the fields used).
type pollStats struct {
	Total                int       `json:"total"`
	MaxConcurrentPerTask int       `json:"max_concurrent_per_task"`
	MaxInWindow          int       `json:"max_in_window"`
	First                time.Time `json:"first"`
	Last                 time.Time `json:"last"`
}

// pollStats reads the simulator's count of task polls, with the busiest
// window of the given length.
func (s *simulator) pollStats(ctx context.Context, window time.Duration) (pollStats, error) {
	var st pollStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/_sim/poll-stats?window="+window.String(), nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("poll stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("poll stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procCPU reads a live process's user+system CPU time from /proc; with
// children set, it adds the time of its children that have exited and been
// reaped (cutime, cstime).
func procCPU(pid int, children bool) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may contain spaces, in parens.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := 2
	if children {
		n = 4
	}
	var ticks int64
	for _, s := range f[11 : 11+n] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %q: %w", pid, s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// postgresCPU is the CPU time of the Postgres server of
// scripts/with-postgres.sh: the postmaster, its live children (backends,
// background workers) and those that have exited. It finds the postmaster
// through the pg-stop helper's directory; without it, it returns an error
// and the figure is left out.
type postgresCPU struct{ pid int }

func findPostgres() (postgresCPU, error) {
	stop := os.Getenv("REELVAULT_TEST_PG_STOP")
	if stop == "" {
		return postgresCPU{}, errors.New("REELVAULT_TEST_PG_STOP unset")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(stop), "data", "postmaster.pid"))
	if err != nil {
		return postgresCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return postgresCPU{}, fmt.Errorf("postmaster.pid: %w", err)
	}
	return postgresCPU{pid: pid}, nil
}

func (p postgresCPU) cpu() (time.Duration, error) {
	if p.pid == 0 {
		return 0, errors.New("no postgres server found")
	}
	total, err := procCPU(p.pid, true)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(p.pid) {
			continue
		}
		if t, err := procCPU(pid, true); err == nil {
			total += t
		}
	}
	return total, nil
}

// machineCPU is the busy time of all CPUs together (everything but idle
// and iowait in /proc/stat): what every process on the box used, other
// engineers' included.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", s, err)
		}
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal, guest (guest is already in user)
			continue
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
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
