#!/usr/bin/env bash
# Runbook 3 (docs/runbooks/majority-loss.sh) against real processes: five
# tablet servers, a table of one tablet at RF=3, two of its three replicas'
# servers killed for good; the runbook plans, applies, verifies (the master
# re-replicates to RF=3) and ends with ksck HEALTHY; every row is there.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_master master --tserver_unresponsive_timeout_ms 2000 --rereplication_delay_ms 1000
for ts in ts1 ts2 ts3 ts4 ts5; do h_tserver "$ts" --master_addrs "$(h_addr master)" --heartbeat_interval_ms 300; done
M=$(h_addr master)
kmend table create orders --schema 'id:int64:key,v:string' --tablets 1 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
kmend write orders --rows 500 --masters "$M" >/dev/null
# Every replica has every row before the loss (same committed index).
h_wait_ksck '[.tablets[0].replicas[].last_committed.index] | unique | length == 1'

# The names of two servers hosting the tablet.
hosts=$(kmend ksck --masters "$M" --format=json | jq -r '.tablets[0].replicas[].ts_address')
killed=0
for ts in ts1 ts2 ts3 ts4 ts5; do
  if grep -qx "$(h_addr "$ts")" <<<"$hosts" && [[ $killed -lt 2 ]]; then
    h_kill "$ts"
    killed=$((killed + 1))
  fi
done
[[ $killed -eq 2 ]] || h_fail "found $killed of the tablet's servers"
h_wait_ksck '([.tablets[] | select(.health == "UNAVAILABLE")] | length == 1) and
             ([.tablet_servers[] | select(.state == "DEAD")] | length == 2)'

MASTERS=$M BACKUP_DIR="$H_DIR/backup" WAIT=90s bash "$R/docs/runbooks/majority-loss.sh" || h_fail "runbook failed"
ls "$H_DIR/backup"/cstate-* >/dev/null 2>&1 || h_fail "no consensus state backup in $H_DIR/backup"
[[ $(h_rows orders) == 500 ]] || h_fail "rows after: $(h_rows orders)"
echo PASS
