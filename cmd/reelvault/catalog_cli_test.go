package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/simulator"
)

// fixture ids: distinct from their 12th character on, as a table shows them.
const (
	idA = "asyntask_aaaa0000000000000000000000000001" // m1, SUCCESS 720p, day 1
	idB = "asyntask_bbbb0000000000000000000000000002" // m1, FAILURE, day 2
	idC = "asyntask_cccc0000000000000000000000000003" // doubao-seedance-2-0-260128, super-resolution, day 2
	idD = "asyntask_dddd0000000000000000000000000004" // m2, IN_PROGRESS
	idE = "asyntask_eeee0000000000000000000000000005" // m1, SUCCESS 480p, day 3
)

var day1 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

const longModel = "doubao-seedance-2-0-260128"

// newCatalogEnv is an env whose catalog holds the five fixture tasks.
func newCatalogEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, simulator.Config{}, "")
	ctx := t.Context()
	cat := e.openCatalog(t)
	defer cat.Close()
	if _, err := cat.Track(ctx, []string{idA, idB, idC, idD, idE}, day1.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	prompts := map[string]string{idA: "A cat astronaut in neon rain", idC: "robot dancing in a kitchen"}
	for id, p := range prompts {
		if err := cat.RecordCreation(ctx, id, catalog.CreationRequest{Prompt: p, Source: catalog.SourceProxy}, day1); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(task catalog.Task, finished time.Time, sizes map[string]int64) {
		task.FinishTime, task.SubmitTime = finished.Unix(), finished.Add(-5*time.Minute).Unix()
		task.Duration, task.Ratio, task.Action, task.CompletionTokens, task.TotalTokens = 5, "16:9", "generate", 100, 100
		var assets []catalog.Asset
		for _, kind := range []string{catalog.KindResult, catalog.KindOriginal} {
			if sizes[kind] > 0 {
				assets = append(assets, catalog.Asset{Kind: kind, SourceURL: "https://x/" + kind, ExpiresAt: finished.Add(24 * time.Hour)})
			}
		}
		if err := cat.Finish(ctx, task, assets, finished); err != nil {
			t.Fatal(err)
		}
		for _, a := range assets {
			a.TaskID, a.Location, a.Size, a.SHA256 = task.TaskID, "file:///x", sizes[a.Kind], strings.Repeat("ab", 32)
			a.Key = finished.Format("2006/01/02/") + task.TaskID + "/" + a.Kind + ".mp4"
			a.Bucket, a.URL = catalog.Address(a.Location, a.Key)
			if err := cat.AssetArchived(ctx, a, finished); err != nil {
				t.Fatal(err)
			}
		}
		if len(assets) > 0 {
			if err := cat.SidecarWritten(ctx, task.TaskID, finished.Format("2006/01/02/")+task.TaskID+"/task.json", finished); err != nil {
				t.Fatal(err)
			}
		}
	}
	finish(catalog.Task{TaskID: idA, Status: "SUCCESS", Model: "m1", Resolution: "720p"}, day1, map[string]int64{"result": 1000})
	finish(catalog.Task{TaskID: idB, Status: "FAILURE", Model: "m1", FailReason: "policy"}, day1.Add(24*time.Hour), nil)
	finish(catalog.Task{TaskID: idC, Status: "SUCCESS", Model: longModel, Resolution: "720p", SuperResolution: "1080p",
		SuperResolutionTokens: 50}, day1.Add(26*time.Hour), map[string]int64{"result": 3000, "original": 2000})
	if err := cat.Progress(ctx, catalog.Task{TaskID: idD, Status: "IN_PROGRESS", Progress: "50%"}, day1, day1); err != nil {
		t.Fatal(err)
	}
	finish(catalog.Task{TaskID: idE, Status: "SUCCESS", Model: "m1", Resolution: "480p"}, day1.Add(48*time.Hour), map[string]int64{"result": 500})
	return e
}

// listIDs runs `catalog list --format json` with args and returns the ids.
func listIDs(t *testing.T, e *env, args ...string) []string {
	t.Helper()
	code, stdout, stderr := e.run(t, "", append([]string{"catalog", "list", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("catalog list %v: exit %d: %s", args, code, stderr)
	}
	var tasks []struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal([]byte(stdout), &tasks); err != nil {
		t.Fatalf("catalog list %v: %v\n%s", args, err, stdout)
	}
	ids := []string{}
	for _, task := range tasks {
		ids = append(ids, task.TaskID)
	}
	return ids
}

func TestCatalogListFiltersAndSorts(t *testing.T) {
	e := newCatalogEnv(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{idE, idC, idB, idA, idD}}, // most recently finished first, unfinished last
		{[]string{"--model", "m1", "--status", "SUCCESS"}, []string{idE, idA}},
		{[]string{"--since", "2026-11-21", "--until", "2026-11-21"}, []string{idC, idB}},
		{[]string{"--since", "2026-11-21T11:00:00Z"}, []string{idE, idC}},
		{[]string{"--prompt", "CAT neon"}, []string{idA}},
		{[]string{"--prompt", "cat kitchen"}, []string{}},
		{[]string{"--resolution", "1080p"}, []string{idC}},
		{[]string{"--archive-state", "archived", "--sort", "-size"}, []string{idC, idA, idE}},
		{[]string{"--sort", "task_id", "--limit", "2", "--offset", "1"}, []string{idB, idC}},
		{[]string{"--sort", "model", "--status", "SUCCESS"}, []string{idC, idA, idE}},
		{[]string{"--action", "generate", "--ratio", "16:9", "--sort", "submit_time"}, []string{idA, idB, idC, idE}},
	} {
		if got := listIDs(t, e, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("catalog list %v = %v, want %v", tt.args, got, tt.want)
		}
	}
	// A duration means "that long ago": every fixture task finished in 2026-11.
	if got := listIDs(t, e, "--since", "1h"); len(got) != 0 && time.Now().Before(day1.AddDate(0, 0, 2)) {
		t.Errorf("--since 1h = %v, want none", got)
	}
}

func TestCatalogListFormats(t *testing.T) {
	e := newCatalogEnv(t)
	code, stdout, _ := e.run(t, "", "catalog", "list", "--format", "csv")
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != 0 || err != nil || len(records) != 6 {
		t.Fatalf("csv: exit %d, %d records, %v:\n%s", code, len(records), err, stdout)
	}
	if !slices.Equal(records[0], catalog.CSVHeader) {
		t.Errorf("csv header %v, want %v", records[0], catalog.CSVHeader)
	}
	row := map[string]string{}
	for i, col := range records[0] {
		row[col] = records[2][i] // idC
	}
	if row["task_id"] != idC || row["result_size"] != "3000" || row["original_size"] != "2000" ||
		row["finish_time"] != "2026-11-21T12:00:00Z" || row["prompt"] != "robot dancing in a kitchen" {
		t.Errorf("csv row of %s: %v", idC, row)
	}

	code, stdout, _ = e.run(t, "", "catalog", "list", "--format", "jsonl", "--status", "SUCCESS")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("jsonl: exit %d, %d lines:\n%s", code, len(lines), stdout)
	}
	for _, l := range lines {
		var task map[string]any
		if err := json.Unmarshal([]byte(l), &task); err != nil || task["assets"] == nil || task["finish_time"] == nil {
			t.Errorf("jsonl line %q: %v", l, err)
		}
	}

	code, stdout, _ = e.run(t, "", "catalog", "list")
	lines = strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || len(lines) != 6 || !strings.HasPrefix(lines[0], "TASK_ID") {
		t.Fatalf("table: exit %d:\n%s", code, stdout)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > tableWidth {
			t.Errorf("table line is %d columns wide, want at most %d: %q", n, tableWidth, l)
		}
	}
	for _, want := range []string{"asyntask_cccc00…", "4.9 KiB", "1080p", "2026-11-21 12:00", "IN_PROGRESS", "doubao-…-260128"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCatalogShow(t *testing.T) {
	e := newCatalogEnv(t)
	// The shortened id a table prints is enough.
	code, stdout, stderr := e.run(t, "", "catalog", "show", "asyntask_cccc", "--presign", "1h")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr)
	}
	var got struct {
		TaskID    string            `json:"task_id"`
		Prompt    string            `json:"prompt"`
		Presigned map[string]string `json:"presigned"`
		Assets    []struct {
			Kind, Key, State string
			Size             int64
		} `json:"assets"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.TaskID != idC || len(got.Assets) != 2 || got.Prompt == "" {
		t.Fatalf("show asyntask_cccc: %+v", got)
	}
	for _, a := range got.Assets {
		if p := got.Presigned[a.Kind]; !strings.HasSuffix(p, filepath.FromSlash(a.Key)) || !filepath.IsAbs(p) {
			t.Errorf("--presign on fs: %s at %q, want the absolute path of %s", a.Kind, p, a.Key)
		}
	}
	code, stdout, _ = e.run(t, "", "catalog", "show", idC, "--format", "text")
	for _, want := range []string{"1080p (super-resolution)", "original", "2026/11/21/" + idC + "/result.mp4", "robot dancing"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("show --format text (exit %d) lacks %q:\n%s", code, want, stdout)
		}
	}
	code, stdout, _ = e.run(t, "", "catalog", "show", "asyntask_")
	if code != 1 || stdout != "" {
		t.Errorf("show of an ambiguous prefix: exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
}

func TestCatalogErrorsAndExitCodes(t *testing.T) {
	e := newCatalogEnv(t)
	for _, tt := range []struct {
		args     []string
		code     int
		jsonErr  bool
		contains string
	}{
		{[]string{"catalog", "show", "asyntask_nope", "--format", "json"}, 1, true, "not in catalog"},
		{[]string{"catalog", "show", "asyntask_nope", "--format", "text"}, 1, false, "not in catalog"},
		{[]string{"catalog", "list", "--format", "yaml"}, 2, false, "--format"},
		{[]string{"catalog", "list", "--format", "json", "--since", "last tuesday"}, 2, true, "--since"},
		{[]string{"catalog", "list", "--format", "json", "--sort", "colour"}, 2, true, "unknown sort"},
		{[]string{"catalog", "list", "--bogus"}, 2, false, "bogus"},
		{[]string{"catalog", "stats", "--by", "weather", "--format", "json"}, 2, true, "weather"},
		{[]string{"catalog", "export", "--format", "xml"}, 2, false, "--format"},
	} {
		code, stdout, stderr := e.run(t, "", tt.args...)
		if code != tt.code || stdout != "" || !strings.Contains(stderr, tt.contains) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, no data, an error naming %q",
				tt.args, code, stdout, stderr, tt.code, tt.contains)
		}
		var e struct{ Error string }
		if isJSON := json.Unmarshal([]byte(stderr), &e) == nil && e.Error != ""; isJSON != tt.jsonErr {
			t.Errorf("%v: stderr %q: JSON error %v, want %v", tt.args, stderr, isJSON, tt.jsonErr)
		}
	}
}

func TestCatalogStats(t *testing.T) {
	e := newCatalogEnv(t)
	code, stdout, stderr := e.run(t, "", "catalog", "stats", "--by", "model,day", "--format", "json")
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, stderr)
	}
	var st catalog.Stats
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	tot := st.Total
	if tot.Tasks != 5 || tot.ByStatus["SUCCESS"] != 3 || tot.ByStatus["FAILURE"] != 1 || tot.ByArchiveState["archived"] != 3 ||
		tot.BytesStored != 6500 || tot.VideoSeconds != 15 || tot.SuperResolutionTokens != 50 || tot.CompletionTokens != 400 {
		t.Errorf("stats total %+v", tot)
	}
	var m1 []string
	for _, g := range st.Groups {
		if g.Key["model"] == "m1" {
			m1 = append(m1, g.Key["day"])
		}
	}
	if !slices.Equal(m1, []string{"2026-11-20", "2026-11-21", "2026-11-22"}) {
		t.Errorf("days of m1: %v, want 2026-11-20..22 (groups %+v)", m1, st.Groups)
	}
	code, stdout, _ = e.run(t, "", "catalog", "stats", "--by", "month,resolution")
	for _, want := range []string{"MONTH", "RESOLUTION", "2026-11", "1080p", "unfinished", "total", "6.3 KiB", "SUCCESS 3"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("stats table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCatalogExport(t *testing.T) {
	e := newCatalogEnv(t)
	code, stdout, _ := e.run(t, "", "catalog", "export", "--format", "csv")
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != 0 || err != nil || len(records) != 6 || records[1][0] != idA {
		t.Fatalf("export csv: exit %d, %d records (%v), want a header and 5 tasks in tracked order:\n%s", code, len(records), err, stdout)
	}
	code, stdout, _ = e.run(t, "", "catalog", "export")
	if n := strings.Count(stdout, "\n"); code != 0 || n != 5 {
		t.Errorf("export (jsonl): exit %d, %d lines, want 5", code, n)
	}
}
