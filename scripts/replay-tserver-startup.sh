#!/usr/bin/env bash
# Replays one tablet server's start-up from a saved data directory and prints
# the time until its RPC server listens and the CPU time it used until then
# (docs/design/scale.md, "Restart"). The directory comes from
#   bazel test //bench/scale:scale_bench --test_tag_filters=benchmark \
#     --test_env=KMEND_SCALE_TABLETS=2000 --test_env=KMEND_SCALE_RESTARTS=0 \
#     --test_env=KMEND_SCALE_SAVE_DATA=DIR     (saves DIR/n2000-ts0 after a SIGKILL)
# Each run starts from a fresh sparse copy, so the original stays as saved.
# Caveat: a sparse copy has no preallocated extents, so a recovery's cut of a
# segment's preallocated tail costs less here than on the real directory.
#
#   scripts/replay-tserver-startup.sh SAVED_DIR [REPLICA_START_THREADS]
# Needs bazel-bin/server/kmend-server (bazel build //server:kmend-server).
set -euo pipefail
saved="${1:?usage: $0 SAVED_DIR [REPLICA_START_THREADS]}"
threads="${2:-8}"
bin="$(cd "$(dirname "$0")/.." && pwd)/bazel-bin/server/kmend-server"
[[ -x "$bin" ]] || { echo "replay: $bin missing: bazel build //server:kmend-server" >&2; exit 2; }
work="$(mktemp -d /tmp/kmend-replay.XXXXXX)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp -a --sparse=always "$saved" "$work/data"
sync
t0=$(date +%s.%N)
# An unreachable master: the replay measures the start-up alone.
"$bin" tserver --fs_root="$work/data" --master_addrs=127.0.0.1:1 --port_file="$work/port" \
  --replica_start_threads="$threads" --log_file="$work/server.log" >/dev/null 2>&1 &
pid=$!
until [[ -s "$work/port" ]]; do
  kill -0 "$pid" 2>/dev/null || { echo "replay: the server exited; see its log" >&2; exit 1; }
  sleep 0.05
done
t1=$(date +%s.%N)
read -r -a st <"/proc/$pid/stat"
ticks=$(getconf CLK_TCK)
python3 -c "import sys; print('threads=%s listening %.2f s, cpu %.2f s, load %s' % (sys.argv[1], float(sys.argv[3]) - float(sys.argv[2]), (int(sys.argv[4]) + int(sys.argv[5])) / int(sys.argv[6]), sys.argv[7]))" \
  "$threads" "$t0" "$t1" "${st[13]}" "${st[14]}" "$ticks" "$(cut -d' ' -f1 /proc/loadavg)"
