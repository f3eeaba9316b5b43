#!/usr/bin/env bash
# A/B of two kmend-server binaries under the same write_bench, alternating
# A, B, A, B... so that both see the same swings of a shared machine
# (docs/benchmarks.md, "Context switches per write"). For each run prints
# the load average, then per case: rows/s, the servers' CPU ms per row and
# their context switches per row (the steadiest of the three here).
#
#   scripts/ab-write-bench.sh PAIRS FILTER BIN_A BIN_B
#   e.g. scripts/ab-write-bench.sh 4 'rows_per_write:1/tablets:1/' /tmp/server.old bazel-bin/server/kmend-server
#
# Copy a binary aside before rebuilding (bazel-bin is overwritten). Needs
# bazel-bin/bench/client/write_bench (bazel build //bench/client:write_bench).
set -euo pipefail
if (($# != 4)); then sed -n '2,12p' "$0"; exit 2; fi
pairs=$1 filter=$2 a=$3 b=$4
cd "$(dirname "$0")/.."
bench=bazel-bin/bench/client/write_bench
[[ -x $bench ]] || { echo "ab-write-bench: build //bench/client:write_bench first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((i = 1; i <= pairs; i++)); do
  for bin in "$a" "$b"; do
    printf '%s load=%s ' "$(basename "$bin")" "$(cut -d' ' -f1 /proc/loadavg)"
    KMEND_SERVER_BIN=$bin TEST_TMPDIR=$work "$bench" --benchmark_filter="$filter" 2>&1 |
      grep -E 'threads' |
      sed -E 's/.*tablets:([0-9]+).*threads:([0-9]+).*items_per_second=([0-9.k]+)\/s.*server_cpu_ms_per_row=([0-9.]+) server_switches_per_row=([0-9.]+).*/tablets=\1 clients=\2 rows\/s=\3 cpu_ms=\4 switches=\5 |/' |
      tr '\n' ' '
    echo
  done
done
