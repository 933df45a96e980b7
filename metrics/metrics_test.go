package metrics_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/metrics"
)

var t0 = time.Date(2026, 4, 27, 11, 0, 0, 0, time.UTC)

// scrape fetches /metrics as Prometheus would and returns each sample line's
// value by its series name ("name" or `name{label="v"}`).
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: HTTP %d\n%s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func want(t *testing.T, got map[string]float64, series string, v float64) {
	t.Helper()
	if g, ok := got[series]; !ok || g != v {
		t.Errorf("%s = %v (present %v), want %v", series, g, ok, v)
	}
}

func TestLossRiskGaugesMoveAsTasksAge(t *testing.T) {
	ctx := t.Context()
	cat, _ := catalogtest.Open(t, t.TempDir())
	now := t0
	m := metrics.New(ctx, cat, metrics.Options{Clock: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	got := scrape(t, m)
	want(t, got, "reelvault_oldest_unarchived_task_age_seconds", 0)
	if _, ok := got["reelvault_next_url_expiry_seconds"]; ok {
		t.Error("next expiry exported with nothing pending")
	}
	want(t, got, "reelvault_last_archive_timestamp_seconds", 0)

	// Two tasks succeed at t0; their URLs live 24 h.
	if _, err := cat.Track(ctx, []string{"asyntask_a", "asyntask_b", "asyntask_live"}, t0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"asyntask_a", "asyntask_b"} {
		err := cat.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS", FinishTime: t0.Unix()},
			[]catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x/" + id, ExpiresAt: t0.Add(24 * time.Hour)}}, t0)
		if err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(time.Hour)
	got = scrape(t, m)
	want(t, got, "reelvault_oldest_unarchived_task_age_seconds", 3600)
	want(t, got, "reelvault_next_url_expiry_seconds", 23*3600)
	want(t, got, `reelvault_tasks{status="SUCCESS"}`, 2)
	want(t, got, `reelvault_tasks{status="TRACKED"}`, 1)
	want(t, got, `reelvault_assets{state="pending"}`, 2)

	// Twenty hours on, nothing archived: the same backlog is now at risk.
	now = t0.Add(20 * time.Hour)
	got = scrape(t, m)
	want(t, got, "reelvault_oldest_unarchived_task_age_seconds", 20*3600)
	want(t, got, "reelvault_next_url_expiry_seconds", 4*3600)

	// One is archived, the other lost: the gauges settle, the counters count.
	a := catalog.Asset{TaskID: "asyntask_a", Kind: catalog.KindResult, Size: 1000}
	if err := cat.AssetArchived(ctx, a, now); err != nil {
		t.Fatal(err)
	}
	m.Archived(catalog.KindResult, 1000, 3*time.Second, 4*time.Hour)
	if err := cat.AssetGone(ctx, catalog.Asset{TaskID: "asyntask_b", Kind: catalog.KindResult}, catalog.AssetExpired, "expired"); err != nil {
		t.Fatal(err)
	}
	m.Lost(catalog.KindResult, catalog.AssetExpired)
	m.Polled("ok")
	m.Polled("ok")
	m.Polled("error")
	for _, id := range []string{"asyntask_a", "asyntask_b"} {
		if err := cat.SidecarWritten(ctx, id, id+"/task.json", now); err != nil {
			t.Fatal(err)
		}
	}
	got = scrape(t, m)
	want(t, got, "reelvault_oldest_unarchived_task_age_seconds", 0)
	if v, ok := got["reelvault_next_url_expiry_seconds"]; ok {
		t.Errorf("next expiry = %v with nothing pending, want absent", v)
	}
	want(t, got, `reelvault_assets{state="archived"}`, 1)
	want(t, got, `reelvault_assets{state="expired"}`, 1)
	want(t, got, `reelvault_assets_lost_total{kind="result",state="expired"}`, 1)
	want(t, got, `reelvault_archived_videos_total{kind="result"}`, 1)
	want(t, got, `reelvault_archived_bytes_total{kind="result"}`, 1000)
	want(t, got, `reelvault_polls_total{outcome="ok"}`, 2)
	want(t, got, `reelvault_polls_total{outcome="error"}`, 1)
	want(t, got, `reelvault_archive_url_life_left_seconds_bucket{kind="result",le="14400"}`, 1)
	want(t, got, `reelvault_archive_url_life_left_seconds_bucket{kind="result",le="7200"}`, 0)
	want(t, got, `reelvault_archive_duration_seconds_count{kind="result"}`, 1)
	if got["reelvault_last_archive_timestamp_seconds"] <= 0 {
		t.Error("last archive time not set after an archive")
	}

	// A restart reads the last archive time back from the catalog.
	m2 := metrics.New(ctx, cat, metrics.Options{Clock: func() time.Time { return now }})
	want(t, scrape(t, m2), "reelvault_last_archive_timestamp_seconds", float64(now.Unix()))
}

// TestInstanceAndLeasesHeld: an archiving instance exports its name in the
// catalog's leases and how many polls and transfers it holds right now;
// another instance's leases are not its own.
func TestInstanceAndLeasesHeld(t *testing.T) {
	ctx := t.Context()
	cat, _ := catalogtest.Open(t, t.TempDir())
	now := t0
	m := metrics.New(ctx, cat, metrics.Options{Clock: func() time.Time { return now }, Instance: "vault-a",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	engine := "sqlite"
	if cat.Postgres() {
		engine = "postgres"
	}
	ids := []string{"asyntask_l1", "asyntask_l2", "asyntask_l3"}
	if _, err := cat.Track(ctx, ids, t0); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:2] {
		err := cat.Finish(ctx, catalog.Task{TaskID: id, Status: "SUCCESS", FinishTime: t0.Unix()},
			[]catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x/" + id, ExpiresAt: t0.Add(time.Hour)}}, t0)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cat.ClaimAssets(ctx, "vault-a", t0, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.ClaimAssets(ctx, "vault-b", t0, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.ClaimPolls(ctx, "vault-a", t0, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, m)
	want(t, got, `reelvault_instance_info{catalog="`+engine+`",instance_id="vault-a"}`, 1)
	want(t, got, `reelvault_leases_held{kind="task"}`, 1)
	want(t, got, `reelvault_leases_held{kind="video"}`, 1)

	now = t0.Add(2 * time.Minute) // the leases ran out
	got = scrape(t, m)
	want(t, got, `reelvault_leases_held{kind="task"}`, 0)
	want(t, got, `reelvault_leases_held{kind="video"}`, 0)
}
