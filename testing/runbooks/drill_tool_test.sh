#!/usr/bin/env bash
# kmend drill against real processes (a master + 3 tablet servers, RF=3):
# refuses without the confirmation flag, and --fault_cmd without
# --restore_cmd; one kill-leader trial gives T_check/T_recover/T_failover and
# an A in the versioned JSON, restarts the killed server (same port), leaves
# ksck HEALTHY and writes the SVG; one stop-tserver trial (SIGSTOP/SIGCONT)
# prints the table; one kill-tserver trial runs through --fault_cmd and
# --restore_cmd.
set -uo pipefail
source "${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend/testing/runbooks/harness.sh" ||
  { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e

h_master master --tserver_unresponsive_timeout_ms 3000
for ts in ts1 ts2 ts3; do h_tserver "$ts" --master_addrs "$(h_addr master)" --heartbeat_interval_ms 300; done
M=$(h_addr master)
kmend table create drill --schema 'id:int64:key,v:string' --tablets 1 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy

rc=0
kmend drill --masters "$M" --table drill --trials 1 2>"$H_DIR/refused" >/dev/null || rc=$?
[[ $rc -eq 2 ]] || h_fail "without --yes-this-is-a-test-cluster: exit $rc, want 2"
grep -q "yes-this-is-a-test-cluster" "$H_DIR/refused" || h_fail "refusal does not name the flag"
rc=0
kmend drill --masters "$M" --table drill --fault_cmd true --yes-this-is-a-test-cluster >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || h_fail "--fault_cmd without --restore_cmd: exit $rc, want 2"

pids_before=$(for ts in ts1 ts2 ts3; do h_pid "$ts"; done | sort)
kmend drill --masters "$M" --table drill --trials 1 --fault kill-leader --rows_per_s 50 \
  --warmup 500ms --hold 500ms --format=json --plot "$H_DIR/drill.svg" \
  --yes-this-is-a-test-cluster >"$H_DIR/drill.json" || h_fail "drill exited $?: $(cat "$H_DIR/drill.json")"
J="$H_DIR/drill.json"
jq -e '.schema == "kmend.drill/1" and .schema_version == 1 and .completed == true' "$J" >/dev/null ||
  h_fail "schema/completed: $(cat "$J")"
jq -e '.replication_factor == 3 and .fault == "kill-leader" and (.trials | length) == 1' "$J" >/dev/null ||
  h_fail "table facts: $(cat "$J")"
# Detection comes from a real election: a positive T_check below the give-up
# time, T_failover = T_check + T_recover, and the tablet was unwritable for
# a while (A < 1) but not for the whole trial.
jq -e '.trials[0] | .t_check_ms > 0 and .t_check_ms < 20000 and .t_recover_ms >= 0
       and ((.t_failover_ms - .t_check_ms - .t_recover_ms) | fabs) < 0.001
       and .availability < 1 and .availability > 0' "$J" >/dev/null ||
  h_fail "trial figures: $(jq '.trials[0]' "$J")"
jq -e '.trials[0].tablets[0].leader_faulted == true and .trials[0].tablets[0].writes_acked > 10' \
  "$J" >/dev/null || h_fail "tablet figures: $(jq '.trials[0].tablets' "$J")"
jq -e '.summary.t_failover_ms.n == 1' "$J" >/dev/null || h_fail "summary: $(jq .summary "$J")"
grep -q '>election<' "$H_DIR/drill.svg" || h_fail "the SVG marks no election"

# The killed server runs again (a new pid, found through its lock file) and
# the cluster is HEALTHY.
pids_after=$(for ts in ts1 ts2 ts3; do h_pid "$ts"; done | sort)
[[ $(wc -l <<<"$pids_after") -eq 3 ]] || h_fail "not every tablet server runs after the drill"
[[ "$pids_before" != "$pids_after" ]] || h_fail "no server was restarted"
kmend ksck --masters "$M" >/dev/null || h_fail "ksck not HEALTHY after the drill"

# The plain table, one stop-tserver trial (SIGSTOP, then SIGCONT).
kmend drill --masters "$M" --table drill --trials 1 --fault stop-tserver --warmup 500ms \
  --hold 500ms --yes-this-is-a-test-cluster >"$H_DIR/drill.txt" ||
  h_fail "stop-tserver drill exited $?: $(cat "$H_DIR/drill.txt")"
grep -q 'T_failover' "$H_DIR/drill.txt" || h_fail "plain table: $(cat "$H_DIR/drill.txt")"
# kill-tserver through the operator's commands instead of local signals:
# %i is the pid, %r the fs_root (the harness keeps a start script beside it).
kmend drill --masters "$M" --table drill --trials 1 --fault kill-tserver --warmup 500ms --hold 500ms \
  --fault_cmd 'kill -9 %i; echo %u >>'"$H_DIR/faulted" --restore_cmd 'bash %r/../start.sh' \
  --format=json --yes-this-is-a-test-cluster >"$H_DIR/cmd.json" || h_fail "fault_cmd drill exited $?: $(cat "$H_DIR/cmd.json")"
jq -e '.completed == true and .fault == "kill-tserver"' "$H_DIR/cmd.json" >/dev/null || h_fail "fault_cmd: $(cat "$H_DIR/cmd.json")"
[[ "$(cat "$H_DIR/faulted")" == "$(jq -r '.trials[0].target_uuid' "$H_DIR/cmd.json")" ]] ||
  h_fail "--fault_cmd did not run on the target"
kmend ksck --masters "$M" >/dev/null || h_fail "ksck not HEALTHY after the fault_cmd drill"
echo "PASS"
