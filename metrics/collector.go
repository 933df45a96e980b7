package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
)

var (
	tasksDesc = prometheus.NewDesc("reelvault_tasks",
		"Tracked tasks by status: the five the gateway documents, TRACKED, not_found, given_up, and other for any other word.",
		[]string{"status"}, nil)
	assetsDesc = prometheus.NewDesc("reelvault_assets",
		"Videos by state: pending, archived, expired, error.", []string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("reelvault_oldest_unarchived_task_age_seconds",
		"Age of the oldest succeeded task whose videos are not all archived yet, from its finish time (0 = none).", nil, nil)
	nextExpiryDesc = prometheus.NewDesc("reelvault_next_url_expiry_seconds",
		"Seconds until the signed URL of the next pending video expires (negative: already past; absent: nothing pending).", nil, nil)
	keyRejectedDesc = prometheus.NewDesc("reelvault_api_key_rejected",
		"1 while the gateway refuses the API key and polling is stopped.", nil, nil)
	loopRestartsDesc = prometheus.NewDesc("reelvault_loop_restarts_total",
		"Times the poll or archive loop stopped on an error (a catalog write that failed, ...) and was restarted.",
		[]string{"loop"}, nil)
	loopUpDesc = prometheus.NewDesc("reelvault_loop_up",
		"1 while the loop runs cleanly, 0 after it stopped on an error until it runs cleanly again.", []string{"loop"}, nil)
	instanceDesc = prometheus.NewDesc("reelvault_instance_info",
		"Always 1: this instance's name in the catalog's leases, and the catalog it shares (sqlite or postgres).",
		[]string{"instance_id", "catalog"}, nil)
	leasesDesc = prometheus.NewDesc("reelvault_leases_held",
		"Leases this instance holds now: task (a poll or a task.json in hand) and video (a transfer).",
		[]string{"kind"}, nil)
)

// statusLabel bounds the status label: a gateway's words are not ours to
// trust, and each distinct word would be a new time series. The documented
// statuses and reelvault's own keep their names; any other word is "other".
func statusLabel(status string) string {
	switch status {
	case catalog.StatusTracked, catalog.StatusNotFound, catalog.StatusGivenUp:
		return status
	}
	if gateway.Status(status).Known() {
		return status
	}
	return "other"
}

// catalogCollector reads the catalog at scrape time, so gauges are never
// stale and cost nothing between scrapes.
type catalogCollector struct {
	cat  *catalog.DB
	opts Options
}

// Describe implements prometheus.Collector.
func (c *catalogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tasksDesc, assetsDesc, oldestDesc, nextExpiryDesc, keyRejectedDesc,
		loopRestartsDesc, loopUpDesc, instanceDesc, leasesDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed query becomes an invalid
// metric, which promhttp reports (and logs) without dropping the others.
func (c *catalogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ScrapeTimeout)
	defer cancel()
	if c.opts.KeyRejected != nil {
		v := 0.0
		if c.opts.KeyRejected() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(keyRejectedDesc, prometheus.GaugeValue, v)
	}
	if c.opts.Loops != nil {
		for _, l := range c.opts.Loops() {
			up := 1.0
			if l.Err != nil {
				up = 0
			}
			ch <- prometheus.MustNewConstMetric(loopRestartsDesc, prometheus.CounterValue, float64(l.Restarts), l.Name)
			ch <- prometheus.MustNewConstMetric(loopUpDesc, prometheus.GaugeValue, up, l.Name)
		}
	}
	now := c.opts.Clock()
	if c.opts.Instance != "" {
		engine := "sqlite"
		if c.cat.Postgres() {
			engine = "postgres"
		}
		ch <- prometheus.MustNewConstMetric(instanceDesc, prometheus.GaugeValue, 1, c.opts.Instance, engine)
		if tasks, videos, err := c.cat.Leases(ctx, c.opts.Instance, now); err != nil {
			ch <- prometheus.NewInvalidMetric(leasesDesc, err)
		} else {
			ch <- prometheus.MustNewConstMetric(leasesDesc, prometheus.GaugeValue, float64(tasks), "task")
			ch <- prometheus.MustNewConstMetric(leasesDesc, prometheus.GaugeValue, float64(videos), "video")
		}
	}
	b, err := c.cat.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(oldestDesc, err)
	} else {
		age := 0.0
		if b.OldestUnarchived != nil {
			age = max(now.Sub(*b.OldestUnarchived).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
		if b.NextExpiry != nil {
			ch <- prometheus.MustNewConstMetric(nextExpiryDesc, prometheus.GaugeValue, b.NextExpiry.Sub(now).Seconds())
		}
	}
	tasks, assets, err := c.cat.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(tasksDesc, err)
		return
	}
	byLabel := map[string]int{}
	for status, n := range tasks {
		byLabel[statusLabel(status)] += n
	}
	for status, n := range byLabel {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), status)
	}
	// Every state is always exported, so `reelvault_assets{state="expired"} > 0`
	// has a series to compare even before the first loss.
	for _, state := range []string{catalog.AssetPending, catalog.AssetArchived, catalog.AssetExpired, catalog.AssetError} {
		ch <- prometheus.MustNewConstMetric(assetsDesc, prometheus.GaugeValue, float64(assets[state]), state)
	}
}
