#!/usr/bin/env bash
# `kmend help` against the tools actually built: every kmend-* binary next to
# kmend (and every one tools/BUILD declares) is listed, nothing listed is
# missing, the description column is aligned; `kmend --version` exits 0.
set -uo pipefail

RUNFILES="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}"
BIN="$RUNFILES/kmend/tools"
KMEND="$BIN/kmend"
OUT="$(mktemp "${TEST_TMPDIR:-/tmp}/help.XXXXXX")"
trap 'rm -f "$OUT"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

export PATH=/usr/bin:/bin
"$KMEND" help >"$OUT" 2>&1 || fail "kmend help exited $?"
# The tool lines: two spaces, a name, spaces, a description.
listed=$(sed -n '/^Tools:$/,$p' "$OUT" | sed -n 's/^  \([a-z0-9_-]*\)  *[^ ].*$/\1/p' | sort)
[[ -n "$listed" ]] || fail "no tools listed:$(cat "$OUT")"

built=$(cd "$BIN" && for f in kmend-*; do
  [[ -f "$f" && -x "$f" && "$f" =~ ^kmend-[a-z0-9_-]+$ ]] && echo "${f#kmend-}"
done | sort)
declared=$(sed -n 's/^ *name = "kmend-\([a-z0-9_-]*\)",$/\1/p' "$RUNFILES/kmend/tools/BUILD" | sort)
[[ "$built" == "$declared" ]] ||
  fail "the test's data misses a tool tools/BUILD declares: built [$built] declared [$declared]"
for tool in $declared; do
  grep -qx "$tool" <<<"$listed" || fail "kmend help does not list $tool"
done
for tool in $listed; do
  grep -qx "$tool" <<<"$declared" || fail "kmend help lists $tool, which tools/BUILD does not build"
done

# Aligned: every description starts in the same column.
columns=$(sed -n '/^Tools:$/,$p' "$OUT" | sed -n 's/^\(  [a-z0-9_-]*  *\)[^ ].*$/\1/p' |
  awk '{ print length($0) }' | sort -u)
[[ $(wc -l <<<"$columns") -eq 1 ]] || fail "descriptions start in columns: $columns"$'\n'"$(cat "$OUT")"

for v in --version version; do
  "$KMEND" "$v" >"$OUT" 2>&1 || fail "kmend $v exited $?"
  grep -Eq '^kmend [0-9]+\.[0-9]+' "$OUT" || fail "kmend $v printed: $(cat "$OUT")"
done

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "kmend help checks passed"
