#!/usr/bin/env bash
# Runbook 2: a corrupt replica on a tablet server's disk
# (docs/runbooks/fsck.md has the why of each step).
# fsck finds the damaged replicas of the stopped server and (--repair) marks
# them FAILED, the server starts, rebuild-replica copies each from a healthy
# peer, and ksck's checksum scan matches on every replica. (The offline form
# fsck prints, `rebuild-replica --fs_root`, fails today on a replica whose
# superblock is the damaged file; the online form works for every case.)
#
#   MASTERS=host:port FS_ROOT=/data/ts1 \
#   STOP_TSERVER='systemctl stop kmend-tserver@ts1' START_TSERVER='systemctl start kmend-tserver@ts1' \
#   [BACKUP_DIR=/var/backups/kmend-ts1] [WAIT_S=300] bash docs/runbooks/corrupt-replica.sh
# Exit 0: every replica matches. Non-zero: the step that failed says why.
set -euo pipefail
: "${MASTERS:?}" "${FS_ROOT:?}" "${STOP_TSERVER:?}" "${START_TSERVER:?}"
BACKUP_DIR=${BACKUP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kmend-rebuild-backup.XXXXXX")}
WAIT_S=${WAIT_S:-300}
step() { echo "==> $*"; }
die() { echo "runbook corrupt-replica: $*" >&2; exit 1; }

step "1. Stop the tablet server"
bash -c "$STOP_TSERVER"

step "2. fsck its data directory (exit 1: problems found)"
rc=0
kmend fsck --fs_root "$FS_ROOT" --format=json >"$BACKUP_DIR/fsck-before.json" || rc=$?
[[ $rc -ne 2 ]] || die "fsck could not run (is the server really stopped?)"
[[ $rc -eq 1 ]] || die "fsck found nothing wrong in $FS_ROOT"
jq -r '.tablets[] | "\(.tablet_id) \(.verdict)"' "$BACKUP_DIR/fsck-before.json"
jq -e '[.tablets[] | select(.verdict == "NEEDS_REBUILD" and (.fix_command | test("<PEER>")))] | length == 0' \
  "$BACKUP_DIR/fsck-before.json" >/dev/null ||
  die "a replica to rebuild names no peer (the only copy?): do not repair; see docs/runbooks/fsck.md"

step "3. fsck --repair: marks those replicas FAILED (changed bytes saved in $BACKUP_DIR/fsck)"
# Exit 1 is expected: the FAILED replicas await their rebuild.
rc=0
kmend fsck --fs_root "$FS_ROOT" --repair --yes --backup_dir "$BACKUP_DIR/fsck" >/dev/null || rc=$?
[[ $rc -ne 2 ]] || die "fsck --repair failed: kmend fsck --fs_root $FS_ROOT --repair"
kmend fsck --fs_root "$FS_ROOT" --format=json >"$BACKUP_DIR/fsck-after.json" || true
jq -e '[.tablets[] | select(.verdict != "HEALTHY" and .verdict != "NEEDS_REBUILD")] | length == 0' \
  "$BACKUP_DIR/fsck-after.json" >/dev/null || die "after the repair fsck still finds: $(jq -c '[.tablets[] | {tablet_id, verdict}]' "$BACKUP_DIR/fsck-after.json")"

step "4. Start the server (FAILED replicas are not served; the others are)"
bash -c "$START_TSERVER"
uuid=$(jq -r .server_uuid "$BACKUP_DIR/fsck-before.json")

step "5. Rebuild every FAILED replica online from a healthy peer"
for tablet in $(jq -r '.tablets[] | select(.verdict == "NEEDS_REBUILD") | .tablet_id' "$BACKUP_DIR/fsck-before.json"); do
  echo "\$ kmend rebuild-replica --masters $MASTERS --tablet $tablet --tserver $uuid --yes --wait ${WAIT_S}s"
  kmend rebuild-replica --masters "$MASTERS" --tablet "$tablet" --tserver "$uuid" --yes \
    --wait "${WAIT_S}s" >/dev/null || die "rebuild of $tablet on $uuid failed"
done
for ((i = 0; i < WAIT_S * 2; i++)); do
  kmend ksck --masters "$MASTERS" >/dev/null 2>&1 && break
  sleep 0.5
done
kmend ksck --masters "$MASTERS" >/dev/null || die "ksck not HEALTHY: kmend ksck --masters $MASTERS"

step "6. Checksum scan: every replica of every tablet holds the same rows"
out=$(kmend ksck --masters "$MASTERS" --checksum_scan --format=json) || die "ksck --checksum_scan failed"
jq -e '(.checksums | length) > 0 and ([.checksums[].result] | all(. == "MATCH"))' <<<"$out" >/dev/null ||
  die "checksums: $(jq -c '[.checksums[] | {tablet_id, result}]' <<<"$out")"
echo "MATCH"
