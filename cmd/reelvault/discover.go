package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/discovery"
	"github.com/reelvault/reelvault/gateway"
)

// listingStaleAfter is how long discovery may fail before the heartbeat
// stops: long enough for a gateway deploy, short against a 24 h URL.
const listingStaleAfter = time.Hour

// dashboard is the gateway's task listing, with the access token.
func (a *app) dashboard() *gateway.Dashboard {
	hc := &http.Client{Timeout: time.Duration(a.cfg.API.Timeout)}
	return gateway.NewDashboard(a.cfg.API.BaseURL, a.cfg.EffectiveAccessToken(), a.cfg.EffectiveUserID(), hc)
}

// gatewayBudget is the api.requests_per_second budget for a command that
// talks to the gateway without an archiver (discover --once): on a
// Postgres catalog the one every instance shares, else its own.
func (a *app) gatewayBudget(cat *catalog.DB) archiver.Limiter {
	if cat.Postgres() {
		return cat.SharedLimiter("gateway", a.cfg.API.RequestsPerSecond, 1)
	}
	return rate.NewLimiter(rate.Limit(a.cfg.API.RequestsPerSecond), 1)
}

// discoverer builds discovery from the config, or returns nil when
// discover.enabled is off. wait takes a request from the gateway budget
// that polling shares.
func (a *app) discoverer(cat *catalog.DB, wait func(context.Context) error, obs discovery.Observer) *discovery.Discoverer {
	if !a.cfg.Discover.Enabled {
		return nil
	}
	return discovery.New(a.dashboard(), cat, discovery.Options{
		Interval: time.Duration(a.cfg.Discover.Interval),
		Lookback: time.Duration(a.cfg.Discover.Lookback),
		ValidID:  archiver.ValidTaskID, // only what `track` would accept
		Wait:     wait,
		Logger:   a.log,
		Observer: obs,
	})
}

// startDiscovery runs discovery beside the archiver: the loop for the
// daemon, one pass over discover.lookback for a --once run (its tasks are
// then polled and archived by the same run). Discovery failing never stops
// the archive; it is logged.
func (a *app) startDiscovery(ctx context.Context, disc *discovery.Discoverer, once bool) (stop func()) {
	if disc == nil {
		return func() {}
	}
	if once {
		now := time.Now()
		res, err := disc.Pass(ctx, now.Add(-time.Duration(a.cfg.Discover.Lookback)), now)
		if err != nil {
			a.log.Warn("discovery: listing the gateway's tasks failed; archiving the tracked tasks", "err", err)
		} else {
			a.log.Info("discovery: pass done", "listed", res.Listed, "tracked", len(res.Tracked))
		}
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = disc.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}
