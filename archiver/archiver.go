// Package archiver is reelvault's engine: a poller that asks the gateway
// about every live task, and a scheduler that streams each finished video
// into storage before its signed URL expires, earliest expiry first.
package archiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	Clock      func() time.Time
	Logger     *slog.Logger
	Observer   Observer // [none]
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

	// progress collects the non-terminal replies of the poll batch in
	// flight; pollLoop writes them in one transaction when the batch is
	// done, instead of one autocommit UPDATE (and its WAL commit) per poll.
	progressMu sync.Mutex
	progress   []catalog.ProgressUpdate

	warnedMu sync.Mutex
	warned   map[string]bool // tasks already warned about an unknown status
}

// New returns an Archiver. It does not start anything.
func New(cat *catalog.DB, src taskSource, store storage.Store, opts Options) *Archiver {
	opts.defaults()
	return &Archiver{
		opts:        opts,
		cat:         cat,
		src:         src,
		store:       store,
		dl:          newDownloader(store, opts.StallTimeout, newURLPolicy(opts)),
		log:         opts.Logger,
		wakeArchive: make(chan struct{}, 1),
		wakePoll:    make(chan struct{}, 1),
		warned:      map[string]bool{},
	}
}

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
func (a *Archiver) Run(ctx context.Context, once bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			cancel(err)
		}
	}
	wg.Add(2)
	go func() { defer wg.Done(); fail(a.pollLoop(ctx, once)) }()
	go func() { defer wg.Done(); fail(a.archiveLoop(ctx)) }()
	if once {
		wg.Add(1)
		go func() { defer wg.Done(); fail(a.waitDone(ctx, cancel)) }()
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

// waitDone ends a --once run when nothing is left to do.
func (a *Archiver) waitDone(ctx context.Context, cancel context.CancelCauseFunc) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		live, pending, err := a.cat.Outstanding(ctx)
		if err != nil {
			return fmt.Errorf("check outstanding work: %w", err)
		}
		if pending == 0 && a.inflight.Load() == 0 && (live == 0 || a.keyRejected.Load()) {
			cancel(errDone)
			return nil
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
