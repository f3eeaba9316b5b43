#!/usr/bin/env bash
# Runbook 1 (docs/runbooks/dead-tserver.sh) against real processes: four
# tablet servers, a table of RF=3, one server killed for good; the runbook
# must end with ksck HEALTHY, and every row is still there.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_master master --tserver_unresponsive_timeout_ms 2000 --rereplication_delay_ms 1000
for ts in ts1 ts2 ts3 ts4; do h_tserver "$ts" --master_addrs "$(h_addr master)" --heartbeat_interval_ms 300; done
M=$(h_addr master)
kmend table create orders --schema 'id:int64:key,v:string' --tablets 2 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
kmend write orders --rows 500 --masters "$M" >/dev/null
[[ $(h_rows orders) == 500 ]] || h_fail "rows before: $(h_rows orders)"

# The runbook refuses to act when nothing is dead.
MASTERS=$M bash "$R/docs/runbooks/dead-tserver.sh" >/dev/null 2>&1 && h_fail "ran on a healthy cluster"

h_kill ts1
h_wait_ksck '[.tablet_servers[] | select(.state == "DEAD")] | length == 1'
MASTERS=$M WAIT_S=90 bash "$R/docs/runbooks/dead-tserver.sh" || h_fail "runbook failed"
kmend ksck --masters "$M" >/dev/null || h_fail "ksck not HEALTHY after the runbook"
[[ $(h_rows orders) == 500 ]] || h_fail "rows after: $(h_rows orders)"
echo PASS
