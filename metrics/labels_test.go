package metrics_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/metrics"
)

// TestStatusLabelsAreBounded: a gateway that sends a new status word with
// every reply must not grow a new time series for each. A catalog holding
// 100 tasks with random status words, and one with a documented status,
// yields the documented one and "other" only.
func TestStatusLabelsAreBounded(t *testing.T) {
	ctx := t.Context()
	cat, _ := catalogtest.Open(t, t.TempDir())
	var ids []string
	for i := range 101 {
		ids = append(ids, fmt.Sprintf("asyntask_word%03d", i))
	}
	if _, err := cat.Track(ctx, ids, t0); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		status := "WORD_" + rand.Text()
		if i == 0 {
			status = "IN_PROGRESS"
		}
		if err := cat.Progress(ctx, catalog.Task{TaskID: id, Status: status}, t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New(ctx, cat, metrics.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	labels := map[string]float64{}
	for series, v := range scrape(t, m) {
		if status, ok := strings.CutPrefix(series, `reelvault_tasks{status="`); ok {
			labels[strings.TrimSuffix(status, `"}`)] = v
		}
	}
	if len(labels) > 6 {
		t.Errorf("%d status label values for 100 random words, want at most 6: %v", len(labels), labels)
	}
	if labels["other"] != 100 || labels["IN_PROGRESS"] != 1 || len(labels) != 2 {
		t.Errorf("reelvault_tasks by status = %v, want other=100 and IN_PROGRESS=1 only", labels)
	}
}
