package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// Check is one readiness condition of GET /readyz.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// CatalogWritable checks that the catalog can be written: SQLite's write
// lock can be taken, or the Postgres server answers a write transaction.
// A failure names the catalog (the file, or the Postgres host and
// database), never a password.
func CatalogWritable(cat *catalog.DB) Check {
	return Check{Name: "catalog", Check: func(ctx context.Context) error {
		if err := cat.CheckWritable(ctx); err != nil {
			return fmt.Errorf("%s: %w", cat.Where(), err)
		}
		return nil
	}}
}

// StorageReachable asks the store about a key that should not exist: "not
// found" proves the bucket answers and the credentials are accepted, with
// nothing written.
func StorageReachable(store storage.Store, prefix string) Check {
	return Check{Name: "storage", Check: func(ctx context.Context) error {
		_, err := store.Stat(ctx, prefix+".reelvault-readyz-probe")
		if err == nil || errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s unreachable: %w", store.Location(), err)
	}}
}

// KeyAccepted fails while the gateway rejects the API key.
func KeyAccepted(rejected func() bool) Check {
	return Check{Name: "api_key", Check: func(context.Context) error {
		if rejected() {
			return errors.New("the gateway rejected the API key; polling is stopped (check api.api_key)")
		}
		return nil
	}}
}

// LoopsRunning fails while one of the archiver's loops stopped on an error
// and has not run cleanly since its restart: failing says which and why.
func LoopsRunning(failing func() error) Check {
	return Check{Name: "loops", Check: func(context.Context) error { return failing() }}
}

// readyReply is the body of GET /readyz: each check's verdict, "ok" or why not.
type readyReply struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// readyz runs every check (each bounded to 5 s) and answers 200 only when
// all pass, 503 otherwise.
func readyz(checks []Check, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		reply := readyReply{Ready: true, Checks: map[string]string{}}
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				reply.Ready = false
				reply.Checks[c.Name] = err.Error()
				log.Warn("not ready", "check", c.Name, "err", err)
				continue
			}
			reply.Checks[c.Name] = "ok"
		}
		status := http.StatusOK
		if !reply.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, reply)
	})
}
