package catalog

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The Postgres catalog-scale benchmarks ask a Postgres catalog of
// benchTasks() tasks (1,000,000 unless REELVAULT_BENCH_TASKS says otherwise)
// what bench_test.go asks of SQLite, plus the claims every instance of a
// fleet makes in its loops. They need the server of scripts/with-postgres.sh
// (REELVAULT_TEST_PG_URL) and are skipped without it:
//
//	scripts/with-postgres.sh go test -run '^$' -bench Postgres -benchtime 2s -v ./catalog
//
// (-v, or go test cuts each benchmark's log, the plans, to ten lines.) The
// catalog is generated once, in SQL on the server (INSERT ... SELECT over
// generate_series: about 2.5 minutes on the 2-CPU bench machine), into a
// database named by schema version, generator version and size, which
// later benchmarks reuse while the server lives (with-postgres.sh's server
// lives as long as its command); drop it to regenerate. Each benchmark logs
// EXPLAIN (ANALYZE, BUFFERS) of its queries once.
//
// Limits at 1,000,000 tasks: a listing with two filters and --limit 50
// under 50 ms, stats --by model,day under 2 s, a claim under 10 ms.

const pgBenchGeneratorVersion = 1

// pgBenchNow is the instant the claim benchmarks claim at: the generated
// live tasks' next polls are spread over the hour before and the hour after
// it, so about half of them are due.
var pgBenchNow = benchEnd

const pgBenchOwner = "bench-instance"

// openPostgresBench returns the generated Postgres catalog, generating it
// first when the server does not have it yet.
func openPostgresBench(b *testing.B) *DB {
	b.Helper()
	admin := os.Getenv("REELVAULT_TEST_PG_URL")
	if admin == "" {
		b.Skip("no PostgreSQL server (REELVAULT_TEST_PG_URL unset): run via scripts/with-postgres.sh")
	}
	ctx := b.Context()
	n := benchTasks()
	name := fmt.Sprintf("rv_bench_s%d_g%d_%d", len(postgresMigrations), pgBenchGeneratorVersion, n)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		b.Fatalf("connect to %s: %v", PostgresWhere(admin), err)
	}
	var exists bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		b.Fatal(err)
	}
	if !exists {
		began := time.Now()
		if err := generatePostgresCatalog(ctx, admin, name, n); err != nil {
			b.Fatalf("generate %d-task Postgres catalog: %v", n, err)
		}
		b.Logf("generated %d tasks into database %s in %s", n, name, time.Since(began).Round(time.Second))
	}
	dsn, err := databaseURL(admin, name)
	if err != nil {
		b.Fatal(err)
	}
	db, err := OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	// A benchmark stopped between a claim and its release must not leave
	// the next run with nothing to claim.
	if err := db.ReleaseLeases(ctx, pgBenchOwner); err != nil {
		b.Fatal(err)
	}
	return db
}

// databaseURL is admin with its database replaced by name.
func databaseURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("parse REELVAULT_TEST_PG_URL: %w", err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// generatePostgresCatalog creates database name holding n tasks shaped as
// generateCatalog shapes them for SQLite (a year of finished tasks, the
// same models, statuses, super-resolution share, ~1 KiB raw reply, prompt,
// expired and pending videos), plus what a fleet's claims need: 0.5 % of
// the tasks live (IN_PROGRESS, next poll within an hour of pgBenchNow),
// about 3,000 pending videos and a few hundred tasks waiting for their
// task.json. It fills a scratch database and renames it into place, so an
// interrupted run leaves no half-filled catalog to be reused.
func generatePostgresCatalog(ctx context.Context, admin, name string, n int) error {
	tmp := name + "_tmp"
	adminConn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer adminConn.Close(context.WithoutCancel(ctx))
	if _, err := adminConn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{tmp}.Sanitize()+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := adminConn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{tmp}.Sanitize()+` TEMPLATE template0`); err != nil {
		return err
	}
	dsn, err := databaseURL(admin, tmp)
	if err != nil {
		return err
	}
	// The schema is the one reelvault migrates to.
	schema, err := OpenPostgres(ctx, dsn)
	if err != nil {
		return err
	}
	schema.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, q := range []string{
		// Triggers (assets_bytes, which the generator does the work of) and
		// foreign-key checks fire only in origin mode.
		`SET session_replication_role = replica`,
		`SET work_mem = '256MB'`,
		`SELECT setseed(0.42)`,
		pgGenerateSQL(n),
		pgInsertTasksSQL,
		pgInsertAssetsSQL,
		`DROP TABLE bench_gen`,
		`RESET session_replication_role`,
		// As autovacuum leaves a catalog that has been running a while:
		// statistics current, the visibility map set (index-only scans).
		`VACUUM (ANALYZE) tasks`,
		`VACUUM (ANALYZE) assets`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%.60s...: %w", strings.Join(strings.Fields(q), " "), err)
		}
	}
	conn.Close(ctx)
	_, err = adminConn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{tmp}.Sanitize()+` RENAME TO `+pgx.Identifier{name}.Sanitize())
	return err
}

// pgGenerateSQL draws every task's random choices into the scratch table
// bench_gen, with the shares of genTask; the inserts then read it.
func pgGenerateSQL(n int) string {
	start := benchEnd.AddDate(-1, 0, 0).Unix()
	span := benchEnd.Unix() - start
	lit := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
		return "ARRAY[" + strings.Join(q, ",") + "]"
	}
	return fmt.Sprintf(`CREATE UNLOGGED TABLE bench_gen AS
	SELECT s.*,
		CASE WHEN status <> 'SUCCESS' THEN ''
			WHEN rs = 'expired' OR os = 'expired' THEN 'incomplete'
			WHEN rs = 'pending' OR os = 'pending' OR r_sidecar < 0.0002 THEN 'pending'
			ELSE 'archived' END AS state,
		CASE WHEN rs = 'archived' THEN size1 ELSE 0 END + CASE WHEN os = 'archived' THEN size2 ELSE 0 END AS bytes,
		'videos/' || to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYY/MM/DD') || '/' || id || '/' AS dir
	FROM (
		SELECT r.*,
			CASE WHEN p < 880 THEN 'SUCCESS' WHEN p < 970 THEN 'FAILURE' WHEN p < 975 THEN 'IN_PROGRESS'
				WHEN p < 985 THEN 'given_up' ELSE 'not_found' END AS status,
			CASE WHEN p < 970 THEN t ELSE 0 END AS finish,
			CASE WHEN p < 880 AND r_sr < 0.2 THEN '1080p' ELSE '' END AS sr,
			CASE WHEN p >= 880 THEN NULL WHEN r_rs < 0.02 THEN 'expired' WHEN r_rs < 0.023 THEN 'pending'
				ELSE 'archived' END AS rs,
			CASE WHEN p >= 880 OR r_sr >= 0.2 THEN NULL WHEN r_os < 0.02 THEN 'expired' WHEN r_os < 0.023 THEN 'pending'
				ELSE 'archived' END AS os
		FROM (
			SELECT i,
				'asyntask_' || md5('rv' || i) AS id,
				floor(random() * 1000)::int AS p,
				%[2]d + floor(random() * %[3]d)::bigint AS t,
				(%[4]s)[1 + floor(random() * %[5]d)::int] AS model,
				(ARRAY['generate','generate','referenceGenerate','firstTailGenerate','omniGenerate'])[1 + floor(random() * 5)::int] AS action,
				(ARRAY['16:9','9:16','1:1','4:3'])[1 + floor(random() * 4)::int] AS ratio,
				(ARRAY['480p','720p','1080p'])[1 + floor(random() * 3)::int] AS res,
				(4 + floor(random() * 12))::int AS duration,
				floor(random() * 2147483648)::bigint AS seed,
				random() < 0.5 AS audio,
				60 + floor(random() * 600)::bigint AS queued,
				(%[6]s)[1 + floor(random() * %[7]d)::int] AS prompt,
				random() AS r_sr, random() AS r_rs, random() AS r_os, random() AS r_sidecar, random() AS r_next,
				1048576 + floor(random() * 41943040)::bigint AS size1,
				1048576 + floor(random() * 41943040)::bigint AS size2,
				md5('a' || i) || md5('b' || i) AS sha1,
				md5('c' || i) || md5('d' || i) AS sha2
			FROM generate_series(1, %[1]d) AS i
		) r
	) s`, n, start, span, lit(benchModels), len(benchModels), lit(pgBenchPrompts()), pgBenchPromptCount,
	)
}

const pgBenchPromptCount = 1000

// pgBenchPrompts are prompts of 8 to 27 of benchWords, as genTask writes
// them; each task takes one at random.
func pgBenchPrompts() []string {
	out := make([]string, pgBenchPromptCount)
	for i := range out {
		k := 8 + (i*7)%20
		words := make([]string, k)
		for j := range words {
			words[j] = benchWords[(i*31+j*17+j*j)%len(benchWords)]
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

// pgInsertTasksSQL writes the tasks, archived_bytes included (the trigger
// that keeps it is off during the load). Live tasks are polled again
// within an hour either side of pgBenchNow.
var pgInsertTasksSQL = fmt.Sprintf(`INSERT INTO tasks (task_id, status, archive_state, action, model, duration, ratio,
	resolution, super_resolution, framespersecond, generate_audio, seed, completion_tokens, total_tokens,
	super_resolution_tokens, submit_time, start_time, finish_time, progress, request_id, upstream_id, upstream_status,
	fail_reason, raw_reply, tracked_at, polls, last_polled_at, next_poll_at, task_json_key, archived_at, prompt, source,
	archived_bytes, settled_at)
SELECT id, status, state, action, model, duration, ratio, res, sr, 24, audio, seed,
	1280 * 720 * (24 * duration + 1) / 1024, 1280 * 720 * (24 * duration + 1) / 1024,
	CASE WHEN sr <> '' THEN 1920 * 1080 * (24 * duration + 1) / 1024 ELSE 0 END,
	t - queued, t - queued + 30, finish,
	CASE WHEN status = 'IN_PROGRESS' THEN '63%%' ELSE '100%%' END,
	'req-' || substr(id, 10), 'cgt-' || substr(id, 10, 20),
	CASE WHEN status = 'IN_PROGRESS' THEN 'running' ELSE 'succeeded' END,
	CASE WHEN status = 'FAILURE' THEN 'content policy: the prompt was rejected' ELSE '' END,
	format('{"code":"success","message":"","data":{"task_id":"%%1$s","action":"%%2$s","status":"%%3$s",'
		'"fail_reason":"%%4$s","submit_time":%%5$s,"start_time":%%6$s,"finish_time":%%7$s,"progress":"100%%%%",'
		'"request_id":"req-%%8$s","result_url":"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/%%1$s/result.mp4?X-Tos-Signature=REDACTED",'
		'"data":{"id":"cgt-%%9$s","model":"%%10$s","status":"succeeded","content":{"video_url":"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/%%1$s/result.mp4?X-Tos-Signature=REDACTED"},'
		'"usage":{"completion_tokens":%%11$s,"total_tokens":%%11$s},"created_at":%%5$s,"updated_at":%%7$s,"seed":%%12$s,"resolution":"%%13$s",'
		'"ratio":"%%14$s","duration":%%15$s,"framespersecond":24,"generate_audio":%%16$s,"service_tier":"default","execution_expires_after":172800}}}',
		id, action, status, CASE WHEN status = 'FAILURE' THEN 'content policy: the prompt was rejected' ELSE '' END,
		t - queued, t - queued + 30, finish, substr(id, 10), substr(id, 10, 20), model,
		1280 * 720 * (24 * duration + 1) / 1024, seed, res, ratio, duration, audio),
	(t - queued) * 1000,
	CASE WHEN status = 'IN_PROGRESS' THEN 3 ELSE 12 END,
	CASE WHEN status IN ('IN_PROGRESS', 'SUCCESS', 'FAILURE') THEN t * 1000 END,
	CASE WHEN status = 'IN_PROGRESS' THEN %d + floor((r_next * 2 - 1) * 3600000)::bigint END,
	CASE WHEN status = 'SUCCESS' AND state <> 'pending' THEN dir || 'task.json' ELSE '' END,
	CASE WHEN state = 'archived' THEN (t + 120) * 1000 END,
	prompt, 'proxy', bytes,
	CASE WHEN state IN ('archived', 'incomplete') THEN (t + 120) * 1000 END
FROM bench_gen ORDER BY i`, pgBenchNow.UnixMilli())

// pgInsertAssetsSQL writes every SUCCESS task's result video and, for
// super-resolution tasks, the original.
const pgInsertAssetsSQL = `INSERT INTO assets (task_id, kind, source_url, expires_at, state, location, key, size, sha256,
	attempts, last_error, archived_at, media_duration, media_width, media_height, media_check, bucket, url)
SELECT id, kind,
	'https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/' || id || '/' || kind ||
		'.mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTREDACTED%2F20261127%2Fcn-beijing%2Ftos%2Frequest' ||
		'&X-Tos-Date=20261127T101010Z&X-Tos-Expires=86400&X-Tos-Signature=REDACTED&X-Tos-SignedHeaders=host',
	(t + 86400) * 1000, st,
	CASE WHEN st = 'archived' THEN 's3://videos' ELSE '' END,
	CASE WHEN st = 'archived' THEN dir || kind || '.mp4' ELSE '' END,
	CASE WHEN st = 'archived' THEN size ELSE 0 END,
	CASE WHEN st = 'archived' THEN sha ELSE '' END,
	CASE WHEN st = 'pending' THEN 0 ELSE 1 END,
	CASE WHEN st = 'expired' THEN 'the signed URL expired before the video was stored' ELSE '' END,
	CASE WHEN st = 'archived' THEN (t + 120) * 1000 END,
	CASE WHEN st = 'archived' THEN duration ELSE 0 END,
	CASE WHEN st = 'archived' THEN 1280 ELSE 0 END,
	CASE WHEN st = 'archived' THEN 720 ELSE 0 END,
	CASE WHEN st = 'archived' THEN 'ok' ELSE '' END,
	CASE WHEN st = 'archived' THEN 'videos' ELSE '' END,
	CASE WHEN st = 'archived' THEN 's3://videos/' || dir || kind || '.mp4' ELSE '' END
FROM (
	SELECT i, id, t, dir, duration, 'result' AS kind, rs AS st, size1 AS size, sha1 AS sha FROM bench_gen WHERE rs IS NOT NULL
	UNION ALL
	SELECT i, id, t, dir, duration, 'original', os, size2, sha2 FROM bench_gen WHERE os IS NOT NULL
) a ORDER BY i, kind DESC`

// explainAnalyze logs Postgres's EXPLAIN (ANALYZE, BUFFERS) of q, run in a
// transaction that is rolled back, so a claim's UPDATE changes nothing.
func explainAnalyze(b *testing.B, c *DB, name, q string, args ...any) {
	b.Helper()
	ctx := b.Context()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q, args...)
	if err != nil {
		b.Fatalf("explain %s: %v", name, err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		plan.WriteString("\n    " + line)
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("explain %s: %v", name, err)
	}
	b.Logf("EXPLAIN ANALYZE %s:%s", name, plan.String())
}

// BenchmarkPostgresListTwoFilters is `catalog list --model M --status
// SUCCESS --limit 50`: the newest page of one model's successes, with
// their videos.
func BenchmarkPostgresListTwoFilters(b *testing.B) {
	benchPostgresList(b, Filter{Model: benchModels[2], Status: "SUCCESS", Limit: 50})
}

// BenchmarkPostgresListSinceArchiveState is `catalog list --since 7d
// --archive-state incomplete --limit 50`: last week's partly lost tasks.
func BenchmarkPostgresListSinceArchiveState(b *testing.B) {
	benchPostgresList(b, Filter{Since: benchEnd.AddDate(0, 0, -7), ArchiveState: ArchiveIncomplete, Limit: 50})
}

func benchPostgresList(b *testing.B, f Filter) {
	db := openPostgresBench(b)
	q, args, err := f.query(db.db.d, listColumns)
	if err != nil {
		b.Fatal(err)
	}
	explainAnalyze(b, db, "tasks page", q, args...)
	page, err := db.List(b.Context(), f)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]any, len(page))
	for i, t := range page {
		ids[i] = t.TaskID
	}
	explainAnalyze(b, db, "assets of the page", `SELECT `+listAssetColumns+` FROM assets WHERE task_id IN (?`+
		strings.Repeat(",?", len(ids)-1)+`) ORDER BY task_id, kind DESC`, ids...)
	for b.Loop() {
		tasks, err := db.List(b.Context(), f)
		if err != nil {
			b.Fatal(err)
		}
		if len(tasks) != f.Limit {
			b.Fatalf("listed %d tasks, want %d", len(tasks), f.Limit)
		}
	}
}

// BenchmarkPostgresStatsModelDay is `catalog stats --by model,day`.
func BenchmarkPostgresStatsModelDay(b *testing.B) {
	db := openPostgresBench(b)
	q, _ := statsQuery([]string{"model", "day"})
	explainAnalyze(b, db, "stats --by model,day", q)
	for b.Loop() {
		s, err := db.Stats(b.Context(), []string{"model", "day"})
		if err != nil || s.Total.Tasks != int64(benchTasks()) {
			b.Fatalf("stats: %d tasks, %v", s.Total.Tasks, err)
		}
	}
}

// The claims' SQL, copied from lease.go for EXPLAIN (keep them in step).
const (
	pgClaimPollsSQL = `UPDATE tasks SET lease_owner=?, lease_until=? WHERE task_id IN (
			SELECT task_id FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?
			AND (lease_until <= ? OR lease_owner = ?)
			ORDER BY next_poll_at LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING task_id, status, tracked_at, submit_time, not_found_count, polls, next_poll_at`
	pgClaimAssetsSQL = `UPDATE assets SET lease_owner=?, lease_until=? WHERE (task_id, kind) IN (
			SELECT task_id, kind FROM assets WHERE state='pending' AND next_attempt_at <= ? AND lease_until <= ?
			ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING ` + assetColumns
	pgClaimSidecarsSQL = `UPDATE tasks SET lease_owner=?, lease_until=? WHERE task_id IN (
			SELECT task_id FROM tasks t WHERE archive_state='pending' AND lease_until <= ?
			AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.task_id=t.task_id AND a.state='pending')
			LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING task_id`
)

// openClaimBench opens the generated catalog for a claim benchmark. Every
// claim and release writes new row versions (lease_owner is indexed, so
// none is a HOT update): each claim benchmark starts from vacuumed tables,
// not from the dead rows the one before left.
func openClaimBench(b *testing.B) *DB {
	db := openPostgresBench(b)
	if _, err := db.db.ExecContext(b.Context(), `VACUUM tasks, assets`); err != nil {
		b.Fatal(err)
	}
	return db
}

// benchClaim times claim and the release of what it claimed, reported
// apart as claim-ms/op and release-ms/op; ns/op is the pair. Every claim
// must return want rows, or as many as claimable counts (a smaller
// REELVAULT_BENCH_TASKS has fewer due).
func benchClaim(b *testing.B, db *DB, want int, claimable string, args []any, claim func() (int, error)) {
	ctx := b.Context()
	var due int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+claimable+`) c`, args...).Scan(&due); err != nil {
		b.Fatal(err)
	}
	if want = min(want, due); want == 0 {
		b.Fatal("nothing to claim")
	}
	var claiming, releasing time.Duration
	for b.Loop() {
		began := time.Now()
		n, err := claim()
		if err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("claimed %d, want %d", n, want)
		}
		claimed := time.Now()
		if err := db.ReleaseLeases(ctx, pgBenchOwner); err != nil {
			b.Fatal(err)
		}
		claiming += claimed.Sub(began)
		releasing += time.Since(claimed)
	}
	b.ReportMetric(float64(claiming)/float64(b.N)/1e6, "claim-ms/op")
	b.ReportMetric(float64(releasing)/float64(b.N)/1e6, "release-ms/op")
}

// BenchmarkPostgresClaimPolls is the poll loop's claim of its next batch
// (64, as pollBatch takes at a high request rate) among 1,000,000 tasks
// of which 5,000 are live and about half of those due, then the release
// of the batch.
func BenchmarkPostgresClaimPolls(b *testing.B) {
	db := openClaimBench(b)
	lease := time.Minute
	now := pgBenchNow
	explainAnalyze(b, db, "ClaimPolls", pgClaimPollsSQL, pgBenchOwner, ms(now.Add(lease)), ms(now), ms(now), pgBenchOwner, 64)
	benchClaim(b, db, 64, `SELECT 1 FROM tasks WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?`, []any{ms(now)}, func() (int, error) {
		due, err := db.ClaimPolls(b.Context(), pgBenchOwner, now, lease, 64)
		return len(due), err
	})
}

// BenchmarkPostgresClaimAssets is the archive loop's claim of videos to
// transfer (4, archive.concurrency's default, all slots free) among about
// 3,000 pending of 1,050,000, then their release.
func BenchmarkPostgresClaimAssets(b *testing.B) {
	db := openClaimBench(b)
	lease := time.Minute
	now := pgBenchNow
	explainAnalyze(b, db, "ClaimAssets", pgClaimAssetsSQL, pgBenchOwner, ms(now.Add(lease)), ms(now), ms(now), 4)
	benchClaim(b, db, 4, `SELECT 1 FROM assets WHERE state='pending' AND next_attempt_at <= ?`, []any{ms(now)}, func() (int, error) {
		due, err := db.ClaimAssets(b.Context(), pgBenchOwner, now, lease, 4)
		return len(due), err
	})
}

// BenchmarkPostgresClaimSidecars is the archive loop's other claim, of
// tasks whose videos are settled and whose task.json is not written (a few
// hundred), then their release.
func BenchmarkPostgresClaimSidecars(b *testing.B) {
	db := openClaimBench(b)
	lease := time.Minute
	now := pgBenchNow
	explainAnalyze(b, db, "ClaimSidecars", pgClaimSidecarsSQL, pgBenchOwner, ms(now.Add(lease)), ms(now), 4)
	benchClaim(b, db, 4, `SELECT 1 FROM tasks t WHERE archive_state='pending'
		AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.task_id=t.task_id AND a.state='pending')`, nil, func() (int, error) {
		ids, err := db.ClaimSidecars(b.Context(), pgBenchOwner, now, lease, 4)
		return len(ids), err
	})
}
