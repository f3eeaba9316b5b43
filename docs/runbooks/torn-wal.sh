#!/usr/bin/env bash
# Runbook 4: a tablet server that crashed (power loss) with a torn WAL tail
# (docs/runbooks/fsck.md has the why of each step).
# fsck tells a torn tail (a crash mid-append: REPAIRABLE_LOCALLY, nothing
# the replica acknowledged is lost) from damage that needs a rebuild; the
# repair closes the torn segment, the server starts and catches up.
#
#   MASTERS=host:port FS_ROOT=/data/ts1 START_TSERVER='systemctl start kmend-tserver@ts1' \
#   [BACKUP_DIR=/var/backups/kmend-fsck-ts1] [WAIT_S=300] bash docs/runbooks/torn-wal.sh
# The server must be stopped (it crashed). Exit 0: ksck HEALTHY.
set -euo pipefail
: "${MASTERS:?}" "${FS_ROOT:?}" "${START_TSERVER:?}"
BACKUP_DIR=${BACKUP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kmend-fsck.XXXXXX")}
WAIT_S=${WAIT_S:-300}
step() { echo "==> $*"; }
die() { echo "runbook torn-wal: $*" >&2; exit 1; }
mkdir -p "$BACKUP_DIR"

step "1. fsck the stopped server's directory (kept in $BACKUP_DIR/fsck-before.json)"
rc=0
kmend fsck --fs_root "$FS_ROOT" --format=json >"$BACKUP_DIR/fsck-before.json" || rc=$?
[[ $rc -ne 2 ]] || die "fsck could not run (is the server stopped? is $FS_ROOT its --fs_root?)"
F="$BACKUP_DIR/fsck-before.json"
jq -r '.tablets[] | "  \(.tablet_id) \(.verdict)"' "$F"
jq -e '[.tablets[] | select(.verdict == "NEEDS_REBUILD" or .verdict == "UNCHECKED")] | length == 0' "$F" \
  >/dev/null || die "more than a torn tail: follow runbook 2 (corrupt-replica.sh)"

if [[ $rc -eq 1 ]]; then
  step "2. Repair: dry run, then with a backup of every changed byte in $BACKUP_DIR/repair"
  kmend fsck --fs_root "$FS_ROOT" --repair --format=json >"$BACKUP_DIR/repair-plan.json" || true
  jq -e '.repair.actions | length > 0' "$BACKUP_DIR/repair-plan.json" >/dev/null ||
    die "fsck found problems but plans no repair action"
  kmend fsck --fs_root "$FS_ROOT" --repair --yes --backup_dir "$BACKUP_DIR/repair" >/dev/null ||
    die "repair did not leave a clean directory: kmend fsck --fs_root $FS_ROOT"
  step "3. fsck again: clean"
  kmend fsck --fs_root "$FS_ROOT" >/dev/null || die "still problems: kmend fsck --fs_root $FS_ROOT"
else
  step "2. Nothing to repair"
fi

step "4. Start the server; wait for ksck HEALTHY (at most ${WAIT_S}s)"
bash -c "$START_TSERVER"
for ((i = 0; i < WAIT_S * 2; i++)); do
  kmend ksck --masters "$MASTERS" >/dev/null 2>&1 && break
  sleep 0.5
done
kmend ksck --masters "$MASTERS" >/dev/null || die "ksck not HEALTHY: kmend ksck --masters $MASTERS"
echo "HEALTHY"
