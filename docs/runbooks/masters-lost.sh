#!/usr/bin/env bash
# Runbook 6: every master's data is lost; rebuild the catalog from the tablet
# servers (docs/runbooks/dead-masters.md, "All masters dead, data gone").
# Dry run (refused while any master answers), write, start one master alone
# on the rebuilt catalog at the first address of MASTERS, wait until the
# tablet servers heartbeat into it and ksck is HEALTHY, scan every rebuilt
# table back. The cluster then runs on one master (adding masters to a
# rebuilt catalog is not safe yet: see the end of this script).
#
#   MASTERS=A,B,C (the addresses the tablet servers' --master_addrs lists)
#   TSERVERS=T1,T2,... (EVERY tablet server: a silent one's replicas are not counted)
#   FS_ROOT=/data/master (empty or absent: the rebuilt master's data directory)
#   START_MASTER='...' (start a master ALONE on FS_ROOT, no --master_addrs, at $MASTER_ADDR)
#   [BACKUP_DIR=...] [WAIT_S=120] bash docs/runbooks/masters-lost.sh
# Hooks run with `bash -c`, MASTER_ADDR=host:port in their environment.
# Exit 0: the rebuilt master serves, ksck HEALTHY, every rebuilt table scans.
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

if [[ "$MASTERS" == *,* ]]; then
  # Not yet: a master added to a rebuilt catalog gets the leader's log, which
  # starts after the rebuilt state, so it never holds the rebuilt tables
  # (found by this runbook's test: ksck reports its catalog version behind
  # for good). Keep one master until that is fixed (docs/runbooks/dead-masters.md).
  echo "one master serves at $FIRST; do NOT add masters to a rebuilt catalog yet (dead-masters.md, Not yet)"
fi
echo "HEALTHY"
