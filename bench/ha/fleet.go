package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// trial is one configuration measured: the catalog engine and how many
// `reelvault run` instances share it.
type trial struct {
	driver    string // "sqlite" or "postgres"
	instances int
}

func (t trial) String() string {
	if t.driver == "sqlite" {
		return "SQLite, 1 instance"
	}
	if t.instances == 1 {
		return "Postgres, 1 instance"
	}
	return fmt.Sprintf("Postgres, %d instances", t.instances)
}

// workload is what the simulator serves and how the instances are set up.
type workload struct {
	sim          simOptions
	rps          float64 // api.requests_per_second
	pollInterval time.Duration
}

// fleet is one trial's running world: a simulator with its tasks tracked
// in a fresh catalog, and the instances once started. close stops and
// removes everything.
type fleet struct {
	o         options
	t         trial
	dir       string
	sim       *simulator
	cat       *catalogDB
	cfgs      []string
	instances []*child
	pg        postgresCPU
}

// newFleet starts the simulator, creates the catalog and tracks the
// simulator's tasks in it with `reelvault track -`.
func newFleet(ctx context.Context, o options, t trial, w workload) (f *fleet, err error) {
	f = &fleet{o: o, t: t, pg: o.pg}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.dir, err = os.MkdirTemp(o.work, "trial."); err != nil {
		return f, err
	}
	if f.sim, err = startSimulator(ctx, o.reelvault, w.sim); err != nil {
		return f, err
	}
	if t.driver == "postgres" {
		if f.cat, err = newPostgresCatalog(ctx, o.pgAdmin); err != nil {
			return f, err
		}
	} else {
		f.cat = newSQLiteCatalog(filepath.Join(f.dir, "catalog.db"))
	}
	for i := range t.instances {
		path := filepath.Join(f.dir, fmt.Sprintf("reelvault-%d.yaml", i+1))
		if err := os.WriteFile(path, []byte(f.config(i+1, w)), 0o600); err != nil {
			return f, err
		}
		f.cfgs = append(f.cfgs, path)
	}
	cmd := f.reelvault(ctx, f.cfgs[0], "track", "-")
	cmd.Stdin = strings.NewReader(strings.Join(f.sim.ids, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return f, fmt.Errorf("track: %w\n%s", err, out)
	}
	return f, f.cat.open()
}

// config is instance i's reelvault.yaml. The Postgres URL, which holds
// the password, comes from the environment (reelvault expands ${HA_PG_URL}).
func (f *fleet) config(i int, w workload) string {
	return fmt.Sprintf(`api:
  base_url: %s
  api_key: sim-key
  poll_interval: %s
  requests_per_second: %s
catalog:
  driver: %s
  path: %s
  postgres:
    url: ${HA_PG_URL:-}
  instance_id: ha-%d
storage:
  driver: fs
  fs:
    root: %s
archive:
  concurrency: %d
server:
  listen: 127.0.0.1:0
log:
  level: warn
`, f.sim.url, w.pollInterval, strconv.FormatFloat(w.rps, 'f', -1, 64), f.t.driver, filepath.Join(f.dir, "catalog.db"), i,
		filepath.Join(f.dir, "objects"), f.o.concurrency)
}

// reelvault is the reelvault binary with a config and arguments.
func (f *fleet) reelvault(ctx context.Context, cfg string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, f.o.reelvault, append([]string{"--config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "HA_PG_URL="+f.cat.url)
	// On the driver's interrupt the instances stop as on a signal, cleanly.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopTimeout
	return cmd
}

// start starts every instance with `run` and args.
func (f *fleet) start(ctx context.Context, args ...string) error {
	for i, cfg := range f.cfgs {
		c, err := startChild(fmt.Sprintf("instance %d", i+1), f.reelvault(ctx, cfg, append([]string{"run"}, args...)...))
		if err != nil {
			return err
		}
		f.instances = append(f.instances, c)
	}
	return nil
}

// stopInstances stops every instance (SIGTERM) and returns the first
// failure.
func (f *fleet) stopInstances() error {
	var first error
	for _, c := range f.instances {
		if err := c.stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close stops everything newFleet and start started and removes the
// trial's files and database.
func (f *fleet) close() {
	f.stopInstances()
	if f.sim != nil {
		f.sim.stop()
	}
	if f.cat != nil {
		if err := f.cat.close(); err != nil {
			fmt.Fprintln(os.Stderr, "ha: drop trial database:", err)
		}
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// cpuSnap is the CPU time used so far by the instances, the simulator,
// the Postgres server and the whole machine.
type cpuSnap struct {
	at                        time.Time
	reelvault, sim, pg, total time.Duration
}

func (f *fleet) snap() cpuSnap {
	s := cpuSnap{at: time.Now()}
	for _, c := range f.instances {
		if d, err := c.cpu(); err == nil {
			s.reelvault += d
		}
	}
	s.sim, _ = f.sim.cpu()
	s.pg, _ = f.pg.cpu()
	s.total, _ = machineCPU()
	return s
}

// cpuUse is the CPU seconds used between two snapshots, by whom.
type cpuUse struct {
	wall                             time.Duration
	reelvault, sim, pg, total, other float64 // seconds
}

func used(a, b cpuSnap) cpuUse {
	u := cpuUse{
		wall:      b.at.Sub(a.at),
		reelvault: (b.reelvault - a.reelvault).Seconds(),
		sim:       (b.sim - a.sim).Seconds(),
		pg:        (b.pg - a.pg).Seconds(),
		total:     (b.total - a.total).Seconds(),
	}
	u.other = max(u.total-u.reelvault-u.sim-u.pg, 0)
	return u
}

// busy is the share of the machine's CPUs in use, 0 to 1.
func (u cpuUse) busy(cpus int) float64 {
	return u.total / (u.wall.Seconds() * float64(cpus))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exitedEarly returns an error when an instance that should be running
// has exited.
func (f *fleet) exitedEarly() error {
	for _, c := range f.instances {
		select {
		case <-c.done:
			return fmt.Errorf("%s exited while it should run: %v\n%s", c.name, c.err, c.stderr.String())
		default:
		}
	}
	return nil
}
