#!/usr/bin/env bash
# Runbook 5: dead masters, one of three or two of three
# (docs/runbooks/dead-masters.md has the why of each step).
# Every dead master is either restarted on its own data (RESTART_MASTER:
# always better, it loses nothing) or replaced by an empty one at the same
# address (REPLACE_MASTER: its data is lost). Replacing: while the catalog
# still has a leader, the dead member is removed first; when it has none (a
# majority is lost), the catalog is forced onto the survivor. Then each
# replacement is added back (non-voter, caught up, promoted) one at a time.
#
#   MASTERS=A,B,C (every master, the dead ones too) and one of
#   RESTART_MASTER='systemctl start kmend-master'   (own data) or
#   REPLACE_MASTER='wipe-and-start-master'           (an empty --fs_root, same --master_addrs)
#   [BACKUP_DIR=/var/backups/kmend] [WAIT_S=120] bash docs/runbooks/dead-masters.sh
# The hook runs with `bash -c` once per dead master, with MASTER_ADDR=host:port
# of that master in its environment.
# Exit 0: every master answers and ksck is HEALTHY. Non-zero: the step that
# failed says why (nothing is forced after a failed check).
set -euo pipefail
: "${MASTERS:?set MASTERS=host:port,host:port,... (every master, dead ones included)}"
[[ -n "${RESTART_MASTER:-}" || -n "${REPLACE_MASTER:-}" ]] ||
  { echo "set RESTART_MASTER (start it on its own data) or REPLACE_MASTER (start an empty one)" >&2; exit 1; }
BACKUP_DIR=${BACKUP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kmend-masters.XXXXXX")}
WAIT_S=${WAIT_S:-120}
step() { echo "==> $*"; }
die() { echo "runbook dead-masters: $*" >&2; exit 1; }
mkdir -p "$BACKUP_DIR"
# The dry run of the force changes nothing and lists every master's answer;
# exit 2 is its refusal (expected while the catalog has a majority).
# Both print `null` when the tool printed nothing (jq -e passes empty input).
probe() {
  local out
  out=$(kmend master unsafe-change-config --masters "$MASTERS" --format=json --timeout 3s 2>/dev/null) || true
  echo "${out:-null}"
}
ksck_json() {
  local out
  out=$(kmend ksck --masters "$1" --format=json --timeout 3s 2>/dev/null) || true
  echo "${out:-null}"
}
# until SECONDS_MAX CMD...: CMD until it succeeds, at most SECONDS_MAX.
until_ok() {
  local max=$1 i
  shift
  for ((i = 0; i < max * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}
has_leader() { ksck_json "$1" | jq -e '[.masters[] | select(.is_leader)] | length == 1' >/dev/null; }

step "1. Evidence: which masters answer (kept in $BACKUP_DIR/masters-before.json)"
probe >"$BACKUP_DIR/masters-before.json"
B="$BACKUP_DIR/masters-before.json"
jq -e '.masters | length > 0' "$B" >/dev/null || die "kmend master gave no answer: $(cat "$B")"
dead=$(jq -r '.masters[] | select(.uuid == null) | .address' "$B")
live=$(jq -r '[.masters[] | select(.uuid != null) | .address] | join(",")' "$B")
[[ -n "$dead" ]] || die "every master answers: nothing to do (kmend ksck --masters $MASTERS)"
[[ -n "$live" ]] || die "no master answers: that is runbook 6 (docs/runbooks/masters-lost.sh)"
jq -r '.masters[] | "  \(.address): \(if .uuid then "answers (\(.uuid))" else "DEAD: \(.error)" end)"' "$B"

if [[ -n "${RESTART_MASTER:-}" ]]; then
  step "2. Restart each dead master on its own data"
  for a in $dead; do MASTER_ADDR=$a bash -c "$RESTART_MASTER" || die "RESTART_MASTER failed for $a"; done
else
  # The dry run's judgement: safety "majority_lost" (not refused) means no
  # master can lead; anything else means the catalog still has a majority.
  if jq -e '.refused == false and .safety == "majority_lost"' "$B" >/dev/null; then
    step "2. The catalog lost its majority: force it onto the survivor"
    jq -r '"  survivor \(.survivor.address) (\(.survivor.uuid)), term \(.current_term); forced voters \(.forced_voters | join(",")); dropping \(.dropped | join(","))"' "$B"
    kmend master unsafe-change-config --masters "$MASTERS" --yes --backup_dir "$BACKUP_DIR" --format=json \
      >"$BACKUP_DIR/force.json" || die "force: $(jq -c '{reason, safety_reason}' "$BACKUP_DIR/force.json" 2>/dev/null)"
    jq -e '.applied == true and (.backup | length > 0)' "$BACKUP_DIR/force.json" >/dev/null ||
      die "force not applied: $(cat "$BACKUP_DIR/force.json")"
    echo "  previous state saved in $(jq -r .backup "$BACKUP_DIR/force.json")"
    until_ok "$WAIT_S" has_leader "$live" || die "the survivor does not lead after ${WAIT_S}s"
  else
    step "2. The catalog keeps its majority: remove the dead members"
    until_ok "$WAIT_S" has_leader "$live" || die "no catalog leader among $live after ${WAIT_S}s"
    ksck_json "$live" >"$BACKUP_DIR/ksck-before.json"
    for a in $dead; do
      uuid=$(jq -r --arg a "$a" \
        '.masters[] | select(.is_leader) | .catalog_config.peers[] | select(.address == $a) | .uuid' \
        "$BACKUP_DIR/ksck-before.json")
      if [[ -z "$uuid" ]]; then
        echo "  $a: not in the catalog config (nothing to remove)"
        continue
      fi
      kmend master remove --masters "$live" "$uuid" --format=json >"$BACKUP_DIR/remove-dry.json" ||
        die "remove $uuid ($a) refused: $(jq -r .reason "$BACKUP_DIR/remove-dry.json" 2>/dev/null)"
      kmend master remove --masters "$live" "$uuid" --yes --format=json >"$BACKUP_DIR/remove.json" ||
        die "remove $uuid ($a) failed: $(jq -r .reason "$BACKUP_DIR/remove.json" 2>/dev/null)"
      jq -e '.applied == true' "$BACKUP_DIR/remove.json" >/dev/null || die "remove $uuid: $(cat "$BACKUP_DIR/remove.json")"
      echo "  removed $uuid ($a): config now $(jq -c .config_after "$BACKUP_DIR/remove.json")"
    done
  fi

  step "3. Start an empty master at each dead address and add it (one at a time)"
  for a in $dead; do
    MASTER_ADDR=$a bash -c "$REPLACE_MASTER" || die "REPLACE_MASTER failed for $a"
    # Dry run until the new master answers as an empty non-member (a
    # master on old data is refused here: it holds a catalog of its own).
    add_dry() {
      kmend master add --masters "$live" "$a" --format=json >"$BACKUP_DIR/add-dry.json" 2>/dev/null
    }
    until_ok 30 add_dry || die "add $a refused: $(jq -r .reason "$BACKUP_DIR/add-dry.json" 2>/dev/null)"
    jq -r '"  \(.new_master) (\(.new_master_uuid)): \(.step); leader \(.leader.address)"' "$BACKUP_DIR/add-dry.json"
    kmend master add --masters "$live" "$a" --yes --wait "${WAIT_S}s" --format=json >"$BACKUP_DIR/add.json" ||
      die "add $a failed (it stays a non-voter; run again): $(jq -r .reason "$BACKUP_DIR/add.json" 2>/dev/null)"
    jq -e '.applied == true or .step == "nothing"' "$BACKUP_DIR/add.json" >/dev/null ||
      die "add $a: $(cat "$BACKUP_DIR/add.json")"
    live="$live,$a"
  done
fi

step "4. Every master answers and ksck is HEALTHY (at most ${WAIT_S}s)"
healthy() { kmend ksck --masters "$MASTERS" --timeout 3s >/dev/null 2>&1; }
until_ok "$WAIT_S" healthy ||
  die "ksck still reports problems after ${WAIT_S}s: $(ksck_json "$MASTERS" | jq -c '.problems')"
echo "HEALTHY"
