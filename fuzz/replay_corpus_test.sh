#!/usr/bin/env bash
# replay_corpus_test.sh TARGET CORPUS_DIR: runs every corpus file through a fuzz
# target built without libFuzzer; fails if it crashes or the corpus is empty.
set -euo pipefail
target=$1
corpus=$2
files=("$corpus"/*)
[[ -e "${files[0]}" ]] || { echo "empty corpus $corpus" >&2; exit 1; }
"$target" "${files[@]}"
