# A small real-process cluster for shell tests (runbooks, kmend drill):
# sourced, not run. Servers bind port 0 on 127.0.0.1 and write their port to
# a file; every server's pid is read from its data directory's lock file
# (<root>/.kmend.lock), so servers restarted by a tool (kmend drill restarts
# the ones it kills) are still found and stopped at exit.
#
#   h_init                 find the binaries (Bazel runfiles or $KMEND_BIN),
#                          make $H_DIR, stop everything at EXIT
#   h_master NAME [FLAGS]  start a master;  h_tserver NAME [FLAGS] a tablet server
#   h_masters N [FLAGS]    start N masters master1..masterN on reserved ports,
#                          each with --master_addrs listing all (sets $H_MASTERS)
#   h_masters_addr         every master's address, comma-separated (the one
#                          master's when h_master started it)
#   h_addr NAME / h_root NAME / h_pid NAME
#   h_kill NAME            SIGKILL it and wait until it is gone
#   h_restart NAME         start it again with its first flags and port
#                          ($H_DIR/NAME/start.sh does the same from any shell)
#   h_wait_healthy         ksck HEALTHY within 60 s, else fail with its output
#
# With KMEND_TEST_TLS=1 (as for the C++ harness, testing/cluster) the cluster
# runs TLS: h_init makes a CA with `kmend cert init` in $H_DIR/certs, every
# server (and its restarts) gets --tls_cert/--tls_key/--tls_ca, and the
# tools this shell runs hold user-admin's certificate through KMEND_TLS_*.

h_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

h_init() {
  local runfiles="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}"
  if [[ -n "${KMEND_BIN:-}" ]]; then
    H_TOOLS="$KMEND_BIN/tools"
    H_SERVER="$KMEND_BIN/server/kmend-server"
  else
    H_TOOLS="$runfiles/kmend/tools"
    H_SERVER="$runfiles/kmend/server/kmend-server"
  fi
  export PATH="$H_TOOLS:/usr/bin:/bin"
  H_DIR="$(mktemp -d "${TEST_TMPDIR:-/tmp}/kmend-cluster.XXXXXX")"
  declare -gA H_FLAGS H_PORT
  H_NAMES=()
  H_MASTERS=""
  H_TLS_FLAGS=()
  trap h_cleanup EXIT
  if [[ "${KMEND_TEST_TLS:-}" == 1 ]]; then
    local certs="$H_DIR/certs"
    kmend cert init --dir "$certs" --hosts 127.0.0.1 --users admin >/dev/null ||
      h_fail "kmend cert init failed"
    H_TLS_FLAGS=(--tls_cert "$certs/server-127.0.0.1.crt" --tls_key "$certs/server-127.0.0.1.key"
      --tls_ca "$certs/ca.crt")
    export KMEND_TLS_CERT="$certs/user-admin.crt" KMEND_TLS_KEY="$certs/user-admin.key"
    export KMEND_TLS_CA="$certs/ca.crt"
    echo "harness: TLS on (certificates in $certs)" >&2
  fi
}

h_pid() {
  local lock="$H_DIR/$1/data/.kmend.lock" pid
  [[ -s "$lock" ]] || return 1
  pid=$(tr -dc '0-9' <"$lock")
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  # Only a process that is this server (pids get reused).
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$H_DIR/$1/data" || return 1
  echo "$pid"
}

h_cleanup() {
  local rc=$?
  for name in "${H_NAMES[@]}"; do
    local pid
    pid=$(h_pid "$name") && kill -9 "$pid" 2>/dev/null
  done
  if [[ $rc -ne 0 ]]; then
    echo "cluster logs kept in $H_DIR" >&2
    for name in "${H_NAMES[@]}"; do
      echo "--- $name stderr (tail)" >&2
      tail -n 20 "$H_DIR/$name/stderr" >&2 2>/dev/null
    done
  else
    rm -rf "$H_DIR"
  fi
  exit $rc
}

# h_start NAME ROLE PORT FLAGS...
h_start() {
  local name=$1 role=$2 port=$3
  shift 3
  local dir="$H_DIR/$name"
  mkdir -p "$dir"
  rm -f "$dir/port"
  "$H_SERVER" "$role" --fs_root "$dir/data" --rpc_bind "127.0.0.1:$port" --port_file "$dir/port" \
    --log_file "$dir/server.log" "$@" </dev/null >>"$dir/stderr" 2>&1 &
  for _ in $(seq 200); do
    [[ -s "$dir/port" ]] && break
    sleep 0.05
  done
  [[ -s "$dir/port" ]] || h_fail "$name did not start: $(tail -n 5 "$dir/stderr")"
  H_PORT[$name]=$(cat "$dir/port")
}

# h_server ROLE NAME [FLAGS...]: starts a master or tserver named NAME (on
# the port reserved in H_PORT[NAME], else a free one) and keeps its command
# line (start.sh) for restarts.
h_server() {
  local role=$1 name=$2
  shift 2
  H_NAMES+=("$name")
  # The TLS flags go with the kept flags: restarts (h_restart, start.sh)
  # must come back with TLS too.
  set -- "$@" "${H_TLS_FLAGS[@]}"
  H_FLAGS[$name]="$role $*"
  h_start "$name" "$role" "${H_PORT[$name]:-0}" "$@"
  h_start_cmd "$name" >"$H_DIR/$name/start.sh"
}

h_master() { h_server master "$@"; }
h_tserver() { h_server tserver "$@"; }

# h_free_port: a port nothing on this host uses now, below Linux's ephemeral
# range (so no outgoing connection takes it before the server binds it).
# Masters of a multi-master cluster need their addresses before they start.
h_free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    [[ " ${H_PORT[*]} " == *" $p "* ]] && continue
    ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q . && continue
    echo "$p"
    return 0
  done
  h_fail "no free port found"
}

h_masters() {
  local n=$1 i addrs=""
  shift
  for ((i = 1; i <= n; i++)); do
    H_PORT[master$i]=$(h_free_port)
    addrs+="${addrs:+,}127.0.0.1:${H_PORT[master$i]}"
  done
  H_MASTERS=$addrs
  for ((i = 1; i <= n; i++)); do h_master "master$i" --master_addrs "$addrs" "$@"; done
}

h_addr() { echo "127.0.0.1:${H_PORT[$1]}"; }
h_masters_addr() { if [[ -n "$H_MASTERS" ]]; then echo "$H_MASTERS"; else h_addr master; fi; }
h_root() { echo "$H_DIR/$1/data"; }

h_kill() {
  local pid
  pid=$(h_pid "$1") || return 0
  kill -9 "$pid"
  while [[ -d "/proc/$pid" ]] && ! grep -q '^State:.*[ZX]' "/proc/$pid/status" 2>/dev/null; do
    sleep 0.02
  done
}

h_restart() {
  local name=$1
  # shellcheck disable=SC2086
  set -- ${H_FLAGS[$name]}
  local role=$1
  shift
  h_start "$name" "$role" "${H_PORT[$name]}" "$@"
}

# h_wait_ksck JQ_FILTER: until `ksck --format=json` satisfies the filter.
h_wait_ksck() {
  local filter=$1 out
  for _ in $(seq 120); do
    out=$(kmend ksck --masters "$(h_masters_addr)" --format=json --timeout 2s 2>/dev/null) || true
    # (jq -e exits 0 on empty input: ksck printed nothing when it failed.)
    if [[ -n "$out" ]] && jq -e "$filter" >/dev/null 2>&1 <<<"$out"; then
      return 0
    fi
    sleep 0.5
  done
  kmend ksck --masters "$(h_masters_addr)" --timeout 2s >&2 || true
  h_fail "ksck never satisfied $filter"
}

# With several masters, ksck can be ok before the catalog elected a leader
# (no tables yet): wait for the leader too.
h_wait_healthy() {
  if [[ -n "$H_MASTERS" ]]; then
    h_wait_ksck '.ok == true and ([.masters[] | select(.is_leader)] | length == 1)'
  else
    h_wait_ksck '.ok == true'
  fi
}

# h_rows TABLE: the table's row count (kmend scan --count --format=json).
h_rows() { kmend scan "$1" --count --format=json --masters "$(h_masters_addr)" | jq -r .count; }

# h_stop_cmd NAME / h_start_cmd NAME: shell commands (for a runbook's
# STOP_TSERVER / START_TSERVER hooks, run with bash -c) that kill -9 the
# server and wait until it is gone, or start it again on its port and wait
# until it serves.
h_stop_cmd() {
  local lock
  lock=$(printf %q "$H_DIR/$1/data/.kmend.lock")
  echo "pid=\$(tr -dc 0-9 <$lock); kill -9 \$pid 2>/dev/null; while [ -d /proc/\$pid ] && ! grep -q '^State:.*[ZX]' /proc/\$pid/status 2>/dev/null; do sleep 0.02; done"
}
h_start_cmd() {
  local name=$1 dir="$H_DIR/$1"
  # shellcheck disable=SC2086
  set -- ${H_FLAGS[$name]}
  local role=$1
  shift
  local cmd
  cmd=$(printf '%q ' "$H_SERVER" "$role" --fs_root "$dir/data" --rpc_bind "127.0.0.1:${H_PORT[$name]}" \
    --port_file "$dir/port" --log_file "$dir/server.log" "$@")
  echo "rm -f $(printf %q "$dir/port"); $cmd </dev/null >>$(printf %q "$dir/stderr") 2>&1 & for i in \$(seq 200); do [ -s $(printf %q "$dir/port") ] && break; sleep 0.05; done"
}
