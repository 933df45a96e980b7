#!/usr/bin/env bash
# bench/ha/run.sh [FLAGS]: measure reelvault as a fleet (1, 2 and 3 `run`
# instances on one Postgres catalog, against one on SQLite) and the Postgres
# catalog's queries at 1,000,000 tasks, and write bench/results-ha.md.
#
# Builds bin/reelvault and bin/bench-ha, then runs the driver under
# scripts/with-postgres.sh, which starts a throwaway PostgreSQL 15 on a free
# 127.0.0.1 port and removes it afterwards. Every listener the driver starts
# (simulators, instances' HTTP servers) is on 127.0.0.1 with a port the
# kernel picks; it stops them all, and drops its databases, on exit or
# Ctrl-C. FLAGS go to the driver (bin/bench-ha -h lists them), e.g.
#
#	bench/ha/run.sh -runs 1 -only archive,budget
#
# About 15 minutes in all, 2.5 of them generating the 1,000,000-task catalog.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CGO_ENABLED=1
go build -o bin/reelvault ./cmd/reelvault
go build -o bin/bench-ha ./bench/ha
exec scripts/with-postgres.sh bin/bench-ha -reelvault bin/reelvault -out bench/results-ha.md "$@"
