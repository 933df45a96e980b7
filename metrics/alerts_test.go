package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/catalog/catalogtest"
	"github.com/reelvault/reelvault/metrics"
)

// The example alert rules must name only metrics reelvault exports: a renamed
// metric would otherwise silence an alert without anyone noticing.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "contrib", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("contrib/alerts.yml: %v", err)
	}

	ctx := t.Context()
	cat, _ := catalogtest.Open(t, t.TempDir())
	if _, err := cat.Track(ctx, []string{"asyntask_a"}, t0); err != nil {
		t.Fatal(err)
	}
	err = cat.Finish(ctx, catalog.Task{TaskID: "asyntask_a", Status: "SUCCESS", FinishTime: t0.Unix()},
		[]catalog.Asset{{Kind: catalog.KindResult, SourceURL: "https://x/a", ExpiresAt: t0.Add(time.Hour)}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(ctx, cat, metrics.Options{Clock: func() time.Time { return t0 }, KeyRejected: func() bool { return false }})
	m.Polled("ok")
	m.Archived(catalog.KindResult, 1, time.Second, time.Hour)
	m.Lost(catalog.KindResult, catalog.AssetExpired)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
	}

	name := regexp.MustCompile(`reelvault_[a-z_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, used := range name.FindAllString(r.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(used, "_bucket"), "_count"), "_sum")
				if !exported[base] {
					t.Errorf("alert %s uses %s, which reelvault does not export", r.Alert, used)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d metric references found in contrib/alerts.yml; did its shape change?", n)
	}
}
