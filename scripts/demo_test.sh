#!/usr/bin/env bash
# README command (1) in its fast mode against the built binaries: every act
# must behave as narrated (the demo exits non-zero otherwise) and end with
# its closing line.
set -uo pipefail
R="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/kmend"
export PATH=/usr/bin:/bin
out="${TEST_TMPDIR:-/tmp}/demo.out"
KMEND_DEMO_BIN="$R" KMEND_DEMO_FAST=1 TMPDIR="${TEST_TMPDIR:-/tmp}" bash "$R/scripts/demo.sh" >"$out" 2>&1
rc=$?
if [[ $rc -ne 0 ]]; then
  tail -n 60 "$out" >&2
  echo "FAIL: demo exited $rc" >&2
  exit 1
fi
for want in "Demo finished: every act behaved as narrated" "T_failover" "Act: a failover drill"; do
  grep -q "$want" "$out" || { tail -n 40 "$out" >&2; echo "FAIL: no '$want' in the demo's output" >&2; exit 1; }
done
echo PASS
