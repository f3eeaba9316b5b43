#!/usr/bin/env bash
# README command (2): install what is missing, build everything, run every test
# of the default suite, and print one closing line "N passed, N failed"
# counted from Bazel's per-target summary. Exit status is Bazel's.
#
# Extra arguments go to `bazel test` (e.g. scripts/test.sh --config=soak).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 2

bash scripts/check-test-suite.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bazel test //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# Per-target lines look like "//lib/format:crc32c_test  (cached) PASSED in 0.1s".
passed=$(grep -cE '^//[^ ]+ +(\(cached\) +)?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(\(cached\) +)?(FAILED|TIMEOUT|FLAKY|NO STATUS|INCOMPLETE|FAILED TO BUILD)' "$log")
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
  failed=1  # a build failure stops Bazel before any test line is printed
fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
