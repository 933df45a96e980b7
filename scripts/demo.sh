#!/usr/bin/env bash
# The demo on the built-in defaults: start the simulated gateway, track its
# tasks, archive them with one `run --once` into ./reelvault-data, print the
# catalog. Needs nothing but the binary built by `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/reelvault
mkdir -p reelvault-data
ids=$(mktemp)
log=reelvault-data/simulator.log
"$bin" simulate --tasks 12 --run-for 4s --failure-rate 0.15 --sr-rate 0.4 >"$ids" 2>"$log" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null; rm -f "$ids"' EXIT
for _ in $(seq 100); do
  [ "$(wc -l <"$ids")" -ge 12 ] && break
  kill -0 $sim 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
"$bin" track - <"$ids"
"$bin" run --once --deadline 2m
echo
"$bin" catalog list
echo
echo "Videos and task.json sidecars are under ./reelvault-data/objects; try: bin/reelvault catalog show <task_id>"
