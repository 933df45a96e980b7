package config

import (
	"net"
	"strings"
	"time"
)

// SimulatorAccessToken is the dashboard access token EffectiveAccessToken
// returns for a loopback gateway when none is configured; `reelvault
// simulate` accepts it.
const SimulatorAccessToken = "sim-access-token"

// Discover finds tasks by itself from the gateway's dashboard listing
// (GET /api/task/self), for tasks created where reelvault never sees them.
type Discover struct {
	Enabled bool `yaml:"enabled"`
	// AccessToken is the account's access token from the gateway's
	// dashboard settings; not the API key. Read it through
	// EffectiveAccessToken.
	AccessToken string `yaml:"access_token"`
	// UserID is sent as New-Api-User: old gateway versions require it, new
	// ones ignore it; 0 sends none. Read it through EffectiveUserID.
	UserID int64 `yaml:"user_id"`
	// Interval is how often the listing is read.
	Interval Duration `yaml:"interval"`
	// Lookback is how far back the first pass and every catch-up reach.
	Lookback Duration `yaml:"lookback"`
}

// EffectiveAccessToken is the configured token, or SimulatorAccessToken
// when none is set and the gateway is on loopback.
func (c Config) EffectiveAccessToken() string {
	if c.Discover.AccessToken == "" && isLoopbackURL(c.API.BaseURL) {
		return SimulatorAccessToken
	}
	return c.Discover.AccessToken
}

// SimulatorUserID is the account id EffectiveUserID returns for a loopback
// gateway when none is configured; `reelvault simulate` expects it.
const SimulatorUserID = 1

// EffectiveUserID is the configured user id, or SimulatorUserID when none
// is set and the gateway is on loopback.
func (c Config) EffectiveUserID() int64 {
	if c.Discover.UserID == 0 && isLoopbackURL(c.API.BaseURL) {
		return SimulatorUserID
	}
	return c.Discover.UserID
}

func (c Config) validateDiscover(v *validator) {
	d := c.Discover
	if !d.Enabled {
		return
	}
	if c.EffectiveAccessToken() == "" {
		v.add("discover.access_token", "required when discover.enabled is true (the dashboard's access token, not the API key; e.g. access_token: ${REELVAULT_ACCESS_TOKEN})")
	}
	if d.UserID < 0 {
		v.add("discover.user_id", "must be 0 (none) or the account's numeric id, got %d", d.UserID)
	}
	if d.Interval < Duration(time.Second) {
		v.add("discover.interval", "must be at least 1s, got %s", d.Interval)
	}
	if d.Lookback < d.Interval {
		v.add("discover.lookback", "must be at least discover.interval (%s), got %s", d.Interval, d.Lookback)
	}
}

// validateAllowedHosts checks server.allowed_hosts: bare host names or
// host:port, no scheme, path or wildcard.
func (s Server) validateAllowedHosts(v *validator) {
	for i, h := range s.AllowedHosts {
		host := h
		if hh, _, err := net.SplitHostPort(h); err == nil {
			host = hh
		}
		if host == "" || strings.ContainsAny(h, "/*@?# ") {
			v.add("server.allowed_hosts", "entry %d: want a host name such as reelvault.example.com, got %q", i, h)
		}
	}
}
