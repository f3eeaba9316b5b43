#!/usr/bin/env bash
# README command (1): install what is missing, build the tools, and narrate a
# small scenario in a temp directory that is removed at the end.
#
# Structure: one function per act (act_*), run in the order of ACTS. To add an
# act, write a function and append it to ACTS (and its Bazel targets to
# TARGETS). Acts share $DEMO_DIR and the helpers say/show/expect_exit.
# Every line the demo narrates starts with "==> ". Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(//tools:kmend //tools:kmend-pbc //tools:kmend-cmeta)
ACTS=(act_cmeta_roundtrip act_cmeta_corruption)

say() { echo "==> $*"; }

# show CMD...: prints the command like a shell prompt, then runs it.
show() {
  echo "\$ $*"
  "$@"
}

# expect_exit CODE CMD...: shows and runs CMD, which must exit with CODE.
expect_exit() {
  local want=$1 rc=0
  shift
  echo "\$ $*"
  "$@" || rc=$?
  if [[ $rc -ne $want ]]; then
    echo "demo: '$*' exited $rc, expected $want" >&2
    exit 1
  fi
  say "(exit code $rc, as expected)"
}

setup() {
  say "Installing missing Debian packages (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
  say "Building ${TARGETS[*]}"
  bazel build "${TARGETS[@]}"
  # `bazel info` names the output tree of the default configuration even when
  # the bazel-bin symlink points at another one (e.g. after a fuzz build).
  export PATH="$(bazel info bazel-bin 2>/dev/null)/tools:$PATH"
  DEMO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kmend-demo.XXXXXX")"
  trap 'rm -rf "$DEMO_DIR"' EXIT
  say "Working in $DEMO_DIR (removed at exit)"
  show kmend help
}

TABLET=0123456789abcdef0123456789abcdef

act_cmeta_roundtrip() {
  say "Act: consensus metadata. Write a replica's Raft term, vote and config with the library"
  show kmend cmeta create "$DEMO_DIR/ts1" --tablet "$TABLET" --term 3 --voted-for \
    a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 \
    --peers a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1@127.0.0.1:7050,b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2@127.0.0.1:7051,c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3@127.0.0.1:7052
  CMETA="$DEMO_DIR/ts1/consensus-meta/$TABLET"
  say "It is a Kudu-format PB container: header, descriptors of its own type, one record"
  show od -A d -t x1 -N 16 "$CMETA"
  say "Any container can be dumped without knowing its type (embedded descriptors)"
  show kmend pbc dump "$CMETA"
  say "The cmeta tool shows it the way an operator thinks of it"
  show kmend cmeta print "$CMETA"
  say "And checks framing, every CRC32C and the content"
  expect_exit 0 kmend pbc verify "$CMETA"
}

act_cmeta_corruption() {
  say "Act: bit rot. Flip one byte inside the record (10 bytes before the end of the file)"
  local size offset
  size=$(stat -c %s "$CMETA")
  offset=$((size - 10))
  cp "$CMETA" "$DEMO_DIR/cmeta.good"
  printf '\xff' | dd of="$CMETA" bs=1 seek="$offset" conv=notrunc status=none
  say "pbc verify names the record's offset and both CRCs, and exits 1"
  expect_exit 1 kmend pbc verify "$CMETA"
  say "The same as JSON, for scripts"
  expect_exit 1 kmend pbc verify --format=json "$CMETA"
  say "Readers refuse the damaged file instead of using it"
  expect_exit 1 kmend cmeta print "$CMETA"
  say "A torn tail (crash mid-write) is told apart from corruption"
  head -c $((size - 3)) "$DEMO_DIR/cmeta.good" >"$DEMO_DIR/cmeta.torn"
  expect_exit 1 kmend pbc verify "$DEMO_DIR/cmeta.torn"
}

main() {
  setup
  for act in "${ACTS[@]}"; do
    "$act"
  done
  say "Demo finished: every act behaved as narrated"
}

main "$@"
