#!/usr/bin/env bash
# Runbook 6 (docs/runbooks/masters-lost.sh) against real processes: three
# masters, three tablet servers, two tables with rows. The runbook refuses
# while a master answers. Then every master is killed and its data deleted;
# the runbook rebuilds the catalog from the tablet servers into master1's
# empty directory, starts master1 alone on it, the tablet servers heartbeat
# in unchanged, ksck is HEALTHY, every row is there; ADD_MASTER starts
# master2 and master3 empty and the runbook adds them. Then master1 is killed:
# the two added masters serve the rebuilt tables (they got them through the
# catalog log's base entry) and new tables work.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
source "$R/testing/runbooks/harness.sh" || { echo "harness.sh not found" >&2; exit 1; }
h_init
set -e
h_masters 3
M=$(h_masters_addr)
for ts in ts1 ts2 ts3; do h_tserver "$ts" --master_addrs "$M" --heartbeat_interval_ms 300; done
h_wait_healthy
kmend table create orders --schema 'id:int64:key,v:string' --tablets 3 --replicas 3 --masters "$M" >/dev/null
kmend table create small --schema 'id:int64:key,v:string' --tablets 2 --replicas 1 --masters "$M" >/dev/null
h_wait_healthy
kmend write orders --rows 400 --masters "$M" >/dev/null
kmend write small --rows 60 --masters "$M" >/dev/null
TS="$(h_addr ts1),$(h_addr ts2),$(h_addr ts3)"

# master1 alone on the rebuilt catalog (no --master_addrs).
H_FLAGS[master1]="master"
h_start_cmd master1 >"$H_DIR/start-alone.sh"
# runbook FS_ROOT
# master2/master3 empty, with their old flags (--master_addrs of all three).
for m in master2 master3; do
  echo "[[ \$MASTER_ADDR == $(h_addr $m) ]] && { rm -rf $(printf %q "$(h_root $m)"); exec bash $(printf %q "$H_DIR/$m/start.sh"); }"
done >"$H_DIR/add-master.sh"
echo 'echo "no master at $MASTER_ADDR" >&2; exit 1' >>"$H_DIR/add-master.sh"
runbook() {
  MASTERS=$M TSERVERS=$TS FS_ROOT=$1 START_MASTER="bash $H_DIR/start-alone.sh" \
    ADD_MASTER="bash $H_DIR/add-master.sh" \
    BACKUP_DIR="$H_DIR/backup" WAIT_S=90 \
    bash "$R/docs/runbooks/masters-lost.sh"
}

echo "--- masters answer: refused, nothing written"
runbook "$H_DIR/rebuilt" >/dev/null 2>&1 && h_fail "ran while masters answer"
jq -e '.refused == true and (.running_masters | length) == 3' "$H_DIR/backup/rebuild-dry.json" >/dev/null ||
  h_fail "refusal: $(cat "$H_DIR/backup/rebuild-dry.json")"
[[ ! -e "$H_DIR/rebuilt" ]] || h_fail "wrote into FS_ROOT while refused"
rm -rf "$H_DIR/backup"

echo "--- every master lost with its data"
for m in master1 master2 master3; do
  h_kill "$m"
  rm -rf "$(h_root "$m")"
done
# Rebuilt into master1's directory (its start-alone.sh starts it there).
runbook "$(h_root master1)" || h_fail "runbook failed"
jq -e '(.tables | length) == 2 and (.lost | length) == 0' "$H_DIR/backup/rebuild-dry.json" >/dev/null ||
  h_fail "rebuild plan: $(cat "$H_DIR/backup/rebuild-dry.json")"
h_wait_healthy
[[ $(h_rows orders) == 400 ]] || h_fail "orders rows after: $(h_rows orders)"
[[ $(h_rows small) == 60 ]] || h_fail "small rows after: $(h_rows small)"

echo "--- the rebuilt master lost: the two added masters serve the rebuilt tables"
h_kill master1
H_MASTERS="$(h_addr master2),$(h_addr master3)"
for _ in $(seq 60); do
  kmend table list --masters "$H_MASTERS" 2>/dev/null | grep -q orders && break
  sleep 0.5
done
kmend table list --masters "$H_MASTERS" | grep -q orders || h_fail "orders not listed by master2/master3"
[[ $(h_rows orders) == 400 ]] || h_fail "orders rows from the added masters: $(h_rows orders)"
[[ $(h_rows small) == 60 ]] || h_fail "small rows from the added masters: $(h_rows small)"
kmend table create after --schema 'id:int64:key' --tablets 1 --replicas 3 --masters "$H_MASTERS" >/dev/null ||
  h_fail "table create after the rebuild"
echo PASS
