#!/usr/bin/env bash
# Runbook 4 (docs/runbooks/torn-wal.sh) against real processes: a tablet
# server killed (-9) and the last batch of its WAL's active segment half
# zeroed, as a power loss leaves it; the runbook's fsck calls it
# REPAIRABLE_LOCALLY, repairs, the server starts, ksck is HEALTHY and every
# row is there.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_master master
for ts in ts1 ts2 ts3; do h_tserver "$ts" --master_addrs "$(h_addr master)" --heartbeat_interval_ms 300; done
M=$(h_addr master)
kmend table create orders --schema 'id:int64:key,v:string' --tablets 1 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
for i in 0 1 2 3; do kmend write orders --rows 100 --start $((i * 100)) --masters "$M" >/dev/null; done
h_wait_ksck '[.tablets[0].replicas[].last_logged.index] | unique | length == 1'

h_kill ts3
seg=$(ls "$(h_root ts3)"/wals/*/wal-* | sort | tail -n 1)
# Zero the last 24 written bytes (the segment is preallocated: written data
# ends at the last non-zero byte).
end=$(perl -e 'local $/; open F, "<", $ARGV[0] or die; binmode F; $_ = <F>; s/\0+\z//; print length' "$seg")
[[ $end -gt 100 ]] || h_fail "segment $seg: written bytes end at $end"
dd if=/dev/zero of="$seg" bs=1 seek=$((end - 24)) count=24 conv=notrunc status=none

MASTERS=$M FS_ROOT=$(h_root ts3) START_TSERVER="$(h_start_cmd ts3)" BACKUP_DIR="$H_DIR/backup" WAIT_S=90 \
  bash "$R/docs/runbooks/torn-wal.sh" || h_fail "runbook failed"
jq -e '[.tablets[] | select(.verdict == "REPAIRABLE_LOCALLY")] | length == 1' "$H_DIR/backup/fsck-before.json" \
  >/dev/null || h_fail "fsck did not call the torn tablet REPAIRABLE_LOCALLY: $(jq -c .tablets "$H_DIR/backup/fsck-before.json")"
[[ -d "$H_DIR/backup/repair" ]] || h_fail "no repair backup"
[[ $(h_rows orders) == 400 ]] || h_fail "rows after: $(h_rows orders)"
echo PASS
