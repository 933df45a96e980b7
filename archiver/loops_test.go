package archiver_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection of TestCatalogUnreachable

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/simulator"
)

// resultNow returns the task's result video as the catalog has it now, for
// waitFor (it does not fail the test while there is none yet).
func (f *fixture) resultNow(id string) catalog.Asset {
	got, err := f.cat.Get(f.t.Context(), id)
	if err != nil {
		return catalog.Asset{}
	}
	a, _ := got.Asset(catalog.KindResult)
	return a
}

// archivedNow reports whether the task's result video is archived.
func (f *fixture) archivedNow(id string) bool { return f.resultNow(id).State == catalog.AssetArchived }

// TestRejectedKeyMidBatchKeepsThePollerAlive: in one poll batch the gateway
// refuses the key for one task (which cancels the batch) while the reply for
// another is being recorded. That reply must be recorded all the same, and
// the daemon must go on polling: the key is asked about again, and a task
// tracked afterwards is polled and archived.
func TestRejectedKeyMidBatchKeepsThePollerAlive(t *testing.T) {
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := origin(t, video)
	f := newFixture(t, fsStore(t))
	const rejected, inFlight, later = "asyntask_key401", "asyntask_inflight", "asyntask_later"
	inHand := make(chan struct{}) // the reply for inFlight has arrived
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		if id == rejected && n == 0 {
			select { // refuse the key only once the other reply is in hand
			case <-inHand:
			case <-r.Context().Done():
				return
			}
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "invalid token", "type": "new_api_error"}})
			return
		}
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/" + id + ".mp4", duration: 5, resolution: "720p"})
	}
	f.opts.KeyRecheck = f.opts.PollInterval
	a := f.archiver(rejected, inFlight)
	var once sync.Once
	archiver.OnReply(a, func(ctx context.Context, id string) {
		if id != inFlight {
			return
		}
		// Hold this reply until the rejected key has cancelled its batch:
		// its catalog write then runs on a cancelled batch.
		once.Do(func() {
			close(inHand)
			select {
			case <-ctx.Done():
			case <-t.Context().Done():
			}
		})
	})
	stop := f.daemon(a)
	f.waitFor("both first tasks archived", func() bool { return f.archivedNow(rejected) && f.archivedNow(inFlight) })
	f.track(later)
	a.Wake()
	f.waitFor("the task tracked later archived", func() bool { return f.archivedNow(later) })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(f.pollTimes(inFlight)); n != 1 {
		t.Errorf("%s polled %d times, want 1: its reply, in hand when the batch was cancelled, must be recorded", inFlight, n)
	}
	if f.countLogs("gateway rejected the API key") != 1 {
		t.Errorf("the rejected key is not logged once:\n%s", f.logs)
	}
	f.assertArchived(later, catalog.KindResult, video)
	f.assertNothingFalse()
}

// TestCatalogLockedByAnotherProcess: another connection holds the
// catalog's write lock while a reply is to be recorded. The daemon must not
// die: the failed write stops the poll loop, which says so in the log and
// in Loops, and is restarted; once the lock is released the task is
// archived and the loop reports healthy again.
func TestCatalogLockedByAnotherProcess(t *testing.T) {
	if catalogtest.Backend() == "postgres" {
		t.Skip("SQLite catalog only: holds SQLite's file write lock from a second connection")
	}
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := origin(t, video)
	f := newFixture(t, fsStore(t))
	const id = "asyntask_locked"
	locked := make(chan struct{})
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-locked: // answer only once the catalog is locked
		case <-r.Context().Done():
			return
		}
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/" + id + ".mp4", duration: 5, resolution: "720p"})
	}
	a := f.archiver(id)
	stop := f.daemon(a)

	other, err := sql.Open("sqlite3", "file:"+f.path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	close(locked)
	f.waitFor("the poll loop's restart logged", func() bool { return f.countLogs("loop stopped on an error", "loop=poll", "locked") > 0 })
	if err := a.LoopsHealthy(); err == nil || !strings.Contains(err.Error(), "poll loop") {
		t.Errorf("LoopsHealthy = %v while the catalog is locked, want the poll loop's error", err)
	}
	if l := a.Loops()[0]; l.Name != "poll" || l.Restarts < 1 {
		t.Errorf("Loops()[0] = %+v, want the poll loop with a restart", l)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the task archived once the lock is released", func() bool { return f.archivedNow(id) })
	f.waitFor("the poll loop healthy again", func() bool { return a.LoopsHealthy() == nil })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.assertArchived(id, catalog.KindResult, video)
	f.assertNothingFalse()
}

// TestCatalogUnreachable is TestCatalogLockedByAnotherProcess on Postgres,
// whose writers wait for row locks rather than fail: the catalog's database
// stops taking connections, and those open are cut, while the daemon waits
// for a gateway reply. The daemon must not die: the poll loop stops, says
// so, and is restarted; once the database takes connections again the task
// is archived and the loops report healthy again.
func TestCatalogUnreachable(t *testing.T) {
	if catalogtest.Backend() != "postgres" {
		t.Skip("Postgres catalog only: TestCatalogLockedByAnotherProcess is the SQLite case")
	}
	video := simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 5})
	src, _ := origin(t, video)
	f := newFixture(t, fsStore(t))
	const id = "asyntask_unreachable"
	cut := make(chan struct{})
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-cut: // answer only once the catalog is unreachable
		case <-r.Context().Done():
			return
		}
		writeTask(w, id, taskSpec{status: "SUCCESS", resultURL: src.URL + "/" + id + ".mp4", duration: 5, resolution: "720p"})
	}
	a := f.archiver(id)
	stop := f.daemon(a)

	u, err := url.Parse(f.path)
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
	admin, err := sql.Open("pgx", os.Getenv(catalogtest.EnvPostgresURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the allow(true) below
	allow := func(on bool) {
		t.Helper()
		ctx := context.WithoutCancel(t.Context())
		if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS "+strconv.FormatBool(on)); err != nil {
			t.Fatal(err)
		}
	}
	allow(false)
	t.Cleanup(func() { allow(true) })
	if _, err := admin.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, strings.TrimPrefix(u.Path, "/")); err != nil {
		t.Fatal(err)
	}
	close(cut)
	f.waitFor("the poll loop's restart logged", func() bool { return f.countLogs("loop stopped on an error", "loop=poll") > 0 })
	if err := a.LoopsHealthy(); err == nil || !strings.Contains(err.Error(), "poll loop") {
		t.Errorf("LoopsHealthy = %v while the catalog is unreachable, want the poll loop's error", err)
	}
	if l := a.Loops()[0]; l.Name != "poll" || l.Restarts < 1 {
		t.Errorf("Loops()[0] = %+v, want the poll loop with a restart", l)
	}
	allow(true)
	f.waitFor("the task archived once the catalog is back", func() bool { return f.archivedNow(id) })
	f.waitFor("the loops healthy again", func() bool { return a.LoopsHealthy() == nil })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.assertArchived(id, catalog.KindResult, video)
	f.assertNothingFalse()
}

// failingBudget is a request budget that cannot be read, as a shared
// budget whose table is gone or whose row stays locked.
type failingBudget struct{ calls atomic.Int64 }

func (b *failingBudget) Wait(context.Context) error {
	b.calls.Add(1)
	return errors.New("relation \"rate_buckets\" does not exist")
}

// TestUnreadableBudgetIsALoudPollLoopError: when the request budget
// fails, polling must not stop silently (nor spin on the catalog): the poll
// loop stops on the error, says so in the log and in Loops, and backs off.
func TestUnreadableBudgetIsALoudPollLoopError(t *testing.T) {
	f := newFixture(t, fsStore(t))
	f.reply = func(id string, n int, w http.ResponseWriter, r *http.Request) {
		writeTask(w, id, taskSpec{status: "QUEUED"})
	}
	budget := &failingBudget{}
	f.opts.Limiter = budget
	a := f.archiver("asyntask_budget")
	stop := f.daemon(a)
	f.waitFor("the poll loop's restart logged", func() bool {
		return f.countLogs("loop stopped on an error", "loop=poll", "gateway request budget") > 0
	})
	if err := a.LoopsHealthy(); err == nil || !strings.Contains(err.Error(), "rate_buckets") {
		t.Errorf("LoopsHealthy = %v while the budget fails, want the poll loop's error", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(f.pollTimes("asyntask_budget")); n != 0 {
		t.Errorf("the gateway was polled %d times without a request from the budget", n)
	}
	if n := budget.calls.Load(); n > 100 {
		t.Errorf("the budget was asked %d times: the loop spins instead of backing off", n)
	}
}
