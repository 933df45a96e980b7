// Package discovery finds the account's tasks by itself, from the gateway's
// dashboard listing, so that a video created from the gateway's playground,
// a teammate's script or an app nobody can change is archived too. It only
// learns ids: every id it finds is tracked like one given on the command
// line, and the poll of GET /v1/video/generations/{id} stays the record.
//
// The listing has no cursor: it is newest first by offset, so rows shift
// while a client pages. A pass fixes the end of its time window when it
// starts (tasks created later fall outside it, on a gateway that honours the
// window) and keeps every id it has seen; a row pushed onto the next page is
// seen twice, never skipped. A pass that finds fewer distinct rows than the
// gateway counted sweeps the window once more.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
)

// lister is what discovery needs of the gateway: gateway.Dashboard.
type lister interface {
	ListTasks(ctx context.Context, q gateway.ListQuery) (gateway.TaskPage, error)
}

// Tracker records ids found by discovery and returns those it did not know.
type Tracker interface {
	TrackDiscovered(ctx context.Context, ids []string, now time.Time) (added []string, err error)
}

// Observer hears what discovery does, for metrics.
type Observer interface {
	Discovered(n int)              // ids newly tracked by a pass
	ListingSucceeded(at time.Time) // a pass read the whole window
}

// Options tune a Discoverer. Zero values take the defaults in brackets.
type Options struct {
	Interval time.Duration // between passes of Run [5m]
	Lookback time.Duration // how far back the first pass and every catch-up reach [48h]
	// Overlap is how far before the previous pass's end the next one
	// starts, for gateway clock skew and rows committed late [10m].
	Overlap time.Duration
	// MaxPages bounds one sweep of a window [500, 50,000 tasks].
	MaxPages int
	// ValidID filters ids that reelvault cannot track [all non-empty].
	ValidID func(string) bool
	// Wait takes one request from the gateway budget that polling shares
	// (the rate limit is per account, not per endpoint) [no limit].
	Wait func(context.Context) error
	// Backoff spaces the retries of a page after a transient error [1s .. 30s].
	Backoff  retry.Backoff
	Clock    func() time.Time
	Logger   *slog.Logger
	Observer Observer
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Minute
	}
	if o.Lookback <= 0 {
		o.Lookback = 48 * time.Hour
	}
	if o.Overlap <= 0 {
		o.Overlap = 10 * time.Minute
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 500
	}
	if o.ValidID == nil {
		o.ValidID = func(id string) bool { return id != "" }
	}
	if o.Wait == nil {
		o.Wait = func(ctx context.Context) error { return ctx.Err() }
	}
	if o.Backoff.Base <= 0 {
		o.Backoff = retry.Backoff{Base: time.Second, Max: 30 * time.Second}
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

type nopObserver struct{}

func (nopObserver) Discovered(int)             {}
func (nopObserver) ListingSucceeded(time.Time) {}

// Discoverer lists the account's tasks and tracks the new ones.
type Discoverer struct {
	src   lister
	track Tracker
	opts  Options
	log   *slog.Logger

	// started and lastOK are unix milliseconds of Run's start and of its
	// last pass that succeeded, for Stale.
	started, lastOK atomic.Int64
}

// New returns a Discoverer; it does not start anything.
func New(src lister, track Tracker, opts Options) *Discoverer {
	opts.defaults()
	return &Discoverer{src: src, track: track, opts: opts, log: opts.Logger}
}

// Result is what one pass saw.
type Result struct {
	From, To time.Time
	Listed   int                  // distinct rows in the window
	Skipped  int                  // rows that are not video tasks, or carry an unusable id
	Tracked  []gateway.ListedTask // rows tracked by this pass, newest first
	Requests int
}

// transientTries is how often one page is asked for before a pass fails on
// a transient error (the next pass catches up from where this one began).
const transientTries = 3

// Pass lists every task submitted in [from, to] and tracks the video tasks
// the catalog does not know yet. An error leaves what it tracked tracked.
func (d *Discoverer) Pass(ctx context.Context, from, to time.Time) (Result, error) {
	res := Result{From: from, To: to}
	seen := map[string]bool{}
	for sweep := 0; sweep < 2; sweep++ {
		total, err := d.sweep(ctx, &res, seen)
		if err != nil {
			return res, err
		}
		if len(seen) >= total {
			break // every row the gateway counted was read
		}
		d.log.Debug("discovery: fewer rows read than the gateway counted; sweeping again",
			"read", len(seen), "total", total)
	}
	res.Listed = len(seen)
	return res, nil
}

// sweep reads the window's pages until a short one, and returns the total
// the last page reported.
func (d *Discoverer) sweep(ctx context.Context, res *Result, seen map[string]bool) (int, error) {
	q := gateway.ListQuery{PageSize: gateway.MaxListPageSize, From: res.From, To: res.To}
	total := 0
	for q.Page = 1; q.Page <= d.opts.MaxPages; q.Page++ {
		page, err := d.page(ctx, q, res)
		if err != nil {
			return 0, err
		}
		total = page.Total
		var ids []string
		rows := map[string]gateway.ListedTask{}
		pastWindow := false
		for _, it := range page.Items {
			if seen[it.TaskID] {
				continue
			}
			seen[it.TaskID] = true
			if it.SubmitTime > 0 && it.SubmitTime < res.From.Unix() {
				pastWindow = true // a gateway that ignores the window: newest first, so we are done
				continue
			}
			if !d.videoTask(it) {
				res.Skipped++
				continue
			}
			ids = append(ids, it.TaskID)
			rows[it.TaskID] = it
		}
		if len(ids) > 0 {
			added, err := d.track.TrackDiscovered(ctx, ids, d.opts.Clock())
			if err != nil {
				return 0, fmt.Errorf("track discovered tasks: %w", err)
			}
			for _, id := range added {
				res.Tracked = append(res.Tracked, rows[id])
			}
			d.opts.Observer.Discovered(len(added))
		}
		if len(page.Items) < q.PageSize || pastWindow {
			return total, nil
		}
	}
	d.log.Warn("discovery: window has more pages than one pass reads; the next pass goes on", "pages", d.opts.MaxPages)
	return total, nil
}

// page fetches one page within the shared budget, retrying transient errors
// a few times.
func (d *Discoverer) page(ctx context.Context, q gateway.ListQuery, res *Result) (gateway.TaskPage, error) {
	var err error
	for try := 1; try <= transientTries; try++ {
		if werr := d.opts.Wait(ctx); werr != nil {
			return gateway.TaskPage{}, werr
		}
		res.Requests++
		var p gateway.TaskPage
		p, err = d.src.ListTasks(ctx, q)
		if err == nil {
			return p, nil
		}
		if !retry.ShouldRetry(ctx, err) || try == transientTries {
			break
		}
		wait := d.opts.Backoff.Delay(try, err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return gateway.TaskPage{}, ctx.Err()
		case <-t.C:
		}
	}
	return gateway.TaskPage{}, err
}

// videoTask reports whether a listed row is a video generation task, the
// kind GET /v1/video/generations/{id} answers. The listing holds every
// async task of the account: Suno songs and lyrics are skipped; platforms
// and actions the gateway adds later are kept, since polling an id that is
// not a video costs a few requests and losing a video costs the video.
func (d *Discoverer) videoTask(it gateway.ListedTask) bool {
	if !d.opts.ValidID(it.TaskID) {
		return false
	}
	switch strings.ToLower(it.Platform) {
	case "suno", "midjourney", "mj":
		return false
	}
	switch strings.ToUpper(it.Action) {
	case "MUSIC", "LYRICS", "IMAGINE":
		return false
	}
	return true
}

// Run lists the account's tasks every Interval until ctx ends. The first
// pass reaches Lookback back; each later one starts Overlap before the end
// of the last pass that succeeded, so a gateway outage is caught up on (as
// far as Lookback). Failures are logged when the state changes, not every
// pass: a gateway without the listing, or a refused token, is said once and
// polling of tracked tasks goes on untouched. Run returns when ctx ends.
func (d *Discoverer) Run(ctx context.Context) error {
	d.started.Store(d.opts.Clock().UnixMilli())
	var lastEnd time.Time
	var failing error
	for {
		now := d.opts.Clock()
		from := now.Add(-d.opts.Lookback)
		if !lastEnd.IsZero() {
			from = later(from, lastEnd.Add(-d.opts.Overlap))
		}
		res, err := d.Pass(ctx, from, now)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			if failing != nil {
				d.log.Info("discovery: listing works again", "after", failing)
			}
			failing = nil
			lastEnd = now
			d.lastOK.Store(now.UnixMilli())
			d.opts.Observer.ListingSucceeded(now)
			if len(res.Tracked) > 0 {
				d.log.Info("discovery: tracked new tasks", "tasks", len(res.Tracked), "listed", res.Listed)
			}
		case failing == nil || !sameKind(failing, err):
			failing = err
			d.log.Warn("discovery: listing the gateway's tasks failed; tracked tasks are still polled", "err", err,
				"hint", hint(err))
		}
		t := time.NewTimer(d.opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Stale says why discovery is behind, or "" when it is not: Run has gone
// longer than within without a pass that read the whole listing. The
// heartbeat pauses on it, so that a listing broken for an hour raises the
// alarm instead of quietly losing the videos nobody told reelvault about.
func (d *Discoverer) Stale(now time.Time, within time.Duration) string {
	since := max(d.started.Load(), d.lastOK.Load())
	if since == 0 {
		return "" // not running
	}
	if gap := now.Sub(time.UnixMilli(since)); gap > within {
		return fmt.Sprintf("the gateway's task listing has not been read for %s", gap.Round(time.Second))
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sameKind(a, b error) bool {
	for _, s := range []error{gateway.ErrTokenRejected, gateway.ErrNoListing} {
		if errors.Is(a, s) || errors.Is(b, s) {
			return errors.Is(a, s) && errors.Is(b, s)
		}
	}
	return true // transient failures: said once until it works again
}

// hint says what a user can do about a listing error.
func hint(err error) string {
	switch {
	case errors.Is(err, gateway.ErrTokenRejected):
		return "check discover.access_token (the dashboard's access token, not the API key) and discover.user_id"
	case errors.Is(err, gateway.ErrNoListing):
		return "this gateway does not serve /api/task/self; set discover.enabled: false, or give reelvault the ids (track, intake, proxy)"
	}
	return "transient; the next pass catches up"
}
