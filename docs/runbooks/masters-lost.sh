#!/usr/bin/env bash
# Runbook 6: every master's data is lost; rebuild the catalog from the tablet
# servers (docs/runbooks/dead-masters.md, "All masters dead, data gone").
# Dry run (refused while any master answers), write, start one master alone
# on the rebuilt catalog at the first address of MASTERS, wait until the
# tablet servers heartbeat in and ksck is HEALTHY, scan every rebuilt table
# back; then, with ADD_MASTER, start an empty master at each other address of
# MASTERS and `kmend master add` it, one at a time, until ksck is HEALTHY on
# every master.
#
#   MASTERS=A,B,C (the addresses the tablet servers' --master_addrs lists)
#   TSERVERS=T1,T2,... (EVERY tablet server: a silent one's replicas are not counted)
#   FS_ROOT=/data/master (empty or absent: the rebuilt master's data directory)
#   START_MASTER='...' (start a master ALONE on FS_ROOT, no --master_addrs, at $MASTER_ADDR)
#   [ADD_MASTER='...'] (start an EMPTY master at $MASTER_ADDR, --master_addrs=$MASTERS)
#   [BACKUP_DIR=...] [WAIT_S=120] bash docs/runbooks/masters-lost.sh
# Hooks run with `bash -c`, MASTER_ADDR=host:port in their environment.
# Exit 0: the rebuilt catalog serves on every master, ksck HEALTHY, every
# rebuilt table scans.
set -euo pipefail
: "${MASTERS:?set MASTERS=host:port[,...] (the addresses the tablet servers know)}"
: "${TSERVERS:?set TSERVERS=host:port,... (every tablet server)}"
: "${FS_ROOT:?set FS_ROOT=DIR (an empty data directory for the rebuilt master)}"
: "${START_MASTER:?set START_MASTER (starts a master alone on FS_ROOT at \$MASTER_ADDR)}"
BACKUP_DIR=${BACKUP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kmend-rebuild.XXXXXX")}
WAIT_S=${WAIT_S:-120}
FIRST=${MASTERS%%,*}
step() { echo "==> $*"; }
die() { echo "runbook masters-lost: $*" >&2; exit 1; }
mkdir -p "$BACKUP_DIR"
rebuild() { kmend master rebuild --fs_root "$FS_ROOT" --tservers "$TSERVERS" --masters "$MASTERS" --format=json "$@"; }

step "1. Dry run: what the tablet servers' replicas rebuild ($BACKUP_DIR/rebuild-dry.json)"
rc=0
rebuild >"$BACKUP_DIR/rebuild-dry.json" || rc=$?
D="$BACKUP_DIR/rebuild-dry.json"
[[ -s "$D" ]] || die "kmend master rebuild printed nothing (exit $rc)"
if jq -e '.refused == true' "$D" >/dev/null; then
  die "refused: $(jq -r .reason "$D")"
fi
[[ $rc -eq 0 ]] || die "not everything is recoverable (exit $rc); read it before writing anything:
  lost: $(jq -c .lost "$D")
  warnings: $(jq -c .warnings "$D")
  reason: $(jq -r '.reason // ""' "$D")"
jq -e '.tables | length > 0' "$D" >/dev/null || die "no table to rebuild: $(cat "$D")"
jq -r '.tables[] | "  \(.name): \(.num_tablets) tablets, \(.num_replicas) replicas"' "$D"

step "2. Write the catalog into $FS_ROOT"
rebuild --yes >"$BACKUP_DIR/rebuild.json" || die "rebuild --yes: $(jq -r '.reason // .' "$BACKUP_DIR/rebuild.json" 2>/dev/null)"
jq -e '.written == true' "$BACKUP_DIR/rebuild.json" >/dev/null || die "nothing written: $(cat "$BACKUP_DIR/rebuild.json")"
echo "  master uuid $(jq -r .master_uuid "$BACKUP_DIR/rebuild.json")"

step "3. Start one master alone on it at $FIRST; the tablet servers heartbeat in"
MASTER_ADDR=$FIRST bash -c "$START_MASTER" || die "START_MASTER failed"
# `null` when ksck printed nothing (jq -e passes empty input).
ksck_json() {
  local out
  out=$(kmend ksck --masters "$FIRST" --format=json --timeout 3s 2>/dev/null) || true
  echo "${out:-null}"
}
n_ts=$(tr ',' '\n' <<<"$TSERVERS" | grep -c .)
for ((i = 0; i < WAIT_S * 2; i++)); do
  if ksck_json | jq -e --argjson n "$n_ts" '.ok == true and ([.tablet_servers[] | select(.state == "HEALTHY")] | length) == $n' \
    >/dev/null; then break; fi
  sleep 0.5
done

step "4. ksck HEALTHY, every rebuilt table scans back"
ksck_json >"$BACKUP_DIR/ksck-after.json"
jq -e '.ok == true' "$BACKUP_DIR/ksck-after.json" >/dev/null ||
  die "ksck not HEALTHY after ${WAIT_S}s: kmend ksck --masters $FIRST"
for t in $(jq -r '.tables[].name' "$D"); do
  count=$(kmend scan "$t" --count --format=json --masters "$FIRST" | jq -e .count) || die "table $t does not scan"
  echo "  $t: $count rows"
done

until_ok() {
  local max=$1 i
  shift
  for ((i = 0; i < max * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

if [[ "$MASTERS" == *,* && -n "${ADD_MASTER:-}" ]]; then
  step "5. Start an empty master at each other address and add it (one at a time)"
  # The rebuilt catalog reaches them through the catalog log: the first
  # leader wrote it there as a base entry before it served.
  live=$FIRST
  for a in $(tr ',' ' ' <<<"${MASTERS#*,}"); do
    MASTER_ADDR=$a bash -c "$ADD_MASTER" || die "ADD_MASTER failed for $a"
    add_dry() {
      kmend master add --masters "$live" "$a" --format=json >"$BACKUP_DIR/add-dry.json" 2>/dev/null
    }
    until_ok 30 add_dry || die "add $a refused: $(jq -r .reason "$BACKUP_DIR/add-dry.json" 2>/dev/null)"
    kmend master add --masters "$live" "$a" --yes --wait "${WAIT_S}s" --format=json >"$BACKUP_DIR/add.json" ||
      die "add $a failed (it stays a non-voter; run again): $(jq -r .reason "$BACKUP_DIR/add.json" 2>/dev/null)"
    jq -e '.applied == true or .step == "nothing"' "$BACKUP_DIR/add.json" >/dev/null ||
      die "add $a: $(cat "$BACKUP_DIR/add.json")"
    echo "  added $a"
    live="$live,$a"
  done
  healthy() { kmend ksck --masters "$MASTERS" --timeout 3s >/dev/null 2>&1; }
  until_ok "$WAIT_S" healthy || die "ksck on every master still reports problems after ${WAIT_S}s"
elif [[ "$MASTERS" == *,* ]]; then
  echo "one master serves at $FIRST; set ADD_MASTER to add the others (or kmend master add each)"
fi
echo "HEALTHY"
