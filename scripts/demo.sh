#!/usr/bin/env bash
# README command (1): install what is missing, build the tools, and narrate a
# small scenario in a temp directory that is removed at the end.
#
# Structure: one function per act (act_*), run in the order of ACTS. To add an
# act, write a function and append it to ACTS (and its Bazel targets to
# TARGETS). Acts share $DEMO_DIR and the helpers say/show/expect_exit.
# Every line the demo narrates starts with "==> ". Safe to run repeatedly.
#
# KMEND_DEMO_BIN=DIR (a Bazel output tree holding tools/ and server/) skips
# the install and the build and uses those binaries; KMEND_DEMO_FAST=1 writes
# fewer rows and runs one drill trial instead of three. The test suite runs
# both (//scripts:demo_test).
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=${KMEND_DEMO_FAST:-0}

TARGETS=(//tools:kmend //tools:kmend-pbc //tools:kmend-cmeta //tools:kmend-wal //tools:kmend-table
         //tools:kmend-ksck //tools:kmend-write //tools:kmend-scan
         //tools:kmend-unsafe-change-config //tools:kmend-drill //server:kmend-server)
ACTS=(act_cmeta_roundtrip act_cmeta_corruption act_cluster_start act_cluster_wal act_cluster_failures
      act_cluster_mend act_drill)

say() { echo "==> $*"; }

# show CMD...: prints the command like a shell prompt, then runs it.
show() {
  echo "\$ $*"
  "$@"
}

# expect_exit CODE CMD...: shows and runs CMD, which must exit with CODE.
expect_exit() {
  local want=$1 rc=0
  shift
  echo "\$ $*"
  "$@" || rc=$?
  if [[ $rc -ne $want ]]; then
    echo "demo: '$*' exited $rc, expected $want" >&2
    exit 1
  fi
  say "(exit code $rc, as expected)"
}

setup() {
  local bin
  if [[ -n "${KMEND_DEMO_BIN:-}" ]]; then
    bin=$KMEND_DEMO_BIN
  else
    say "Installing missing Debian packages (scripts/install-deps.sh)"
    bash scripts/install-deps.sh
    say "Building ${TARGETS[*]}"
    bazel build "${TARGETS[@]}"
    # `bazel info` names the output tree of the default configuration even when
    # the bazel-bin symlink points at another one (e.g. after a fuzz build).
    bin="$(bazel info bazel-bin 2>/dev/null)"
  fi
  export PATH="$bin/tools:$bin/server:$PATH"
  DEMO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kmend-demo.XXXXXX")"
  trap 'rm -rf "$DEMO_DIR"' EXIT
  say "Working in $DEMO_DIR (removed at exit)"
  show kmend help
}

TABLET=0123456789abcdef0123456789abcdef
ROWS=3000
[[ $FAST == 1 ]] && ROWS=500

act_cmeta_roundtrip() {
  say "Act: consensus metadata. Write a replica's Raft term, vote and config with the library"
  show kmend cmeta create "$DEMO_DIR/ts1" --tablet "$TABLET" --term 3 --voted_for \
    a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 \
    --peers a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1@127.0.0.1:7050,b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2@127.0.0.1:7051,c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3@127.0.0.1:7052
  CMETA="$DEMO_DIR/ts1/consensus-meta/$TABLET"
  say "It is a Kudu-format PB container: header, descriptors of its own type, one record"
  show od -A d -t x1 -N 16 "$CMETA"
  say "Any container can be dumped without knowing its type (embedded descriptors)"
  show kmend pbc dump "$CMETA"
  say "The cmeta tool shows it the way an operator thinks of it"
  show kmend cmeta print "$CMETA"
  say "And checks framing, every CRC32C and the content"
  expect_exit 0 kmend pbc verify "$CMETA"
}

act_cmeta_corruption() {
  say "Act: bit rot. Flip one byte inside the record (10 bytes before the end of the file)"
  local size offset
  size=$(stat -c %s "$CMETA")
  offset=$((size - 10))
  cp "$CMETA" "$DEMO_DIR/cmeta.good"
  printf '\xff' | dd of="$CMETA" bs=1 seek="$offset" conv=notrunc status=none
  say "pbc verify names the record's offset and both CRCs, and exits 1"
  expect_exit 1 kmend pbc verify "$CMETA"
  say "The same as JSON, for scripts"
  expect_exit 1 kmend pbc verify --format=json "$CMETA"
  say "Readers refuse the damaged file instead of using it"
  expect_exit 1 kmend cmeta print "$CMETA"
  say "A torn tail (crash mid-write) is told apart from corruption"
  head -c $((size - 3)) "$DEMO_DIR/cmeta.good" >"$DEMO_DIR/cmeta.torn"
  expect_exit 1 kmend pbc verify "$DEMO_DIR/cmeta.torn"
}

# ---------------------------------------------------------------- a cluster

SERVER_PIDS=()

# start_server NAME ROLE ARGS...: starts kmend-server in the background on a
# port it picks itself, and waits for the port it bound.
start_server() {
  local name=$1 role=$2
  shift 2
  local dir="$DEMO_DIR/cluster/$name"
  mkdir -p "$dir"
  rm -f "$dir/port"
  kmend-server "$role" --fs_root "$dir/data" --rpc_bind 127.0.0.1:0 --port_file "$dir/port" \
    --log_file "$dir/server.log" "$@" 2>>"$dir/stderr" &
  SERVER_PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 100); do
    [[ -s "$dir/port" ]] && break
    sleep 0.1
  done
  [[ -s "$dir/port" ]] || { echo "demo: $name did not start; see $dir/stderr" >&2; cat "$dir/stderr" >&2; exit 1; }
  eval "ADDR_$name=127.0.0.1:$(cat "$dir/port")"
}

stop_servers() {
  for pid in "${SERVER_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # Servers the drill restarted are not our children: each data directory's
  # lock file names its holder (only a process whose command line names
  # that directory is killed; pids get reused).
  local lock pid
  for lock in "$DEMO_DIR"/*/*/data/.kmend.lock; do
    [[ -s "$lock" ]] || continue
    pid=$(tr -dc '0-9' <"$lock")
    if [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "${lock%/.kmend.lock}"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}

# wait_ksck REGEX: polls ksck (JSON) until a line of its output matches REGEX
# (top-level fields are indented by two spaces).
wait_ksck() {
  local want=$1
  for _ in $(seq 60); do
    local out
    out=$(kmend ksck --masters "$ADDR_master" --format=json --timeout 2s 2>/dev/null || true)
    if grep -q "$want" <<<"$out"; then
      return 0
    fi
    sleep 0.5
  done
  echo "demo: ksck never reported $want; its last answer:" >&2
  kmend ksck --masters "$ADDR_master" --format=plain-full --timeout 2s >&2 || true
  exit 1
}

act_cluster_start() {
  say "Act: a cluster. One master and three tablet servers on 127.0.0.1, ports they pick"
  trap 'stop_servers; rm -rf "$DEMO_DIR"' EXIT
  start_server master master --tserver_unresponsive_timeout_ms 3000
  for ts in ts1 ts2 ts3; do
    start_server "$ts" tserver --master_addrs "$ADDR_master" --heartbeat_interval_ms 300
  done
  say "master at $ADDR_master; tablet servers at $ADDR_ts1 $ADDR_ts2 $ADDR_ts3"
  show kmend table create orders --schema 'id:int64:key,name:string,v:double' --tablets 3 \
    --replicas 3 --masters "$ADDR_master"
  say "Each tablet is a Raft group of three replicas; wait for every group to elect a leader"
  wait_ksck '^  "ok": true'
  say "Write $ROWS rows through Raft (each acknowledged once a majority has it) and count them"
  show kmend write orders --rows "$ROWS" --masters "$ADDR_master"
  show kmend scan orders --count --masters "$ADDR_master"
  say "ksck: one status call per server, a verdict per tablet, exit 0 when all is well"
  expect_exit 0 kmend ksck --masters "$ADDR_master"
}

act_cluster_wal() {
  say "Act: the write-ahead log. Every replica logs its Raft entries (Kudu's segment format, zstd)"
  local tablet_dir
  tablet_dir=$(ls -d "$DEMO_DIR"/cluster/ts1/data/wals/* | head -n 1)
  show kmend wal dump --entries=id "$tablet_dir"
  expect_exit 0 kmend wal verify "$tablet_dir"
}

act_cluster_failures() {
  say "Act: failures. kill -9 one tablet server: every tablet loses a replica"
  kill -9 "$PID_ts3"
  say "Once the master misses its heartbeats, ksck calls the tablets UNDER_REPLICATED (exit 1)"
  wait_ksck '"health": "UNDER_REPLICATED"'
  expect_exit 1 kmend ksck --masters "$ADDR_master" --sections tables
  say "Now kill -9 a second one: two of three replicas lost, no majority, no writes"
  kill -9 "$PID_ts2"
  wait_ksck '"health": "UNAVAILABLE"'
  say "ksck says UNAVAILABLE, and names the fix: force the surviving replica's config"
  expect_exit 1 kmend ksck --masters "$ADDR_master" --sections tablets
}

act_cluster_mend() {
  say "Act: mending. Run exactly what ksck printed; first without --yes, it only shows the plan"
  local fixes
  fixes=$(kmend ksck --masters "$ADDR_master" --format=json 2>/dev/null | grep -o '"command": "[^"]*"' |
    sed 's/"command": "kmend //; s/"$//' || true)
  [[ -n "$fixes" ]] || { echo "demo: ksck named no fix" >&2; exit 1; }
  local first
  first=$(head -n 1 <<<"$fixes")
  # shellcheck disable=SC2086
  show kmend ${first% --yes}
  say "Now with --yes, once per tablet; each saves the replaced consensus state first"
  while read -r fix; do
    # shellcheck disable=SC2086
    show kmend $fix --backup_dir "$DEMO_DIR/backups"
  done <<<"$fixes"
  say "Each survivor elects itself: the tablets are writable again (still under-replicated)"
  wait_ksck '"UNAVAILABLE": 0'
  expect_exit 1 kmend ksck --masters "$ADDR_master" --sections tables
  show kmend write orders --rows 1000 --start "$ROWS" --masters "$ADDR_master"
  say "Every row acknowledged before the failures is still there, plus the new ones"
  show kmend scan orders --count --masters "$ADDR_master"
}

act_drill() {
  say "Act: a failover drill. A fresh cluster of one master and three tablet servers, a table of RF=3"
  local trials=3
  [[ $FAST == 1 ]] && trials=1
  start_server dmaster master
  for ts in dts1 dts2 dts3; do
    start_server "$ts" tserver --master_addrs "$ADDR_dmaster" --heartbeat_interval_ms 300
  done
  show kmend table create drill --schema 'id:int64:key,v:string' --tablets 1 --replicas 3 \
    --masters "$ADDR_dmaster"
  local ok=0
  for _ in $(seq 60); do
    kmend ksck --masters "$ADDR_dmaster" >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.5
  done
  [[ $ok == 1 ]] || { echo "demo: the drill's cluster never became HEALTHY" >&2; exit 1; }
  say "kmend drill kills the leader's server (kill -9) under a steady write load, $trials time(s):"
  say "T_check = kill -> a survivor's election (its term, polled every 10 ms), T_recover = -> the new"
  say "leader's first acknowledged write, A = the share of the time the tablet took writes. After each"
  say "trial it restarts the server and waits for ksck HEALTHY. It refuses without the last flag"
  show kmend drill --masters "$ADDR_dmaster" --table drill --fault kill-leader --trials "$trials" \
    --plot "$DEMO_DIR/drill.svg" --yes-this-is-a-test-cluster
  expect_exit 0 kmend ksck --masters "$ADDR_dmaster" --sections tables
}

main() {
  setup
  for act in "${ACTS[@]}"; do
    "$act"
  done
  stop_servers
  local logs
  logs="$(mktemp -d "${TMPDIR:-/tmp}/kmend-demo-logs.XXXXXX")"
  for log in "$DEMO_DIR"/cluster/*/server.log; do
    cp "$log" "$logs/$(basename "$(dirname "$log")").log"
  done
  say "Demo finished: every act behaved as narrated. Every server stopped; their logs: $logs"
}

main "$@"
