// Package metrics exposes what reelvault does and what it is about to lose,
// for Prometheus. Events (polls, archived and lost videos) arrive through
// archiver.Observer and become counters and histograms; the state of the
// catalog (tasks by status, the backlog's age, the next URL to expire) is
// read at scrape time, so the numbers are true even for work done by another
// process on the same catalog.
//
// Everything is registered on the Metrics' own registry: no globals, so two
// instances (tests, `serve` beside `run`) never collide.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/discovery"
)

// Options tune Metrics. Zero values take the defaults in brackets.
type Options struct {
	Clock func() time.Time // [time.Now]
	// KeyRejected reports whether the gateway refused the API key; nil when
	// nothing polls (serve, proxy), and the gauge is then not exported.
	KeyRejected func() bool
	// Loops reports the health of the archiver's loops; nil when nothing
	// archives (serve, proxy), and their metrics are then not exported.
	Loops func() []archiver.LoopStatus
	// Instance is the archiver's name in the catalog's leases; "" when
	// nothing archives, and the instance and lease metrics are then not
	// exported.
	Instance string
	Logger   *slog.Logger
	// ScrapeTimeout bounds the catalog queries of one scrape [5s].
	ScrapeTimeout time.Duration
}

// Metrics is an archiver.Observer and the source of GET /metrics.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	polls        *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	videos       *prometheus.CounterVec
	lost         *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	lifeLeft     *prometheus.HistogramVec
	lastArchived prometheus.Gauge
	discovered   prometheus.Counter
	lastListing  prometheus.Gauge
}

var (
	_ archiver.Observer  = (*Metrics)(nil)
	_ discovery.Observer = (*Metrics)(nil)
)

// New returns Metrics reading the catalog at scrape time. It seeds the last
// archive time from the catalog, so a restart does not reset it to "never".
func New(ctx context.Context, cat *catalog.DB, opts Options) *Metrics {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 5 * time.Second
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: opts.Logger,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reelvault_polls_total",
			Help: "Gateway polls by outcome: ok, not_found, key_rejected, error.",
		}, []string{"outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reelvault_archived_bytes_total",
			Help: "Bytes of verified videos archived, by kind (result, original).",
		}, []string{"kind"}),
		videos: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reelvault_archived_videos_total",
			Help: "Verified videos archived, by kind (result, original).",
		}, []string{"kind"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reelvault_assets_lost_total",
			Help: "Videos that can no longer be archived, by kind and state (expired: the URL died; error: refused for good).",
		}, []string{"kind", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reelvault_archive_duration_seconds",
			Help:    "Time to download, store and verify one video.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12), // 0.25 s .. 8.5 min
		}, []string{"kind"}),
		lifeLeft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "reelvault_archive_url_life_left_seconds",
			Help: "How long the signed URL still had to live when its video was archived: the safety margin.",
			// 5 min .. 24 h: the low buckets are the near misses.
			Buckets: []float64{300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 18 * 3600, 24 * 3600},
		}, []string{"kind"}),
		lastArchived: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "reelvault_last_archive_timestamp_seconds",
			Help: "Unix time of the last verified video archived (0 = never).",
		}),
		discovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reelvault_tasks_discovered_total",
			Help: "Task ids found in the gateway's task listing that were not tracked yet (discover.enabled).",
		}),
		lastListing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "reelvault_discovery_last_success_timestamp_seconds",
			Help: "Unix time of the last discovery pass that read the gateway's whole listing window (0 = never).",
		}),
	}
	if t, err := cat.LastArchivedAt(ctx); err != nil {
		m.log.Warn("metrics: cannot read the last archive time; it starts at 0", "err", err)
	} else if t != nil {
		m.lastArchived.Set(float64(t.UnixMilli()) / 1000)
	}
	m.reg.MustRegister(m.polls, m.bytes, m.videos, m.lost, m.duration, m.lifeLeft, m.lastArchived,
		m.discovered, m.lastListing,
		&catalogCollector{cat: cat, opts: opts},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry in the Prometheus text or protobuf format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // a failed catalog query must not hide the counters
	})
}

// Registry is the registry Metrics registers on, for tests and embedding.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Polled implements archiver.Observer.
func (m *Metrics) Polled(outcome string) { m.polls.WithLabelValues(outcome).Inc() }

// Archived implements archiver.Observer.
func (m *Metrics) Archived(kind string, bytes int64, took, urlLifeLeft time.Duration) {
	m.videos.WithLabelValues(kind).Inc()
	m.bytes.WithLabelValues(kind).Add(float64(bytes))
	m.duration.WithLabelValues(kind).Observe(took.Seconds())
	m.lifeLeft.WithLabelValues(kind).Observe(urlLifeLeft.Seconds())
	m.lastArchived.SetToCurrentTime()
}

// Lost implements archiver.Observer.
func (m *Metrics) Lost(kind, state string) { m.lost.WithLabelValues(kind, state).Inc() }

// Discovered implements discovery.Observer.
func (m *Metrics) Discovered(n int) { m.discovered.Add(float64(n)) }

// ListingSucceeded implements discovery.Observer.
func (m *Metrics) ListingSucceeded(at time.Time) { m.lastListing.Set(float64(at.UnixMilli()) / 1000) }
