package archiver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/retry"
)

// notFoundConfirmations is how many "task does not exist" answers in a row
// make a task not_found: one could be a gateway replica that lags behind.
const notFoundConfirmations = 3

// pollLoop polls due tasks until ctx ends, never faster than the configured
// request rate, pausing the whole loop when the gateway asks (Retry-After) or
// refuses the key. It returns early only on a catalog error (the supervisor
// restarts it), or with errLoopDone in a --once run whose key was refused.
func (a *Archiver) pollLoop(ctx context.Context, once bool) error {
	limiter := a.limiter
	var streak int // consecutive failed polls, gateway-wide
	for ctx.Err() == nil {
		if a.keyRejected.Load() {
			if once {
				return errLoopDone
			}
			sleep(ctx, a.opts.KeyRecheck, nil)
			a.keyRejected.Store(false) // probe again: someone may have fixed the key
		}
		due, err := a.cat.ClaimPolls(ctx, a.opts.Owner, a.opts.Clock(), a.opts.Lease, a.pollBatch())
		if err != nil {
			return err
		}
		if len(due) == 0 {
			a.pollHealth.ok()
			sleep(ctx, a.untilNextPoll(ctx), a.wakePoll)
			continue
		}
		var pause time.Duration
		// A rejected key cancels gctx to stop the batch at once; replies
		// already in hand are still recorded (pollOne writes on a context
		// gctx does not cancel).
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(a.opts.PollWorkers)
		results := make([]error, len(due))
		var budgetErr error
		for i, t := range due {
			if err := limiter.Wait(gctx); err != nil {
				if gctx.Err() == nil {
					budgetErr = err // the shared budget cannot be read: as a catalog error
				}
				break
			}
			g.Go(func() error {
				results[i] = a.pollOne(gctx, t, streak)
				if errors.Is(results[i], gateway.ErrKeyRejected) {
					return results[i] // stop this batch at once
				}
				return nil
			})
		}
		_ = g.Wait()
		a.progressMu.Lock()
		ups := a.progress
		a.progress = nil
		a.progressMu.Unlock()
		if len(ups) > 0 {
			rctx, cancel := recordCtx(ctx)
			err := a.cat.ProgressBatch(rctx, ups)
			cancel()
			if err != nil {
				return fmt.Errorf("record %d poll replies: %w", len(ups), err)
			}
		}
		var catErr error
		for _, err := range results {
			switch {
			case err == nil:
				streak = 0
			case errors.Is(err, gateway.ErrKeyRejected):
				if !a.keyRejected.Swap(true) {
					a.log.Error("gateway rejected the API key: polling stopped; check api.api_key", "err", err)
				}
			case isCatalogErr(err):
				catErr = cmp.Or(catErr, err)
			case errors.Is(err, context.Canceled):
				// Cut short with its batch: polled again next time.
			default:
				streak++
				if d, ok := retry.AfterOf(err); ok && d > pause {
					pause = min(d, a.opts.PollBackoff.Max)
				}
			}
		}
		if catErr != nil {
			return catErr
		}
		if budgetErr != nil {
			// The tasks it left unpolled are this instance's to claim again.
			return fmt.Errorf("gateway request budget: %w", budgetErr)
		}
		a.pollHealth.ok()
		if pause > 0 {
			a.log.Warn("gateway asked to slow down", "pause", pause)
			sleep(ctx, pause, nil)
		}
	}
	return nil
}

// pollBatch is how many due tasks one claim takes: about two seconds of
// the request budget, so that a claimed task waits for its turn far less
// than its lease even when several instances share the budget, and at most
// 64, one transaction's worth of replies.
func (a *Archiver) pollBatch() int {
	return int(min(max(math.Ceil(2*a.opts.RequestsPerSecond), 1), 64))
}

func (a *Archiver) untilNextPoll(ctx context.Context) time.Duration {
	next, ok, err := a.cat.NextPoll(ctx)
	if err != nil || !ok {
		return time.Second
	}
	return untilNext(next.Sub(a.opts.Clock()))
}

// untilNext is how long a loop that found nothing to claim waits for the
// next due item, d from now: at least 10 ms and at most a second. A due
// item it could not claim is another instance's lease, or a claim
// that lost a race by a hair; asking again in 10 ms would only load the
// catalog, and the holder's outcome takes longer than a quarter second.
func untilNext(d time.Duration) time.Duration {
	if d <= 0 {
		return 250 * time.Millisecond
	}
	return min(max(d, 10*time.Millisecond), time.Second)
}

// catalogError marks a failure to write the catalog: the poll loop stops on
// it rather than poll on without remembering.
type catalogError struct{ err error }

func (e *catalogError) Error() string { return e.err.Error() }
func (e *catalogError) Unwrap() error { return e.err }

func isCatalogErr(err error) bool {
	var ce *catalogError
	return errors.As(err, &ce)
}

func catalogErr(err error) error {
	if err == nil {
		return nil
	}
	return &catalogError{err: err}
}

// jitter spreads polls of tasks tracked together over ±20% of the interval.
func (a *Archiver) nextPoll(now time.Time) time.Time {
	d := a.opts.PollInterval
	return now.Add(d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)+1)))
}

// pollOne polls one task and records what the gateway said. The record is
// written on a context that ctx's cancellation does not reach: a reply in
// hand is never dropped because its batch was stopped meanwhile.
func (a *Archiver) pollOne(ctx context.Context, p catalog.PollTarget, streak int) error {
	log := a.log.With("task_id", p.TaskID)
	t, raw, err := a.src.Task(ctx, p.TaskID)
	now := a.opts.Clock()
	a.opts.Observer.Polled(pollOutcome(err))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, gateway.ErrKeyRejected):
		return err
	}
	if a.onReply != nil {
		a.onReply(ctx, p.TaskID)
	}
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	switch {
	case err == nil:
	case errors.Is(err, gateway.ErrTaskNotFound):
		n, cerr := a.cat.NotFound(rctx, p.TaskID, notFoundConfirmations, a.nextPoll(now), now)
		if cerr != nil {
			return catalogErr(cerr)
		}
		if n >= notFoundConfirmations {
			log.Warn("gateway does not know this task; marked not_found", "answers", n)
		}
		return nil
	default:
		if a.givenUp(rctx, p, now, err) {
			return nil
		}
		next := now.Add(max(a.opts.PollBackoff.Delay(streak+1, err), a.opts.PollInterval/4))
		log.Warn("poll failed; will retry", "err", err, "retry_at", next)
		if cerr := a.cat.PollFailed(rctx, p.TaskID, err.Error(), next, now); cerr != nil {
			return catalogErr(cerr)
		}
		return err
	}

	a.logReplyWarnings(t)
	rec := taskRecord(t, raw)
	switch t.Status {
	case gateway.StatusSuccess:
		assets := a.assetsOf(t, now)
		if len(assets) == 0 {
			log.Warn("task succeeded but the reply has no video URL; polling again")
			return catalogErr(a.cat.Progress(rctx, rec, a.nextPoll(now), now))
		}
		if err := a.cat.Finish(rctx, rec, assets, now); err != nil {
			return catalogErr(err)
		}
		log.Info("task succeeded", "videos", len(assets), "model", rec.Model)
		notify(a.wakeArchive)
		return nil
	case gateway.StatusFailure:
		log.Info("task failed on the gateway", "fail_reason", rec.FailReason)
		return catalogErr(a.cat.Finish(rctx, rec, nil, now))
	}
	if !t.Status.Known() {
		a.warnOnce(p.TaskID, "status", "gateway sent an unknown task status; still polling", "status", string(t.Status))
	}
	if a.givenUp(rctx, p, now, fmt.Errorf("still %s", t.Status)) {
		return nil
	}
	a.progressMu.Lock()
	a.progress = append(a.progress, catalog.ProgressUpdate{Task: rec, Next: a.nextPoll(now), Now: now})
	a.progressMu.Unlock()
	return nil
}

// givenUp gives up a task that has not finished after give_up_after.
func (a *Archiver) givenUp(ctx context.Context, p catalog.PollTarget, now time.Time, last error) bool {
	since := p.TrackedAt
	if p.SubmitTime > 0 {
		since = time.Unix(p.SubmitTime, 0)
	}
	if now.Sub(since) < a.opts.GiveUpAfter {
		return false
	}
	reason := fmt.Sprintf("not finished after %v: %v", a.opts.GiveUpAfter, last)
	a.log.Warn("giving up on task", "task_id", p.TaskID, "reason", reason)
	if err := a.cat.GiveUp(ctx, p.TaskID, reason, now); err != nil {
		a.log.Error("record give-up", "task_id", p.TaskID, "err", err)
	}
	return true
}

// logReplyWarnings says, once per task and warning, what of the reply the
// gateway client did not take as sent (an impossible time, a cut reply).
func (a *Archiver) logReplyWarnings(t *gateway.Task) {
	for _, w := range t.Warnings {
		a.warnOnce(t.TaskID, w, "gateway reply not taken as sent", "warning", w)
	}
}

// warnOnce logs a warning about a task's reply once per task and topic, not
// at every poll.
func (a *Archiver) warnOnce(id, topic, msg string, args ...any) {
	a.warnedMu.Lock()
	defer a.warnedMu.Unlock()
	if k := id + "/" + topic; !a.warned[k] {
		a.warned[k] = true
		a.log.Warn(msg, append([]any{"task_id", id}, args...)...)
	}
}

// maxURLLife bounds a video URL's expiry, whatever the URL or the reply
// claims: the gateway's URLs live a day, and an expiry far ahead would sort
// the video last for ever and overflow what the catalog and task.json hold.
const maxURLLife = 7 * 24 * time.Hour

// assetsOf lists the videos of a successful task: the result (result_url,
// else data.content.video_url) and, for super-resolution tasks, the
// original. Expiry comes from the URL when it says, else finish_time + 24 h,
// and is never more than maxURLLife ahead nor before 1970.
func (a *Archiver) assetsOf(t *gateway.Task, now time.Time) []catalog.Asset {
	issued := now
	if t.FinishTime > 0 {
		issued = time.Unix(t.FinishTime, 0)
	}
	var out []catalog.Asset
	add := func(kind, u string) {
		if u == "" {
			return
		}
		exp, ok := gateway.URLExpiry(u, issued)
		if !ok {
			exp = issued.Add(24 * time.Hour)
		}
		if limit := now.Add(maxURLLife); exp.After(limit) {
			exp = limit
		}
		if exp.Before(time.Unix(0, 0)) {
			exp = time.Unix(0, 0)
		}
		out = append(out, catalog.Asset{TaskID: t.TaskID, Kind: kind, SourceURL: u, ExpiresAt: exp})
	}
	add(catalog.KindResult, t.VideoURL())
	if t.OriginalResultURL != t.VideoURL() {
		add(catalog.KindOriginal, t.OriginalResultURL)
	}
	return out
}

// taskRecord maps a gateway reply to a catalog row. The raw reply is kept
// with its signed URLs redacted: the real URLs live only in asset rows.
func taskRecord(t *gateway.Task, raw []byte) catalog.Task {
	u := t.Upstream
	return catalog.Task{
		TaskID: t.TaskID, Status: string(t.Status), Action: t.Action,
		Model: u.Model, Duration: u.Duration, Ratio: u.Ratio, Resolution: u.Resolution,
		SuperResolution: u.SuperResolution, FramesPerSecond: u.FramesPerSecond, GenerateAudio: u.GenerateAudio,
		Seed: u.Seed, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens,
		SuperResolutionTokens: u.SuperResolutionTokens, SubmitTime: t.SubmitTime, StartTime: t.StartTime,
		FinishTime: t.FinishTime, FailReason: t.Failure(), Progress: t.Progress, RequestID: t.RequestID,
		UpstreamID: u.ID, UpstreamStatus: u.Status, Raw: gateway.RedactReply(raw),
	}
}

func pollOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, gateway.ErrTaskNotFound):
		return "not_found"
	case errors.Is(err, gateway.ErrKeyRejected):
		return "key_rejected"
	default:
		return "error"
	}
}
