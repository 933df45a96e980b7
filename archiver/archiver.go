// Package archiver is reelvault's engine: a poller that asks the gateway
// about every live task, and a scheduler that streams each finished video
// into storage before its signed URL expires, earliest expiry first.
package archiver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// ErrKeyRejected is returned by a --once run whose API key the gateway
// refused: tasks stay tracked, none is marked lost.
var ErrKeyRejected = errors.New("the gateway rejected the API key; polling stopped (no task was marked lost)")

// taskSource is what the poller needs of the gateway.
type taskSource interface {
	Task(ctx context.Context, id string) (*gateway.Task, []byte, error)
}

// Options tune an Archiver. Zero values take the defaults in brackets.
type Options struct {
	PollInterval      time.Duration // about how often a live task is polled [15s]
	RequestsPerSecond float64       // gateway request ceiling [5]
	PollWorkers       int           // polls in flight at once [4]
	GiveUpAfter       time.Duration // a task not terminal after this is given up [48h]
	Concurrency       int           // videos transferred at once [4]
	Prefix            string        // key prefix, "" or ending in "/"
	KeyTemplate       string        // a task's folder under Prefix [keytemplate.Default]
	StallTimeout      time.Duration // a transfer with no byte moving this long is aborted [60s]
	// MaxVideoBytes caps one video: a larger one is refused for good [4 GiB].
	MaxVideoBytes int64
	// MinBytesPerSecond aborts, to retry later, a transfer whose average
	// rate over RateWindow falls below it [16 KiB/s; negative: off].
	MinBytesPerSecond int64
	RateWindow        time.Duration // [30s]
	AllowHTTP         bool          // fetch http:// result URLs (the simulator needs it)
	// AllowedHosts, when not empty, lists the only hosts videos are fetched
	// from, redirects included: exact names or "*.example.com".
	AllowedHosts []string
	// AllowPrivateNetworks lets downloads connect to loopback, private and
	// link-local addresses (checked at dial time, after DNS). Off, a
	// compromised gateway cannot point reelvault at internal services. The
	// CLI turns it on (with AllowHTTP) when api.base_url is a loopback
	// address, as for the simulator, whose videos are served from loopback.
	AllowPrivateNetworks bool
	// PollBackoff and AssetBackoff space out retries after errors.
	PollBackoff  retry.Backoff // [5s .. 5m]
	AssetBackoff retry.Backoff // [5s .. 10m]
	// ExpiryGrace is how long after a URL's expected expiry transient errors
	// are still retried before the asset is declared expired [1h].
	ExpiryGrace time.Duration
	// RefreshWait is how long a refused video waits for the re-poll that
	// asks the gateway for a fresh URL before it is tried again [1m].
	RefreshWait time.Duration
	// KeyRecheck is how often a daemon whose key was rejected asks again [5m].
	KeyRecheck time.Duration
	// LoopBackoff spaces out the restarts of a loop that stopped on an
	// error, such as a catalog another process keeps locked [1s .. 1m].
	LoopBackoff retry.Backoff
	// Owner names this instance in the catalog's leases [hostname-pid],
	// and Lease is how long a claimed poll, task.json or transfer stays
	// this instance's before another may take it over [1m]. Transfers
	// renew theirs while the bytes move.
	Owner string
	Lease time.Duration
	// Limiter, when set, is the gateway request budget in place of one of
	// RequestsPerSecond in memory: the catalog's SharedLimiter, which every
	// instance on one Postgres catalog draws from.
	Limiter  Limiter
	Clock    func() time.Time
	Logger   *slog.Logger
	Observer Observer // [none]
}

// Limiter is the gateway's request budget: Wait returns when one request
// may be sent.
type Limiter interface {
	Wait(ctx context.Context) error
}

func (o *Options) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.PollInterval, 15*time.Second)
	set(&o.GiveUpAfter, 48*time.Hour)
	set(&o.StallTimeout, 60*time.Second)
	set(&o.ExpiryGrace, time.Hour)
	set(&o.KeyRecheck, 5*time.Minute)
	set(&o.RefreshWait, time.Minute)
	set(&o.RateWindow, 30*time.Second)
	set(&o.Lease, time.Minute)
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:6])
	}
	if o.MaxVideoBytes <= 0 {
		o.MaxVideoBytes = 4 << 30
	}
	if o.MinBytesPerSecond == 0 {
		o.MinBytesPerSecond = 16 << 10
	}
	if o.LoopBackoff.Base <= 0 {
		o.LoopBackoff = retry.Backoff{Base: time.Second, Max: time.Minute}
	}
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = 5
	}
	if o.PollWorkers <= 0 {
		o.PollWorkers = 4
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.PollBackoff.Base <= 0 {
		o.PollBackoff = retry.Backoff{Base: 5 * time.Second, Max: 5 * time.Minute}
	}
	if o.AssetBackoff.Base <= 0 {
		o.AssetBackoff = retry.Backoff{Base: 5 * time.Second, Max: 10 * time.Minute}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
}

// Archiver ties the gateway, the catalog and the store together.
type Archiver struct {
	opts  Options
	cat   *catalog.DB
	src   taskSource
	store storage.Store
	dl    *downloader
	log   *slog.Logger

	wakeArchive chan struct{} // a new asset may be due
	wakePoll    chan struct{} // a task may be due now
	keyRejected atomic.Bool
	inflight    atomic.Int64
	// limiter is the gateway's request budget (api.requests_per_second),
	// per API key and so shared by polls, discovery and, on Postgres, every
	// instance (Options.Limiter).
	limiter Limiter

	// progress collects the non-terminal replies of the poll batch in
	// flight; pollLoop writes them in one transaction when the batch is
	// done, instead of one autocommit UPDATE (and its WAL commit) per poll.
	progressMu sync.Mutex
	progress   []catalog.ProgressUpdate

	warnedMu sync.Mutex
	warned   map[string]bool // tasks already warned about an unknown status or time

	pollHealth, archiveHealth *loopHealth

	// onReply, when set (by tests), runs after the gateway answered a poll
	// and before the answer is recorded, with the poll's context.
	onReply func(ctx context.Context, id string)
}

// New returns an Archiver. It does not start anything.
func New(cat *catalog.DB, src taskSource, store storage.Store, opts Options) *Archiver {
	opts.defaults()
	if opts.Limiter == nil {
		opts.Limiter = rate.NewLimiter(rate.Limit(opts.RequestsPerSecond), 1)
	}
	lim := limits{stall: opts.StallTimeout, maxBytes: opts.MaxVideoBytes, minRate: opts.MinBytesPerSecond,
		rateWindow: opts.RateWindow}
	return &Archiver{
		opts:          opts,
		cat:           cat,
		src:           src,
		store:         store,
		dl:            newDownloader(store, lim, newURLPolicy(opts)),
		log:           opts.Logger,
		wakeArchive:   make(chan struct{}, 1),
		wakePoll:      make(chan struct{}, 1),
		limiter:       opts.Limiter,
		warned:        map[string]bool{},
		pollHealth:    &loopHealth{name: "poll"},
		archiveHealth: &loopHealth{name: "archive"},
	}
}

// WaitGateway takes one request from the gateway budget that polling uses,
// for other requests to the same gateway (discovery's listing), so that all
// of them together stay under api.requests_per_second.
func (a *Archiver) WaitGateway(ctx context.Context) error { return a.limiter.Wait(ctx) }

// Owner is this instance's name in the catalog's leases.
func (a *Archiver) Owner() string { return a.opts.Owner }

// Wake tells the poller that tasks were tracked and may be due now.
func (a *Archiver) Wake() { notify(a.wakePoll) }

// KeyRejected reports whether the gateway refused the API key and polling is
// paused, for readiness probes and metrics.
func (a *Archiver) KeyRejected() bool { return a.keyRejected.Load() }

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run polls and archives until ctx is done. With once set it returns as soon
// as every tracked task is terminal and every video of a finished task is
// archived, expired or refused; it returns ErrKeyRejected when the gateway
// refused the key, after archiving what it already knew about.
//
// The poll and archive loops are supervised: one that stops on an error
// while the run goes on (a catalog write that failed, the catalog locked by
// another process) is logged, shown by Loops and restarted with capped
// backoff. Only storage that refuses every object (missing bucket, rejected
// credentials, full disk) ends the run with an error: no video could be
// stored until someone fixes it, and retrying would only hide that.
func (a *Archiver) Run(ctx context.Context, once bool) error {
	if !a.cat.Postgres() {
		// One run holds a SQLite catalog: what a killed predecessor had
		// leased is nobody's now, and need not wait its lease out.
		if err := a.cat.ReleaseLeases(ctx, ""); err != nil {
			a.log.Warn("could not release the leases a killed run left; they run out by themselves", "err", err)
		}
	}
	// On the way out, hand what this instance holds to the others at once
	// (a killed one's leases run out instead).
	defer func() {
		rctx, cancel := recordCtx(ctx)
		defer cancel()
		if err := a.cat.ReleaseLeases(rctx, a.opts.Owner); err != nil {
			a.log.Warn("could not release this instance's leases; they run out by themselves", "err", err)
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		a.supervise(ctx, cancel, a.pollHealth, func(ctx context.Context) error { return a.pollLoop(ctx, once) })
	})
	wg.Go(func() { a.supervise(ctx, cancel, a.archiveHealth, a.archiveLoop) })
	if once {
		wg.Go(func() { a.waitDone(ctx, cancel) })
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, errDone) {
		return err
	}
	if a.keyRejected.Load() {
		return ErrKeyRejected
	}
	return nil
}

var errDone = errors.New("run complete")

// waitDone ends a --once run when nothing is left to do. A catalog that
// cannot be read for a while only delays the answer.
func (a *Archiver) waitDone(ctx context.Context, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		live, pending, err := a.cat.Outstanding(ctx)
		if err != nil {
			if !failing && ctx.Err() == nil {
				a.log.Warn("cannot count the work left; will ask again", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		if pending == 0 && a.inflight.Load() == 0 && (live == 0 || a.keyRejected.Load()) {
			cancel(errDone)
			return
		}
	}
}

// sleep waits for d, a wake-up, or the end of ctx.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// InFlight reports the videos being transferred right now and the bytes
// they have moved so far, for progress displays.
func (a *Archiver) InFlight() (videos int, bytes int64) {
	return int(a.dl.moving.Load()), a.dl.moved.Load()
}

// errLoopDone ends a loop that has nothing more to do while the run goes
// on: the poll loop of a --once run whose key was rejected.
var errLoopDone = errors.New("loop done")

// fatalError ends the run: a failure no restart can fix.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// recordTimeout bounds a catalog write that records what already happened
// (a reply, a stored video). Such a write runs on a context that a
// cancelled batch or shutdown does not cancel, so the work is not lost.
const recordTimeout = 30 * time.Second

// recordCtx returns the context for a catalog write that must finish even
// if ctx is cancelled meanwhile.
func recordCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// supervise runs loop until ctx ends, restarting it with backoff whenever
// it returns while the run is live: a loop that returns early stopped on a
// fault, and a loop that stays stopped loses videos silently. A fatalError
// ends the run instead.
func (a *Archiver) supervise(ctx context.Context, cancel context.CancelCauseFunc, h *loopHealth, loop func(context.Context) error) {
	for {
		err := loop(ctx)
		switch {
		case ctx.Err() != nil, errors.Is(err, errLoopDone):
			return
		case err == nil:
			err = errors.New("returned while the run goes on")
		}
		var fe *fatalError
		if errors.As(err, &fe) {
			cancel(fe.err)
			return
		}
		n, streak := h.failed(err)
		wait := a.opts.LoopBackoff.Delay(streak, err)
		a.log.Error("loop stopped on an error; restarting it", "loop", h.name, "err", err,
			"restarts", n, "retry_in", wait.Round(time.Millisecond))
		sleep(ctx, wait, nil)
	}
}

// loopHealth is what a supervised loop's restarts and last error were.
type loopHealth struct {
	name     string
	mu       sync.Mutex
	restarts int64
	streak   int   // failures since the loop last ran cleanly
	err      error // why it last stopped, until it runs cleanly again
}

func (h *loopHealth) failed(err error) (restarts int64, streak int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restarts++
	h.streak++
	h.err = err
	return h.restarts, h.streak
}

// ok records that the loop did its work without an error.
func (h *loopHealth) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.streak, h.err = 0, nil
}

func (h *loopHealth) status() LoopStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return LoopStatus{Name: h.name, Restarts: h.restarts, Err: h.err}
}

// LoopStatus is the health of one of the archiver's loops, for /readyz and
// metrics.
type LoopStatus struct {
	Name     string // "poll" or "archive"
	Restarts int64  // how often it stopped on an error and was restarted
	// Err is why it last stopped, until it has run cleanly since; nil when
	// it is healthy.
	Err error
}

// Loops reports the health of the poll and archive loops.
func (a *Archiver) Loops() []LoopStatus {
	return []LoopStatus{a.pollHealth.status(), a.archiveHealth.status()}
}

// LoopsHealthy returns an error naming every loop that stopped on an error
// and has not run cleanly since its restart, or nil.
func (a *Archiver) LoopsHealthy() error {
	var errs []error
	for _, l := range a.Loops() {
		if l.Err != nil {
			errs = append(errs, fmt.Errorf("%s loop restarted %d time(s), last after: %w", l.Name, l.Restarts, l.Err))
		}
	}
	return errors.Join(errs...)
}
