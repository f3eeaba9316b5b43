#!/usr/bin/env bash
# Runbook 3: tablets lost the majority of their replicas
# (docs/runbooks/majority-lost.md has the why of each step).
# Plan, read, apply (with backups), verify; then unregister the servers that
# are gone for good so that ksck is HEALTHY.
#
#   MASTERS=host:port [BACKUP_DIR=/var/backups/kmend-recover] [WAIT=10m] \
#   bash docs/runbooks/majority-loss.sh
# Exit 0: every tablet HEALTHY at its replication factor. Non-zero: the step
# that failed says why (nothing is forced after a failed check).
set -euo pipefail
: "${MASTERS:?set MASTERS=host:port[,...]}"
BACKUP_DIR=${BACKUP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kmend-recover.XXXXXX")}
WAIT=${WAIT:-10m}
step() { echo "==> $*"; }
die() { echo "runbook majority-loss: $*" >&2; exit 1; }
mkdir -p "$BACKUP_DIR"

step "1. Evidence: ksck (kept in $BACKUP_DIR/ksck-before.json)"
kmend ksck --masters "$MASTERS" --format=json >"$BACKUP_DIR/ksck-before.json" || true
K="$BACKUP_DIR/ksck-before.json"
jq -e '[.tablets[] | select(.health == "UNAVAILABLE")] | length > 0' "$K" >/dev/null ||
  die "no tablet is UNAVAILABLE: nothing to recover"
# Never force on a guess: a replica ksck could not reach although its server
# heartbeats may be alive (fix the network path first).
jq -e '[.tablets[].replicas[] | select(.state == "UNKNOWN")] | length == 0' "$K" >/dev/null ||
  die "ksck could not judge some replicas (UNKNOWN): fix your network path to the servers first"

step "2. Plan (changes nothing): $BACKUP_DIR/plan.json"
rc=0
kmend recover plan --masters "$MASTERS" -o "$BACKUP_DIR/plan.json" || rc=$?
P="$BACKUP_DIR/plan.json"
[[ -s "$P" ]] || die "recover plan wrote no plan (exit $rc)"
jq -e '.schema == "kmend.recover.plan/1" and (.entries | length) > 0' "$P" >/dev/null || die "the plan has no entry"
jq -e '(.unrecoverable | length) == 0' "$P" >/dev/null ||
  die "tablets with no running replica: bring a server back or restore a backup: $(jq -c .unrecoverable "$P")"
jq -e '(.unknown | length) == 0' "$P" >/dev/null || die "tablets that could not be judged: $(jq -c .unknown "$P")"
jq -e '[.entries[].warnings[]] | length == 0' "$P" >/dev/null ||
  die "the plan has warnings; read them (apply skips those entries without --accept_warnings)"
jq -r '.entries[] | "  \(.tablet_id): survivor \(.survivor.address), drop \(.dropped | join(",")); may lose: \(.may_lose)"' "$P"

step "3. Dry run: the cluster must still match the plan"
kmend recover apply "$P" --format=json >"$BACKUP_DIR/apply-dry.json" || die "dry run refused: make a new plan"
jq -e '.matches_plan == true and ([.tablets[].outcome] | all(. == "would_apply" or . == "already_applied"))' \
  "$BACKUP_DIR/apply-dry.json" >/dev/null || die "dry run: $(jq -c '.tablets' "$BACKUP_DIR/apply-dry.json")"

step "4. Apply (each replaced consensus state saved in $BACKUP_DIR first)"
kmend recover apply "$P" --yes --backup_dir "$BACKUP_DIR" --format=json >"$BACKUP_DIR/apply.json" ||
  die "apply: $(jq -c '.tablets' "$BACKUP_DIR/apply.json" 2>/dev/null)"
jq -e '[.tablets[].outcome] | all(. == "applied" or . == "already_applied")' "$BACKUP_DIR/apply.json" >/dev/null ||
  die "apply: $(jq -c '.tablets' "$BACKUP_DIR/apply.json")"

step "5. Verify: every tablet of the plan HEALTHY at its replication factor (re-replicated; at most $WAIT)"
kmend recover verify "$P" --wait "$WAIT" --format=json >"$BACKUP_DIR/verify.json" ||
  die "verify: $(jq -c '.tablets' "$BACKUP_DIR/verify.json" 2>/dev/null)"

step "6. Unregister the dropped servers that are gone for good"
for uuid in $(jq -r '.dead_servers[].uuid' "$P"); do
  kmend tserver unregister --masters "$MASTERS" "$uuid" --yes >/dev/null || die "unregister $uuid refused"
done
kmend ksck --masters "$MASTERS" >/dev/null || die "ksck not HEALTHY: kmend ksck --masters $MASTERS"
echo "HEALTHY"
