#!/usr/bin/env bash
# The drill's figures (issue 16): a master and 3 tablet servers on
# 127.0.0.1, a table of one tablet with RF=3, `kmend drill --fault
# kill-leader --trials 20`; prints the table and the load average before and
# after, and keeps the JSON and the SVG timeline.
#   bash scripts/drill-figures.sh [TRIALS] [OUT_DIR]      (default 20, /tmp/kmend-drill-figures)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-20}
OUT=${2:-/tmp/kmend-drill-figures}
mkdir -p "$OUT"
bazel build //tools:kmend //tools:kmend-drill //tools:kmend-ksck //tools:kmend-table //server:kmend-server
KMEND_BIN="$(bazel info bazel-bin 2>/dev/null)"
export KMEND_BIN
source testing/runbooks/harness.sh
h_init
h_master master
for ts in ts1 ts2 ts3; do h_tserver "$ts" --master_addrs "$(h_addr master)"; done
M=$(h_addr master)
kmend table create drill --schema 'id:int64:key,v:string' --tablets 1 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
echo "load average before: $(cat /proc/loadavg)"
kmend drill --masters "$M" --table drill --fault kill-leader --trials "$TRIALS" --rows_per_s 50 \
  --format=json --json_writes --plot "$OUT/drill.svg" --yes-this-is-a-test-cluster >"$OUT/drill.json"
echo "load average after:  $(cat /proc/loadavg)"
jq -r '.summary | to_entries[] | "\(.key): median \(.value.median) min \(.value.min) max \(.value.max) n \(.value.n)"' \
  "$OUT/drill.json"
echo "JSON: $OUT/drill.json  timeline: $OUT/drill.svg"
