package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The catalog-scale benchmarks run on a generated catalog of benchTasks()
// tasks (1,000,000 unless REELVAULT_BENCH_TASKS says otherwise). Generating
// it takes a minute or two, so the file is cached under os.TempDir, keyed by
// schema version, generator version and size; delete it to regenerate.
//
// Targets at 1,000,000 tasks: list with two filters and --limit 50 under
// 50 ms, stats --by model,day under 1 s, export above 100,000 rows/s.

const benchGeneratorVersion = 1

// benchEnd is the newest finish time in the generated catalog; tasks spread
// over the year before it.
var benchEnd = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

var benchModels = []string{"doubao-seedance-2-0-260128", "doubao-seedance-1-0-pro-250528", "seedance-turbo",
	"doubao-seedance-1-0-lite-t2v", "doubao-seedance-1-0-lite-i2v", "seedance-pro-fast"}

func benchTasks() int {
	if n, err := strconv.Atoi(os.Getenv("REELVAULT_BENCH_TASKS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// openBenchCatalog returns the cached generated catalog, generating it first
// when missing.
func openBenchCatalog(b *testing.B) *DB {
	b.Helper()
	n := benchTasks()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("reelvault-bench-catalog-s%d-g%d-%d.db",
		len(migrations), benchGeneratorVersion, n))
	if _, err := os.Stat(path); err != nil {
		began := time.Now()
		if err := generateCatalog(context.Background(), path, n); err != nil {
			b.Fatalf("generate %d-task catalog: %v", n, err)
		}
		b.Logf("generated %d tasks into %s in %s", n, path, time.Since(began).Round(time.Second))
	}
	db, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// generateCatalog writes n tasks shaped like a year of real use (models,
// statuses, super-resolution, a redacted raw reply of about 1 KiB, a
// prompt) into a new catalog at path, in one transaction of prepared
// inserts, then renames it into place.
func generateCatalog(ctx context.Context, path string, n int) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	c, err := Open(ctx, tmp)
	if err != nil {
		return err
	}
	c.Close()
	db, err := sql.Open("sqlite3", "file:"+tmp+"?_journal_mode=OFF&_synchronous=OFF&_foreign_keys=on&_cache_size=-262144")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insTask, err := tx.PrepareContext(ctx, `INSERT INTO tasks (task_id, status, archive_state, action, model, duration,
		ratio, resolution, super_resolution, framespersecond, generate_audio, seed, completion_tokens, total_tokens,
		super_resolution_tokens, submit_time, start_time, finish_time, progress, request_id, upstream_id,
		upstream_status, fail_reason, raw_reply, tracked_at, polls, task_json_key, archived_at, prompt, source)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	insAsset, err := tx.PrepareContext(ctx, `INSERT INTO assets (task_id, kind, source_url, expires_at, state, bucket,
		key, size, sha256, attempts, archived_at, media_duration, media_width, media_height, media_check)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := benchEnd.AddDate(-1, 0, 0).Unix()
	span := benchEnd.Unix() - start
	for i := range n {
		g := genTask(rng, start+rng.Int64N(span))
		if _, err := insTask.ExecContext(ctx, g.id, g.status, g.state, g.action, g.model, g.duration, g.ratio,
			g.res, g.sr, 24.0, g.audio, g.seed, g.tokens, g.tokens, g.srTokens, g.submit, g.submit+30, g.finish,
			"100%", "req-"+g.id[9:], "cgt-"+g.id[9:29], "succeeded", g.failReason, g.raw, g.submit*1000, 12,
			g.sidecar, g.archivedAt, g.prompt, "proxy"); err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
		for _, a := range g.assets {
			if _, err := insAsset.ExecContext(ctx, g.id, a.kind, a.url, (g.finish+86400)*1000, a.state, "s3://videos",
				a.key, a.size, a.sha, 1, g.archivedAt, g.duration, a.w, a.h, "ok"); err != nil {
				return fmt.Errorf("asset of task %d: %w", i, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=WAL`); err != nil {
		return err
	}
	db.Close()
	return os.Rename(tmp, path)
}

type genAsset struct {
	kind, url, state, key, sha string
	size                       int64
	w, h                       int
}

type generated struct {
	id, status, state, action, model, ratio, res, sr, failReason, raw, prompt, sidecar string
	duration                                                                           float64
	audio                                                                              bool
	seed, tokens, srTokens, submit, finish                                             int64
	archivedAt                                                                         any
	assets                                                                             []genAsset
}

var benchWords = strings.Fields(`a cat astronaut drifting through neon city rain slow motion cinematic golden hour
	drone shot over misty mountains ocean waves crashing on black sand beach portrait of an old fisherman smiling
	timelapse of clouds over desert canyon robot dancing in a kitchen watercolor style paper boat on a river at dusk`)

func genTask(rng *rand.Rand, finish int64) generated {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	id := []byte("asyntask_")
	for range 32 {
		id = append(id, alnum[rng.IntN(len(alnum))])
	}
	g := generated{id: string(id), model: benchModels[rng.IntN(len(benchModels))], finish: finish,
		action: []string{"generate", "generate", "referenceGenerate", "firstTailGenerate", "omniGenerate"}[rng.IntN(5)],
		ratio:  []string{"16:9", "9:16", "1:1", "4:3"}[rng.IntN(4)], res: []string{"480p", "720p", "1080p"}[rng.IntN(3)],
		duration: float64(4 + rng.IntN(12)), seed: rng.Int64N(1 << 31), audio: rng.IntN(2) == 0}
	g.submit = finish - 60 - rng.Int64N(600)
	words := make([]string, 8+rng.IntN(20))
	for i := range words {
		words[i] = benchWords[rng.IntN(len(benchWords))]
	}
	g.prompt = strings.Join(words, " ")
	g.tokens = int64(1280*720*(24*int(g.duration)+1)) / 1024
	switch p := rng.IntN(1000); {
	case p < 880:
		g.status = "SUCCESS"
	case p < 970:
		g.status, g.failReason = "FAILURE", "content policy: the prompt was rejected"
	case p < 980:
		g.status, g.finish = "IN_PROGRESS", 0
	case p < 990:
		g.status, g.finish = "given_up", 0
	default:
		g.status, g.finish = "not_found", 0
	}
	day := time.Unix(finish, 0).UTC().Format("2006/01/02")
	dir := "videos/" + day + "/" + g.id + "/"
	if g.status == "SUCCESS" {
		kinds := []string{"result"}
		if rng.IntN(5) == 0 {
			g.sr = "1080p"
			g.srTokens = int64(1920 * 1080 * (24*int(g.duration) + 1) / 1024)
			kinds = append(kinds, "original")
		}
		g.state, g.sidecar, g.archivedAt = ArchiveArchived, dir+"task.json", (finish+120)*1000
		for _, k := range kinds {
			a := genAsset{kind: k, state: AssetArchived, key: dir + k + ".mp4", size: 1<<20 + rng.Int64N(40<<20),
				sha: fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()),
				w:   1280, h: 720, url: "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/" + g.id +
					"/" + k + ".mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTREDACTED%2F20261127%2Fcn-beijing%2Ftos%2Frequest" +
					"&X-Tos-Date=20261127T101010Z&X-Tos-Expires=86400&X-Tos-Signature=REDACTED&X-Tos-SignedHeaders=host"}
			switch p := rng.IntN(1000); {
			case p < 20:
				a.state, a.size, a.sha, g.state = AssetExpired, 0, "", ArchiveIncomplete
			case p < 30:
				a.state, a.size, a.sha, g.state, g.sidecar, g.archivedAt = AssetPending, 0, "", ArchivePending, "", nil
			}
			g.assets = append(g.assets, a)
		}
	}
	g.raw = fmt.Sprintf(`{"code":"success","message":"","data":{"task_id":%q,"action":%q,"status":%q,`+
		`"fail_reason":%q,"submit_time":%d,"start_time":%d,"finish_time":%d,"progress":"100%%","request_id":"req-%s",`+
		`"result_url":"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/%s/result.mp4?X-Tos-Signature=REDACTED",`+
		`"data":{"id":"cgt-%s","model":%q,"status":"succeeded","content":{"video_url":"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/%s/result.mp4?X-Tos-Signature=REDACTED"},`+
		`"usage":{"completion_tokens":%d,"total_tokens":%d},"created_at":%d,"updated_at":%d,"seed":%d,"resolution":%q,`+
		`"ratio":%q,"duration":%v,"framespersecond":24,"generate_audio":%v,"service_tier":"default","execution_expires_after":172800}}}`,
		g.id, g.action, g.status, g.failReason, g.submit, g.submit+30, g.finish, g.id[9:], g.id, g.id[9:29], g.model,
		g.id, g.tokens, g.tokens, g.submit, g.finish, g.seed, g.res, g.ratio, g.duration, g.audio)
	return g
}

// BenchmarkCatalogListTwoFilters is `catalog list --model M --status SUCCESS
// --limit 50 --format json`: the newest page of one model's successes.
func BenchmarkCatalogListTwoFilters(b *testing.B) {
	benchList(b, Filter{Model: benchModels[2], Status: "SUCCESS", Limit: 50})
}

// BenchmarkCatalogListSinceArchiveState is `catalog list --since 7d
// --archive-state incomplete --limit 50`: last week's partly lost tasks, a
// rare state.
func BenchmarkCatalogListSinceArchiveState(b *testing.B) {
	benchList(b, Filter{Since: benchEnd.AddDate(0, 0, -7), ArchiveState: ArchiveIncomplete, Limit: 50})
}

func benchList(b *testing.B, f Filter) {
	db := openBenchCatalog(b)
	for b.Loop() {
		tw, _ := NewTaskWriter(io.Discard, "json")
		n := 0
		for t, err := range db.Tasks(b.Context(), f) {
			if err != nil {
				b.Fatal(err)
			}
			tw.Write(t)
			n++
		}
		tw.Close()
		if n != f.Limit {
			b.Fatalf("listed %d tasks, want %d", n, f.Limit)
		}
	}
}

// BenchmarkCatalogStatsModelDay is `catalog stats --by model,day`.
func BenchmarkCatalogStatsModelDay(b *testing.B) {
	db := openBenchCatalog(b)
	cpu := processCPU()
	for b.Loop() {
		s, err := db.Stats(b.Context(), []string{"model", "day"})
		if err != nil || s.Total.Tasks != int64(benchTasks()) {
			b.Fatalf("stats: %d tasks, %v", s.Total.Tasks, err)
		}
	}
	// On a shared machine wall time includes waiting for a core; CPU time
	// says what the query itself costs.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkCatalogExportCSV and ...JSONL are `catalog export`; rows/s is the
// figure the target is set in.
func BenchmarkCatalogExportCSV(b *testing.B)   { benchExport(b, "csv") }
func BenchmarkCatalogExportJSONL(b *testing.B) { benchExport(b, "jsonl") }

func benchExport(b *testing.B, format string) {
	db := openBenchCatalog(b)
	rows := 0
	cpu := processCPU()
	for b.Loop() {
		n, err := db.Export(b.Context(), io.Discard, format)
		if err != nil || n != benchTasks() {
			b.Fatalf("export: %d rows, %v", n, err)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/(processCPU()-cpu).Seconds(), "rows/cpu-s")
}
