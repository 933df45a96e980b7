package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/simulator"
)

// The test binary doubles as the reelvault binary: with REELVAULT_BE_MAIN set
// it runs main, so end-to-end tests exercise the real process, exit codes
// and signals (kill -9 included) without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("REELVAULT_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// env is one working directory with a config file pointing at a simulator.
type env struct {
	dir    string
	config string
	sim    *simulator.Server
	url    string
	// pgURL is the env's Postgres catalog when the suite runs on Postgres
	// (catalogtest.Backend), "" on SQLite.
	pgURL string
}

// catalogYAML is the catalog section of an env's config: none on SQLite
// (the default path under the env), a fresh Postgres database otherwise.
func catalogYAML(t *testing.T) (yaml, pgURL string) {
	t.Helper()
	if catalogtest.Backend() != "postgres" {
		return "", ""
	}
	pgURL = catalogtest.PostgresURL(t)
	return fmt.Sprintf("catalog:\n  driver: postgres\n  postgres:\n    url: %s\n", pgURL), pgURL
}

// openCatalog opens the env's catalog, as the commands do.
func (e *env) openCatalog(t *testing.T) *catalog.DB {
	t.Helper()
	var cat *catalog.DB
	var err error
	if e.pgURL != "" {
		cat, err = catalog.OpenPostgres(t.Context(), e.pgURL)
	} else {
		cat, err = catalog.Open(t.Context(), e.catalogPath())
	}
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// sqliteOnly skips a test of what only the SQLite catalog has (its file,
// its lock) when the suite runs on Postgres.
func sqliteOnly(t *testing.T, why string) {
	t.Helper()
	if catalogtest.Backend() == "postgres" {
		t.Skip("SQLite catalog only: " + why)
	}
}

func newEnv(t *testing.T, cfg simulator.Config, extraYAML string) *env {
	t.Helper()
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	config := filepath.Join(dir, "reelvault.yaml")
	yaml := fmt.Sprintf(`api:
  base_url: %s
  api_key: sim-key
  poll_interval: 1s
  requests_per_second: 500
archive:
  concurrency: 4
  stall_timeout: 10s
%s`, srv.URL, extraYAML)
	if !strings.Contains(extraYAML, "server:") {
		// A free port: tests run side by side, and `run` serves HTTP.
		yaml += "\nserver:\n  listen: 127.0.0.1:0\n"
	}
	catYAML, pgURL := catalogYAML(t)
	yaml += "\n" + catYAML
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, config: config, sim: sim, url: srv.URL, pgURL: pgURL}
}

// command prepares `reelvault args...` in the env's directory.
func (e *env) command(ctx context.Context, stdin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "REELVAULT_BE_MAIN=1", "REELVAULT_CONFIG="+e.config)
	raceExitNow(cmd)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs reelvault to completion and returns its exit code and output.
func (e *env) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := e.command(ctx, stdin, args...)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("reelvault %v: %v", args, err)
		return -1, "", ""
	}
}

func (e *env) createTasks(n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(e.sim.CreateTask(simulator.TaskOptions{}) + "\n")
	}
	return b.String()
}
