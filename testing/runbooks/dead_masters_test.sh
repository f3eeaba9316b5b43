#!/usr/bin/env bash
# Runbook 5 (docs/runbooks/dead-masters.sh) against real processes: three
# masters, three tablet servers, a table of RF=3.
#  - nothing dead: the runbook refuses;
#  - one master killed: the cluster keeps serving (writes, a new table);
#    the runbook restarts it on its own data (RESTART_MASTER);
#  - one master killed and its data lost: the runbook removes it and adds
#    an empty master at its address (REPLACE_MASTER);
#  - two masters killed and their data lost: no master serves DDL; the
#    runbook forces the catalog onto the survivor and adds both back.
# After each: ksck HEALTHY with every master, every row still there.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_masters 3
M=$(h_masters_addr)
for ts in ts1 ts2 ts3; do h_tserver "$ts" --master_addrs "$M" --heartbeat_interval_ms 300; done
h_wait_healthy
kmend table create orders --schema 'id:int64:key,v:string' --tablets 2 --replicas 3 --masters "$M" >/dev/null
h_wait_healthy
kmend write orders --rows 300 --masters "$M" >/dev/null
[[ $(h_rows orders) == 300 ]] || h_fail "rows before: $(h_rows orders)"

# The hooks: MASTER_ADDR names the master; restart it on its data, or on an
# emptied data directory (its data lost).
for m in master1 master2 master3; do
  echo "[[ \$MASTER_ADDR == $(h_addr $m) ]] && exec bash $(printf %q "$H_DIR/$m/start.sh")"
done >"$H_DIR/restart-master.sh"
echo 'echo "no master at $MASTER_ADDR" >&2; exit 1' >>"$H_DIR/restart-master.sh"
for m in master1 master2 master3; do
  echo "[[ \$MASTER_ADDR == $(h_addr $m) ]] && { rm -rf $(printf %q "$(h_root $m)"); exec bash $(printf %q "$H_DIR/$m/start.sh"); }"
done >"$H_DIR/replace-master.sh"
echo 'echo "no master at $MASTER_ADDR" >&2; exit 1' >>"$H_DIR/replace-master.sh"
RESTART="bash $H_DIR/restart-master.sh"
REPLACE="bash $H_DIR/replace-master.sh"

# The catalog leader's name (master1..3), from ksck.
leader_name() {
  local a
  a=$(kmend ksck --masters "$M" --format=json --timeout 2s 2>/dev/null | jq -r '.masters[] | select(.is_leader) | .address')
  for m in master1 master2 master3; do
    if [[ "$(h_addr $m)" == "$a" ]]; then echo "$m"; fi
  done
}
runbook() {
  MASTERS=$M BACKUP_DIR="$H_DIR/backup-$1" WAIT_S=90 bash "$R/docs/runbooks/dead-masters.sh"
}

echo "--- nothing dead: refused"
# Its evidence directory under the test's own (the runbook's default is a new one in $TMPDIR,
# which every CI run left behind in /tmp).
MASTERS=$M RESTART_MASTER=$RESTART BACKUP_DIR="$H_DIR/backup-refused" \
  bash "$R/docs/runbooks/dead-masters.sh" >/dev/null 2>&1 &&
  h_fail "ran with every master alive"

echo "--- the leader dies: the cluster keeps serving; restarted on its data"
victim=$(leader_name)
[[ -n "$victim" ]] || h_fail "no leader master"
h_kill "$victim"
h_wait_ksck '[.masters[] | select(.is_leader)] | length == 1'
kmend write orders --rows 50 --start 300 --masters "$M" >/dev/null || h_fail "write with one master dead"
kmend table create side --schema 'id:int64:key' --tablets 1 --replicas 3 --masters "$M" >/dev/null ||
  h_fail "table create with one master dead"
RESTART_MASTER=$RESTART runbook restart || h_fail "runbook (restart) failed"
h_wait_healthy

echo "--- a follower dies with its data: removed and replaced"
victim=master1
[[ $(leader_name) == master1 ]] && victim=master2
h_kill "$victim"
REPLACE_MASTER=$REPLACE runbook replace-one || h_fail "runbook (replace one) failed"
[[ -n $(ls -A "$(h_root "$victim")") ]] || h_fail "no new master data at $(h_root "$victim")"
h_wait_healthy

echo "--- two masters die with their data: forced onto the survivor, both re-added"
survivor=$(leader_name)
killed=()
for m in master1 master2 master3; do
  [[ $m == "$survivor" ]] && continue
  h_kill "$m"
  killed+=("$m")
done
! kmend table create nope --schema 'id:int64:key' --replicas 1 --masters "$M" --timeout 3s >/dev/null 2>&1 ||
  h_fail "a table was created with two of three masters dead"
REPLACE_MASTER=$REPLACE runbook replace-two || h_fail "runbook (replace two) failed"
jq -e '.applied == true' "$H_DIR/backup-replace-two/force.json" >/dev/null || h_fail "no force recorded"
ls "$H_DIR/backup-replace-two"/cstate-* >/dev/null 2>&1 || h_fail "no consensus state backup"
h_wait_healthy
kmend ksck --masters "$M" --format=json | jq -e '[.masters[] | select(.reachable)] | length == 3' >/dev/null ||
  h_fail "not every master answers"
kmend table create after --schema 'id:int64:key' --tablets 1 --replicas 3 --masters "$M" >/dev/null ||
  h_fail "table create after the runbook"
[[ $(h_rows orders) == 350 ]] || h_fail "rows after: $(h_rows orders)"
echo PASS
