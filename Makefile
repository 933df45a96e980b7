# reelvault: `make demo` tries it on the built-in defaults, `make test` runs
# every test against a real S3 server and a real PostgreSQL server, both
# started on loopback.
GO       ?= go
BIN      := bin/reelvault
export CGO_ENABLED := 1

# The packages whose tests open a catalog: `make test` runs them a second time
# with the catalog on PostgreSQL instead of SQLite.
# Restarting PostgreSQL mid-run breaks every other test's connections to it:
# that test runs alone, on a server of its own.
PG_RESTART_TEST := REELVAULT_TEST_CATALOG=postgres REELVAULT_TEST_PG_RESTART=1 scripts/with-postgres.sh \
	$(GO) test -race -count=1 -timeout 5m -run '^TestPostgresRestartCostsRetriesNotData$$' ./cmd/reelvault/

CATALOG_PKGS := ./catalog/... ./archiver/... ./cmd/... ./web/... ./server/... ./metrics/... ./discovery/...

.PHONY: build demo test test-postgres test-short bench fuzz vet clean

build:
	$(GO) build -o $(BIN) ./cmd/reelvault

# A simulated gateway plus one `run --once` into ./reelvault-data, then the catalog.
demo: build
	scripts/demo.sh

# Installs (once, cached under ~/.cache/reelvault) and starts versitygw, and
# (installing Debian's postgresql once when missing) a throwaway PostgreSQL 15,
# each on a free loopback port; runs the whole suite under the race detector
# with the catalog on SQLite, then the catalog's users again with the catalog
# on PostgreSQL (REELVAULT_TEST_CATALOG=postgres), and stops both servers.
# Debian's chromium is installed first when missing, for the web view's
# headless-browser test, and exfatprogs and exfat-fuse, for the fs driver's
# test on a case-insensitive filesystem.
test:
	scripts/ensure-chromium.sh
	scripts/ensure-exfat.sh
	scripts/with-s3.sh scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 20m ./...
	REELVAULT_TEST_CATALOG=postgres scripts/with-s3.sh scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 20m $(CATALOG_PKGS)
	$(PG_RESTART_TEST)
	scripts/fuzz.sh 5s

# Only the second pass of `make test`: the catalog's users on PostgreSQL.
test-postgres:
	REELVAULT_TEST_CATALOG=postgres scripts/with-s3.sh scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 20m $(CATALOG_PKGS)
	$(PG_RESTART_TEST)

# Without the S3 and PostgreSQL servers: the s3/minio driver and Postgres
# catalog tests skip (outside CI).
test-short:
	$(GO) test -count=1 ./...

# Throughput and memory against a plain copy program, poll cost at 100,000
# tasks, and the Go micro-benchmarks, on loopback with the S3 server of
# with-s3.sh (with keep-alive on, as S3 and MinIO have it: versitygw's
# default closes every connection, which charges a TCP connect to every
# request); prints the table and writes bench/results.md. About 12 min;
# BENCH_QUICK=1 for a smaller run while developing.
bench: build
	$(GO) build -o bin/bench-runner ./bench/runner
	$(GO) build -o bin/bench-baseline ./bench/baseline
	VGW_KEEP_ALIVE=true scripts/with-s3.sh bin/bench-runner -reelvault $(BIN) -baseline bin/bench-baseline -out bench/results.md

fuzz:
	scripts/fuzz.sh 60s

vet:
	$(GO) vet ./...

clean:
	rm -rf bin reelvault-data
