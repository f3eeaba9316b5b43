#!/usr/bin/env bash
# Runbook 2 (docs/runbooks/corrupt-replica.sh) against real processes: three
# tablet servers, RF=3; bytes of a stopped server's blocks flipped; the runbook's fsck finds it, rebuild-replica mends it, the
# checksum scan matches, every row is still there.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_master master
for ts in ts1 ts2 ts3; do
  h_tserver "$ts" --master_addrs "$(h_addr master)" --heartbeat_interval_ms 300 --flush_threshold_rows 200
done
M=$(h_addr master)
kmend table create orders --schema 'id:int64:key,v:string' --tablets 2 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
kmend write orders --rows 1000 --masters "$M" >/dev/null

# Wait for flushed blocks on ts3, stop it, and flip one byte every 512 in
# its block containers (.data): every block of 512 bytes or more is hit.
# (A flipped superblock byte is also NEEDS_REBUILD, but tablet copy fails on
# a replica whose superblock is unreadable today: see the report of
# issue 16.)
for _ in $(seq 200); do
  [[ -n "$(find "$(h_root ts3)/data" -name '*.data' -size +4k)" ]] && break
  sleep 0.1
done
h_kill ts3
for f in "$(h_root ts3)"/data/*.data; do
  size=$(stat -c %s "$f")
  for ((off = 256; off < size; off += 512)); do
    printf '\xa5' | dd of="$f" bs=1 seek=$off conv=notrunc status=none
  done
done

MASTERS=$M FS_ROOT=$(h_root ts3) STOP_TSERVER="$(h_stop_cmd ts3)" START_TSERVER="$(h_start_cmd ts3)" \
  BACKUP_DIR="$H_DIR/backup" WAIT_S=90 bash -c 'mkdir -p "$BACKUP_DIR"; bash "$0"' \
  "$R/docs/runbooks/corrupt-replica.sh" || h_fail "runbook failed"
jq -e '[.tablets[] | select(.verdict == "NEEDS_REBUILD")] | length >= 1' "$H_DIR/backup/fsck-before.json" \
  >/dev/null || h_fail "fsck found no replica to rebuild"
[[ $(h_rows orders) == 1000 ]] || h_fail "rows after: $(h_rows orders)"
echo PASS
