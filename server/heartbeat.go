package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// Heartbeat pings a dead man's switch (healthchecks.io, Uptime Kuma, ...)
// while the backlog is healthy: nothing pending expires within Margin, and
// the key is accepted. When reelvault falls behind, or dies, the pings stop
// and the monitoring service raises the alarm; no alerting stack needed.
type Heartbeat struct {
	URL    string
	Margin time.Duration
	// Backlog reads the loss-risk numbers (catalog.DB.Backlog).
	Backlog     func(context.Context) (catalog.Backlog, error)
	KeyRejected func() bool // nil: never
	// Stale says why some other part is behind (discovery's listing), ""
	// when nothing is; nil: never.
	Stale  func() string
	Client *http.Client
	Clock  func() time.Time
	Logger *slog.Logger

	healthy *bool // last verdict, to log changes only
}

// Beat checks the backlog once and pings when it is healthy. It reports
// whether it pinged, and why not (nil: unhealthy backlog, not an error).
func (h *Heartbeat) Beat(ctx context.Context) (pinged bool, err error) {
	ok, why, err := h.check(ctx)
	if err != nil {
		return false, err
	}
	if h.healthy == nil || *h.healthy != ok {
		if ok {
			h.Logger.Info("heartbeat: backlog healthy; pinging", "heartbeat_host", h.host())
		} else {
			h.Logger.Warn("heartbeat: pings paused", "reason", why, "heartbeat_host", h.host())
		}
		h.healthy = &ok
	}
	if !ok {
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		// The URL often holds the check's secret: say only where it went.
		return false, fmt.Errorf("heartbeat to %s: %w", h.host(), unwrapURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return false, fmt.Errorf("heartbeat to %s: HTTP %d", h.host(), resp.StatusCode)
	}
	return true, nil
}

func (h *Heartbeat) check(ctx context.Context) (ok bool, why string, err error) {
	if h.KeyRejected != nil && h.KeyRejected() {
		return false, "the gateway rejects the API key", nil
	}
	if h.Stale != nil {
		if why := h.Stale(); why != "" {
			return false, why, nil
		}
	}
	b, err := h.Backlog(ctx)
	if err != nil {
		return false, "", fmt.Errorf("heartbeat: %w", err)
	}
	if b.NextExpiry != nil {
		if left := b.NextExpiry.Sub(h.Clock()); left < h.Margin {
			return false, fmt.Sprintf("a pending video's URL expires in %s (margin %s)", left.Round(time.Second), h.Margin), nil
		}
	}
	return true, "", nil
}

// Run beats at once and then on every tick until ctx ends. Failures are
// logged; the next tick tries again.
func (h *Heartbeat) Run(ctx context.Context, tick <-chan time.Time) {
	for {
		if _, err := h.Beat(ctx); err != nil && ctx.Err() == nil {
			h.Logger.Warn("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

func (h *Heartbeat) host() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "(unparsable heartbeat_url)"
	}
	return u.Host
}

// unwrapURLError drops the *url.Error wrapper, whose text holds the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
