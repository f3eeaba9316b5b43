#!/usr/bin/env bash
# //:all_tests lists the default tests by hand (BUILD explains why): fails,
# naming them, when it differs from every test not tagged soak or benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
listed=$(bazel query 'tests(//:all_tests)' 2>/dev/null | sort)
wanted=$(bazel query 'tests(//...) except attr(tags, "soak|benchmark", tests(//...))' 2>/dev/null | sort)
if ! diff <(echo "$listed") <(echo "$wanted") >/dev/null; then
  echo "//:all_tests differs from the default tests (< listed only, > missing from BUILD):" >&2
  diff <(echo "$listed") <(echo "$wanted") | grep '^[<>]' >&2
  exit 1
fi
