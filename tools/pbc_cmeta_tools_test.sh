#!/usr/bin/env bash
# Runs the real kmend, kmend-pbc and kmend-cmeta binaries: dispatch, output,
# exit codes (0 ok / 1 damage / 2 could not run), on good, corrupt and torn
# files.
set -uo pipefail

RUNFILES="${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}"
BIN="$RUNFILES/kmend/tools"
KMEND="$BIN/kmend"
TMP="$(mktemp -d "${TEST_TMPDIR:-/tmp}/tools_test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run EXPECTED_RC CMD...: runs CMD, stdout+stderr to $TMP/out, checks the code.
run() {
  local want=$1; shift
  "$@" >"$TMP/out" 2>&1
  local rc=$?
  if [[ $rc -ne $want ]]; then
    fail "'$*' exited $rc, want $want; output:"; cat "$TMP/out" >&2
  fi
}
expect_out() {  # expect_out REGEX: the last run's output matches
  grep -Eq -- "$1" "$TMP/out" || { fail "output lacks /$1/:"; cat "$TMP/out" >&2; }
}

# --- kmend dispatch; PATH is empty so tools must be found next to kmend.
export PATH=/usr/bin:/bin
run 0 "$KMEND" help
expect_out '^  pbc +dump and verify'
expect_out '^  cmeta +print, verify and create'
run 0 "$KMEND"
expect_out 'Tools:'
run 2 "$KMEND" no-such-tool
expect_out 'unknown tool "no-such-tool"'
run 2 "$KMEND" '../etc'
run 0 "$KMEND" pbc --help
expect_out 'dump'
run 2 "$KMEND" pbc frobnicate
run 0 "$KMEND" help cmeta
expect_out 'print, verify and create'
expect_out 'create'
run 0 "$KMEND" pbc verify --help

# --- cmeta create / print
ROOT="$TMP/root"
TABLET=0123456789abcdef0123456789abcdef
CM="$ROOT/consensus-meta/$TABLET"
run 0 "$KMEND" cmeta create "$ROOT" --tablet "$TABLET" --term 7 \
  --peers aaaa@127.0.0.1:7050,bbbb@127.0.0.1:7051,cccc@127.0.0.1:7052 --voted-for bbbb
expect_out "wrote $CM"
run 0 "$KMEND" cmeta print "$CM"
expect_out '^voted_for: +bbbb$'   # the dashed spelling is kept as an alias
[[ -f "$CM" ]] || fail "no $CM"
[[ -z "$(ls "$ROOT/consensus-meta" | grep kudutmp)" ]] || fail "temp file left behind"
run 2 "$KMEND" cmeta create "$ROOT" --tablet "$TABLET" --term 8 --peers aaaa@h:1
expect_out 'exists; pass --force'
run 0 "$KMEND" cmeta create "$ROOT" --tablet "$TABLET" --term 8 \
  --peers aaaa@127.0.0.1:7050,bbbb@127.0.0.1:7051,cccc@127.0.0.1:7052 --voted_for cccc --force
run 2 "$KMEND" cmeta create "$ROOT" --tablet t2 --term 1 --peers 'aaaa@h'
expect_out 'expected uuid@host:port'

# A held data-directory lock (here by this shell via flock(1), which writes no
# pid) stops create.
if command -v flock >/dev/null; then
  exec 9>>"$ROOT/.kmend.lock"
  flock -n 9 || fail "could not take the lock for the test"
  run 2 "$KMEND" cmeta create "$ROOT" --tablet t3 --term 1 --peers aaaa@h:1
  expect_out 'data directory is locked by another process'
  flock -u 9
  exec 9>&-
  run 0 "$KMEND" cmeta create "$ROOT" --tablet t3 --term 1 --peers aaaa@h:1
fi

run 0 "$KMEND" cmeta print "$CM"
expect_out '^current_term: +8$'
expect_out '^voted_for: +cccc$'
expect_out '^  bbbb  VOTER  127.0.0.1:7051$'
run 0 "$KMEND" cmeta print "$ROOT" --tablet "$TABLET" --format=json
expect_out '"schema_version": 1'
expect_out '"current_term": 8'
run 0 "$KMEND" cmeta verify "$CM"
expect_out ': OK$'

# --- cmeta set-term / rewrite-raft-config (offline surgery): dry run by default,
# a byte copy of the old file first, never a lower term, the lock respected.
BK="$TMP/backups"
ST=fedcba9876543210fedcba9876543210
SCM="$ROOT/consensus-meta/$ST"
run 0 "$KMEND" cmeta create "$ROOT" --tablet "$ST" --term 8 \
  --peers aaaa@127.0.0.1:7050,bbbb@127.0.0.1:7051,cccc@127.0.0.1:7052 --voted_for cccc
run 0 "$KMEND" cmeta set-term --fs_root "$ROOT" --tablet "$ST" 12 --backup_dir "$BK"
expect_out 'DRY RUN'
run 0 "$KMEND" cmeta print "$SCM"
expect_out '^current_term: +8$'
[[ ! -d "$BK" ]] || fail "a dry run wrote a backup"
cp "$SCM" "$TMP/cm-before"
run 0 "$KMEND" cmeta set-term --fs_root "$ROOT" --tablet "$ST" 12 --backup_dir "$BK" --yes
expect_out 'previous file saved as'
run 0 "$KMEND" cmeta print "$SCM"
expect_out '^current_term: +12$'
expect_out '^voted_for: +\(none\)$'
cmp -s "$TMP/cm-before" "$BK"/cmeta-"$ST"-* || fail "the backup is not the old file"
run 2 "$KMEND" cmeta set-term --fs_root "$ROOT" --tablet "$ST" 11 --yes
expect_out 'new term 11 is not above the current term 12'
run 0 "$KMEND" cmeta rewrite-raft-config --fs_root "$ROOT" --tablet "$ST" \
  cccc:127.0.0.1:7052 --backup_dir "$BK" --yes
run 0 "$KMEND" cmeta print "$SCM"
expect_out '1 peers$'
expect_out '^  cccc  VOTER  127.0.0.1:7052$'
run 2 "$KMEND" cmeta rewrite-raft-config --fs_root "$ROOT" --tablet "$ST" cccc --yes
expect_out 'expected UUID:HOST:PORT'
if command -v flock >/dev/null; then
  exec 9>>"$ROOT/.kmend.lock"
  flock -n 9 || fail "could not take the lock for the test"
  run 2 "$KMEND" cmeta set-term --fs_root "$ROOT" --tablet "$ST" 20 --yes
  expect_out 'data directory is locked by another process'
  flock -u 9
  exec 9>&-
fi
run 0 "$KMEND" cmeta print "$SCM"
expect_out '^current_term: +12$'

# --- pbc dump / verify on a good file
run 0 "$KMEND" pbc dump "$CM"
expect_out 'pb_type kmend.consensus.ConsensusMetadataPB'
expect_out '^-- record 0 at offset [0-9]+'
expect_out '^current_term: 8$'
run 0 "$KMEND" pbc dump --format=json "$CM"
expect_out '"pb_type": "kmend.consensus.ConsensusMetadataPB"'
expect_out '"state": "ok"'
run 0 "$KMEND" pbc verify "$CM"
expect_out 'OK \(container v2, kmend.consensus.ConsensusMetadataPB, 1 record'

# --- one corrupted byte in the record's data: exit 1, offset named
size=$(stat -c %s "$CM")
cp "$CM" "$TMP/bad"
printf '\x5a' | dd of="$TMP/bad" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
run 1 "$KMEND" pbc verify "$TMP/bad"
expect_out 'CORRUPT: offset [0-9]+: record data .*crc mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)'
run 1 "$KMEND" pbc verify --format=json "$TMP/bad" "$CM"
expect_out '"state": "corrupt"'
expect_out '"problem_offset": [0-9]+'
expect_out '"ok": false'
run 1 "$KMEND" pbc dump "$TMP/bad"
expect_out 'crc mismatch'
run 1 "$KMEND" cmeta print "$TMP/bad"
run 1 "$KMEND" cmeta verify "$TMP/bad"
expect_out 'CORRUPT'

# --- a torn tail counts as a problem too
head -c $((size - 3)) "$CM" >"$TMP/torn"
run 1 "$KMEND" pbc verify "$TMP/torn"
expect_out 'TORN TAIL at offset [0-9]+'

# --- unreadable: exit 2, and 2 wins over 1
run 2 "$KMEND" pbc verify "$TMP/missing"
run 2 "$KMEND" pbc verify "$TMP/bad" "$TMP/missing"
echo "not a container at all" >"$TMP/text"
run 1 "$KMEND" pbc verify "$TMP/text"
expect_out 'CORRUPT: offset 0: not a PB container'

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all tool checks passed"
