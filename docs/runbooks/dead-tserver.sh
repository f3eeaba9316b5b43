#!/usr/bin/env bash
# Runbook 1: a dead tablet server (docs/runbooks/README.md).
# The master re-replicates every replica the dead server held onto the
# others (after its --rereplication_delay_ms); this waits for that, then
# unregisters the server (it is gone for good) so that ksck is HEALTHY.
#
#   MASTERS=host:port[,...] [WAIT_S=600] bash docs/runbooks/dead-tserver.sh
# Exit 0: ksck HEALTHY. Non-zero: the step that failed says why.
set -euo pipefail
: "${MASTERS:?set MASTERS=host:port[,...]}"
WAIT_S=${WAIT_S:-600}
step() { echo "==> $*"; }
die() { echo "runbook dead-tserver: $*" >&2; exit 1; }
# `null` when ksck printed nothing (jq -e passes empty input).
ksck_json() {
  local out
  out=$(kmend ksck --masters "$MASTERS" --format=json --timeout 5s) || true
  echo "${out:-null}"
}

step "1. Which tablet servers are dead (ksck: not heartbeating, not answering)"
dead=$(ksck_json | jq -r '.tablet_servers[] | select(.state == "DEAD") | .uuid')
[[ -n "$dead" ]] || die "ksck names no DEAD tablet server; nothing to do (is it only slow? see ksck)"
echo "$dead"

step "2. Wait until every tablet is HEALTHY again (re-replicated; at most ${WAIT_S}s)"
for ((i = 0; i < WAIT_S * 2; i++)); do
  if ksck_json | jq -e '[.tables[].health] | all(. == "HEALTHY")' >/dev/null; then break; fi
  sleep 0.5
done
ksck_json | jq -e '[.tables[].health] | all(. == "HEALTHY")' >/dev/null ||
  die "tables not HEALTHY after ${WAIT_S}s: $(ksck_json | jq -c '[.tables[] | {name, health}]')"
# No tablet still names a dead server in its config.
for uuid in $dead; do
  ksck_json | jq -e --arg u "$uuid" '[.tablets[].replicas[] | select(.ts_uuid == $u and .in_master_config)] | length == 0' \
    >/dev/null || die "a tablet's config still names $uuid"
done

step "3. Unregister the dead servers (refused while one runs or may hold an only copy)"
for uuid in $dead; do
  kmend tserver unregister --masters "$MASTERS" "$uuid" --yes --format=json | jq -e '.refused == false' >/dev/null ||
    die "unregister $uuid refused"
done

step "4. ksck HEALTHY"
kmend ksck --masters "$MASTERS" >/dev/null || die "ksck still reports problems: run kmend ksck --masters $MASTERS"
echo "HEALTHY"
