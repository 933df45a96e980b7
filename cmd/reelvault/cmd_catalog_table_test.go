package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reelvault/reelvault/catalog"
)

// TestShortModelNamesStayDistinct: the table's MODEL column printed
// doubao-seedance-2-0-260128 and doubao-seedance-2-0-turbo-260128 both as
// "doubao-…-260128". Among the models of one table, each shortened name must
// be its own, at most the column's width, and a name that fits stays whole.
func TestShortModelNamesStayDistinct(t *testing.T) {
	models := []string{
		"doubao-seedance-2-0-260128", "doubao-seedance-2-0-turbo-260128",
		"doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428",
		"veo-3.0-generate-preview", "veo-3.0-fast-generate-preview", "seedance-turbo", "m1", "-",
	}
	short := shortNames(models, modelWidth)
	seen := map[string]string{}
	for _, m := range models {
		s := short[m]
		t.Logf("%-36s %s", m, s)
		if n := utf8.RuneCountInString(s); n > modelWidth {
			t.Errorf("%s shortened to %q: %d runes, want at most %d", m, s, n, modelWidth)
		}
		if utf8.RuneCountInString(m) <= modelWidth && s != m {
			t.Errorf("%s fits in %d columns, but shows as %q", m, modelWidth, s)
		}
		if other, ok := seen[s]; ok {
			t.Errorf("%s and %s both show as %q", other, m, s)
		}
		seen[s] = m
	}
	// Two models that differ only in their variant keep it in sight.
	if s := short["doubao-seedance-2-0-turbo-260128"]; !strings.Contains(s, "turbo") {
		t.Errorf("the turbo model shows as %q, without its variant", s)
	}
	// One long model alone keeps the shape a table had before: head and tail alike.
	if got := shortNames([]string{"doubao-seedance-2-0-260128", "m1"}, modelWidth)["doubao-seedance-2-0-260128"]; got != "doubao-…-260128" {
		t.Errorf("a lone long model shows as %q, want doubao-…-260128", got)
	}
}

// TestCatalogTableTellsModelsApart: in `catalog list`, the fixture's
// doubao-seedance-2-0-260128 task and a turbo one show two different
// models, each line within the table's width.
func TestCatalogTableTellsModelsApart(t *testing.T) {
	e := newCatalogEnv(t)
	cat := e.openCatalog(t)
	const turbo = "asyntask_ffff0000000000000000000000000006"
	if _, err := cat.Track(t.Context(), []string{turbo}, day1); err != nil {
		t.Fatal(err)
	}
	err := cat.Finish(t.Context(), catalog.Task{TaskID: turbo, Status: "FAILURE", Model: "doubao-seedance-2-0-turbo-260128",
		FinishTime: day1.Unix()}, nil, day1)
	cat.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := e.run(t, "", "catalog", "list")
	if code != 0 {
		t.Fatalf("catalog list: exit %d: %s", code, stderr)
	}
	models := map[string]string{} // task id prefix -> MODEL cell
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		if n := utf8.RuneCountInString(line); n > tableWidth {
			t.Errorf("table line is %d columns wide, want at most %d: %q", n, tableWidth, line)
		}
		if f := strings.Fields(line); len(f) > 3 {
			models[f[0][:13]] = f[3]
		}
	}
	long, fast := models[idC[:13]], models[turbo[:13]]
	if long == "" || fast == "" || long == fast {
		t.Errorf("MODEL of %s (%s) is %q, of the turbo task %q; want two different names:\n%s", idC, longModel, long, fast, stdout)
	}
}
