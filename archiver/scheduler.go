package archiver

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

// archiveLoop hands due videos and task.json sidecars to at most
// Concurrency workers, earliest URL expiry first, until ctx ends. It returns
// early on a catalog error (the supervisor restarts it), and with a
// fatalError when the storage refuses every object (missing bucket,
// rejected credentials, full disk).
func (a *Archiver) archiveLoop(ctx context.Context) error {
	// Nothing is in flight when the loop (re)starts: a video this instance
	// claimed before a failed record is its to take again at once.
	if err := a.cat.ReleaseVideoLeases(ctx, a.opts.Owner); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var g errgroup.Group
	g.SetLimit(a.opts.Concurrency)
	var mu sync.Mutex
	busy := map[string]bool{}
	start := func(id string, job func(context.Context) error) bool {
		mu.Lock()
		if busy[id] {
			mu.Unlock()
			return false
		}
		busy[id] = true
		mu.Unlock()
		a.inflight.Add(1)
		g.Go(func() error {
			defer func() {
				mu.Lock()
				delete(busy, id)
				mu.Unlock()
				a.inflight.Add(-1)
				notify(a.wakeArchive)
			}()
			if err := job(ctx); err != nil {
				cancel(err)
			} else if ctx.Err() == nil {
				a.archiveHealth.ok()
			}
			return nil
		})
		return true
	}

	for ctx.Err() == nil {
		// Claim only what free slots can start now: a claimed item waits
		// for no slot, so its lease runs while it is worked on.
		started := 0
		free := a.opts.Concurrency - int(a.inflight.Load())
		var ids []string
		var due []catalog.Asset
		var err error
		if free > 0 {
			ids, err = a.cat.ClaimSidecars(ctx, a.opts.Owner, a.opts.Clock(), a.opts.Lease, free)
			if err != nil {
				cancel(err)
				break
			}
		}
		for _, id := range ids {
			if start("sidecar/"+id, func(ctx context.Context) error { return a.writeSidecar(ctx, id) }) {
				started++
			} else if err := a.cat.ReleaseTask(ctx, id, a.opts.Owner); err != nil {
				cancel(err) // its last job is winding down: hand the claim back
				break
			}
		}
		if free -= len(ids); free > 0 {
			due, err = a.cat.ClaimAssets(ctx, a.opts.Owner, a.opts.Clock(), a.opts.Lease, free)
			if err != nil {
				cancel(err)
				break
			}
		}
		for _, as := range due {
			if ctx.Err() != nil {
				break
			}
			if start(as.TaskID+"/"+as.Kind, func(ctx context.Context) error { return a.archiveAsset(ctx, as) }) {
				started++
			} else if err := a.cat.ReleaseAsset(ctx, as); err != nil {
				cancel(err) // its last attempt is winding down: hand the claim back
				break
			}
		}
		if started == 0 {
			if free > 0 {
				a.archiveHealth.ok() // nothing due, and the catalog answers
			}
			// Every slot busy, or nothing due: a finishing job or new work
			// wakes the loop; asking the catalog every 10 ms meanwhile is
			// waste.
			wait := time.Second
			if free > 0 {
				wait = a.untilNextAttempt(ctx)
			}
			sleep(ctx, wait, a.wakeArchive)
		}
	}
	_ = g.Wait()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (a *Archiver) untilNextAttempt(ctx context.Context) time.Duration {
	next, ok, err := a.cat.NextAssetAttempt(ctx)
	if err != nil || !ok {
		return time.Second
	}
	return untilNext(next.Sub(a.opts.Clock()))
}

// archiveAsset makes one attempt at one video and records the outcome. It
// returns an error when the catalog fails (the loop is restarted), and a
// fatalError when the storage refuses every object.
func (a *Archiver) archiveAsset(ctx context.Context, as catalog.Asset) error {
	err := a.attemptAsset(ctx, as)
	if errors.Is(err, catalog.ErrLeaseLost) {
		// Another instance took the video over while this one was slow:
		// its record stands, and the object's key is the same either way.
		a.log.Warn("video handed over to another instance; this attempt's outcome is dropped",
			"task_id", as.TaskID, "kind", as.Kind, "err", err)
		return nil
	}
	return err
}

// errLeaseLost stops a transfer whose lease another instance took over.
var errLeaseLost = errors.New("the video's lease passed to another instance")

// holdLease renews as's lease every third of a lease until the returned
// stop is called, and cancels the transfer (through cancel) when the lease
// is lost: a slow transfer stays this instance's, and a stalled one is
// never run by two instances at once.
func (a *Archiver) holdLease(ctx context.Context, as catalog.Asset, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(a.opts.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := a.cat.RenewAsset(ctx, as, a.opts.Clock().Add(a.opts.Lease))
			switch {
			case errors.Is(err, catalog.ErrLeaseLost):
				cancel(errLeaseLost)
				return
			case err != nil && ctx.Err() == nil:
				a.log.Warn("could not renew a transfer's lease; will try again", "task_id", as.TaskID,
					"kind", as.Kind, "err", err)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (a *Archiver) attemptAsset(ctx context.Context, as catalog.Asset) error {
	log := a.log.With("task_id", as.TaskID, "kind", as.Kind)
	t, err := a.cat.Get(ctx, as.TaskID)
	if err != nil {
		return err
	}
	// The loop picked this asset from a listing that may be stale by now
	// (another worker may have archived it since): work from its current row.
	fresh, ok := t.Asset(as.Kind)
	if !ok || fresh.State != catalog.AssetPending {
		return nil
	}
	fresh.Lease = as.Lease
	as = fresh
	key, err := videoKey(a.opts.Prefix, a.opts.KeyTemplate, t, as.Kind)
	if err != nil {
		log.Error("video not archived: no object key", "err", err)
		a.opts.Observer.Lost(as.Kind, catalog.AssetError)
		rctx, cancel := recordCtx(ctx)
		defer cancel()
		return a.cat.AssetGone(rctx, as, catalog.AssetError, err.Error())
	}
	opts := storage.PutOptions{
		ContentType:        "video/mp4",
		ContentDisposition: contentDisposition(t, as.Kind),
		Metadata:           videoMetadata(t, as.Kind),
		Tags:               videoTags(t, as.Kind),
	}
	began := time.Now()
	// No transfer runs past its URL's expiry and the grace after it (at
	// least a grace from now, so that a video tracked late still gets its
	// one try): by then the URL is dead, and the slot is needed.
	now := a.opts.Clock()
	limit := max(as.ExpiresAt.Add(a.opts.ExpiryGrace).Sub(now), a.opts.ExpiryGrace)
	lctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	release := a.holdLease(lctx, as, lost)
	tctx, stop := context.WithTimeoutCause(lctx, limit, fmt.Errorf("%w (%s) and its grace (%v)",
		errPastExpiry, as.ExpiresAt.UTC().Format(time.RFC3339), a.opts.ExpiryGrace))
	res, err := a.dl.fetch(tctx, as.SourceURL, key, opts)
	stop()
	release()
	if errors.Is(context.Cause(lctx), errLeaseLost) {
		return fmt.Errorf("%s %s: %w", as.TaskID, as.Kind, catalog.ErrLeaseLost)
	}
	// Record the outcome even if shutdown began meanwhile: a stored video
	// must not be forgotten.
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	now = a.opts.Clock()
	if err == nil {
		objectAddress(a.store, &as, key)
		as.Size, as.SHA256 = res.size, res.sha256
		as.MediaDuration, as.MediaWidth, as.MediaHeight = res.media.Duration, res.media.Width, res.media.Height
		as.MediaCheck = mediaCheck(t, as.Kind, res)
		if as.MediaCheck != "ok" {
			log.Warn("archived video does not match its task record", "key", key, "media_check", as.MediaCheck)
		}
		// Observe before recording: once the catalog says archived, the
		// task's sidecar may be written and seen by anyone at once, and the
		// metrics must already count the video by then.
		a.opts.Observer.Archived(as.Kind, res.size, time.Since(began), as.ExpiresAt.Sub(now))
		if err := a.cat.AssetArchived(rctx, as, now); err != nil {
			return err
		}
		log.Info("video archived", "key", key, "bytes", res.size, "sha256", res.sha256,
			"seconds", time.Since(began).Seconds(), "url_life_left", as.ExpiresAt.Sub(now).Round(time.Second))
		return nil
	}
	if ctx.Err() != nil {
		return nil // shutting down: the asset stays pending for the next run
	}
	if permanentStorage(err) {
		if !a.objectRefused(rctx, err) {
			return &fatalError{fmt.Errorf("storage refused %s: %w", key, err)}
		}
		reason := fmt.Sprintf("storage refused %s: %v", key, err)
		log.Error("video not archived: the storage refuses this object (other objects are stored)", "err", err)
		a.opts.Observer.Lost(as.Kind, catalog.AssetError)
		return a.cat.AssetGone(rctx, as, catalog.AssetError, reason)
	}
	return a.attemptFailed(rctx, as, err, now)
}

// objectRefused reports whether a permanent storage error is about one
// object (its key, size or attributes: a name the store cannot hold, a file
// where a folder must be) rather than the whole store (missing bucket,
// rejected credentials): a small probe object written and deleted under the
// prefix tells them apart. A full disk is never about one object, even when
// the probe still fits: the video waits for space instead of being lost.
func (a *Archiver) objectRefused(ctx context.Context, err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return false
	}
	key := a.opts.Prefix + "reelvault-write-probe-" + rand.Text()
	body := []byte("reelvault write probe: safe to delete\n")
	perr := a.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "text/plain"})
	if perr != nil {
		a.log.Error("the storage refuses a probe object too", "key", key, "err", perr)
		return false
	}
	if derr := a.store.Delete(ctx, key); derr != nil {
		a.log.Warn("could not delete the storage probe object", "key", key, "err", derr)
	}
	return true
}

// attemptFailed decides what a failed download means: try later, ask the
// gateway for a fresh URL, or give the video up as expired.
func (a *Archiver) attemptFailed(ctx context.Context, as catalog.Asset, err error, now time.Time) error {
	log := a.log.With("task_id", as.TaskID, "kind", as.Kind)
	reason := err.Error()
	var te *tooLargeError
	if errors.As(err, &te) {
		log.Error("video not archived: larger than archive.max_video_bytes", "err", te)
		a.opts.Observer.Lost(as.Kind, catalog.AssetError)
		return a.cat.AssetGone(ctx, as, catalog.AssetError, te.Error())
	}
	var pe *policyError
	if errors.As(err, &pe) {
		log.Error("video URL refused by policy; not archived", "err", err)
		a.opts.Observer.Lost(as.Kind, catalog.AssetError)
		return a.cat.AssetGone(ctx, as, catalog.AssetError, reason)
	}
	var oe *originError
	refused := errors.As(err, &oe) && oe.refused()
	switch {
	case refused && !as.Refreshed:
		log.Warn("origin refused the signed URL; asking the gateway for a fresh one", "err", err)
		if err := a.cat.AssetRefreshing(ctx, as, reason, now, now.Add(a.opts.RefreshWait)); err != nil {
			return err
		}
		a.Wake()
		return nil
	case refused && now.Before(as.ExpiresAt) && (a.repollPending(ctx, as) || as.Attempts < refusedAttempts):
		// The fresh URL has not been asked for yet (the gateway may be
		// down), or the refusal may be a passing fault of the origin: a few
		// more tries before the video is given up.
	case refused && now.Before(as.ExpiresAt):
		// Refused again and again after the re-poll: the gateway never
		// re-signs, so waiting for the estimated expiry would only retry a
		// dead URL.
		log.Error("video lost: the origin refused its URL, also after a re-poll for a fresh one", "err", err)
		a.opts.Observer.Lost(as.Kind, catalog.AssetExpired)
		return a.cat.AssetGone(ctx, as, catalog.AssetExpired, "origin refused the URL, also after a re-poll for a fresh one: "+reason)
	case refused, !now.Before(as.ExpiresAt.Add(a.opts.ExpiryGrace)):
		log.Error("video lost: its URL expired before a verified copy was made", "err", err, "expired_at", as.ExpiresAt)
		a.opts.Observer.Lost(as.Kind, catalog.AssetExpired)
		return a.cat.AssetGone(ctx, as, catalog.AssetExpired, fmt.Sprintf("url expired at %s; last error: %s", as.ExpiresAt.Format(time.RFC3339), reason))
	}
	next := now.Add(a.opts.AssetBackoff.Delay(as.Attempts+1, err))
	log.Warn("video download failed; will retry", "err", err, "attempt", as.Attempts+1, "retry_at", next)
	return a.cat.AssetRetry(ctx, as, reason, next)
}

// refusedAttempts is how many attempts a video gets, before its URL's
// expected expiry, while the origin keeps refusing it after a re-poll.
const refusedAttempts = 5

// repollPending reports whether the task's re-poll for a fresh URL has not
// happened yet.
func (a *Archiver) repollPending(ctx context.Context, as catalog.Asset) bool {
	pending, err := a.cat.PollScheduled(ctx, as.TaskID)
	return err != nil || pending
}
