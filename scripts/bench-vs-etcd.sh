#!/usr/bin/env bash
# kmend vs etcd 3.4, same machine, same run (docs/benchmarks.md):
#   - rows/s written through Raft (RF=3, three servers on loopback, fsync on),
#     1 and 16 concurrent clients, 100-byte values, unique keys, each write
#     acknowledged before the client's next: //bench/client:write_bench
#     (kmend, 1 row per request and 300-row batches) and
#     //bench/etcd:etcd_put_bench (etcd, one put per request);
#   - T_failover (kill -9 of the leader -> first acknowledged write by the new
#     leader), split into detection and election: //bench/failover:kmend_failover
#     and //bench/etcd:etcd_failover;
# then prints a table of the figures, the ratios and whether each goal of
# issue 5 is met (throughput >= 1.5x etcd's, T_failover median <= etcd's).
#
#   scripts/bench-vs-etcd.sh [--trials N] [--keep DIR] [--no-build]
#   scripts/bench-vs-etcd.sh --report DIR
#
# --trials: failover trials per store (default 5); --keep: copy the raw JSON
# results into DIR; --no-build: run the binaries already in bazel-bin (when
# other work keeps changing the tree, for a second run of the same build);
# --report: only print the table of results kept earlier with --keep.
# Each throughput case runs >= 3 s (MinTime in the benchmarks).
# Needs Debian's etcd-server (/usr/bin/etcd, or $ETCD_BIN); as root the
# script installs it when missing. Every server it starts listens on free
# loopback ports with its data under one temporary directory, removed on
# exit; no system etcd (2379) is used or needed.
set -euo pipefail

trials=5
keep=""
build=1
report=""
while (($#)); do
  case "$1" in
    --trials) trials="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench-vs-etcd: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "bench-vs-etcd: needs python3 for the table" >&2; exit 2; }

# Prints the comparison table from the results in directory $1.
print_table() {
python3 - "$1" <<'PY'
import json, re, sys, os
work = sys.argv[1]

def rates(path, field="items_per_second"):
    out = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("error_occurred") or field not in b:
            continue
        name = b["name"]
        threads = int(re.search(r"threads:(\d+)", name).group(1))
        m = re.search(r"rows_per_write:(\d+)/tablets:(\d+)", name)
        key = (int(m.group(1)), int(m.group(2)), threads) if m else (1, 0, threads)
        out[key] = b[field]
    return out

kw = rates(os.path.join(work, "kmend_write.json"))
ep = rates(os.path.join(work, "etcd_put.json"))
# The servers' CPU (all processes of each store) per acknowledged row; absent
# from results kept before the benchmarks reported it.
kc = rates(os.path.join(work, "kmend_write.json"), "server_cpu_ms_per_row")
ec = rates(os.path.join(work, "etcd_put.json"), "server_cpu_ms_per_row")
ks = rates(os.path.join(work, "kmend_write.json"), "server_switches_per_row")
es = rates(os.path.join(work, "etcd_put.json"), "server_switches_per_row")
kf = json.load(open(os.path.join(work, "kmend_failover.json")))
ef = json.load(open(os.path.join(work, "etcd_failover.json")))
load = open(os.path.join(work, "load.txt")).read().split("\n")

print("kmend vs etcd 3.4: RF=3 on loopback, fsync on, 100-byte values; "
      + ", ".join(l for l in load if l))
print()
print("%-44s %12s %12s %8s  %s" % ("write throughput (acked rows/s)", "kmend", "etcd", "ratio",
                                   "goal >= 1.5x"))
for clients in (1, 16):
    e = ep.get((1, 0, clients))
    for rows, tablets, label, goal in ((1, 1, "1 row/request, 1 tablet", True),
                                       (1, 3, "1 row/request, 3 tablets", True),
                                       (300, 3, "300-row batches, 3 tablets", False)):
        k = kw.get((rows, tablets, clients))
        if k is None or e is None:
            print("%-44s %12s %12s" % ("%d client(s), %s" % (clients, label), k, e))
            continue
        r = k / e
        verdict = ("met" if r >= 1.5 else "MISSED (%.0f%% of target)" % (100 * r / 1.5)) \
            if goal else "(batched: not the same load)"
        print("%-44s %12.0f %12.0f %7.2fx  %s" % ("%d client(s), %s" % (clients, label),
                                                 k, e, r, verdict))
def per_row_table(title, k_rates, e_rates, fmt):
    """kmend against etcd per acknowledged row, 1-row writes at 1 and 16 clients."""
    if not (k_rates and e_rates):
        return  # results kept before the benchmarks reported this figure
    print()
    print("%-44s %12s %12s %8s" % (title, "kmend", "etcd", "ratio"))
    for clients in (1, 16):
        e = e_rates.get((1, 0, clients))
        for rows, tablets, label in ((1, 1, "1 row/request, 1 tablet"),
                                     (1, 3, "1 row/request, 3 tablets")):
            k = k_rates.get((rows, tablets, clients))
            if k is None or not e:
                continue
            print(("%-44s " + fmt + " " + fmt + " %7.2fx") %
                  ("%d client(s), %s" % (clients, label), k, e, k / e))

per_row_table("server CPU per acked row (ms, all servers)", kc, ec, "%12.3f")
# The hand-offs a write costs (docs/benchmarks.md, "Context switches per write").
per_row_table("server context switches per acked row", ks, es, "%12.1f")
print()
print("%-44s %12s %12s %8s  %s" % ("failover, ms (median / max over %d trials)" % len(kf["trials"]),
                                   "kmend", "etcd", "ratio", "goal <= etcd"))
for col, label in (("detection", "detection (kill -> term bump)"),
                   ("election", "election (term bump -> leader known)"),
                   ("rediscovery", "client rediscovery"),
                   ("total", "T_failover (kill -> first acked write)")):
    km, kx = kf[col + "_median_ms"], kf[col + "_max_ms"]
    em, ex = ef[col + "_median_ms"], ef[col + "_max_ms"]
    ratio = "%7.2fx" % (km / em) if em > 0 else "%8s" % "-"
    verdict = ""
    if col == "total":
        verdict = "met" if km <= em else "MISSED by %.0f ms (%.0f%%)" % (km - em, 100 * (km / em - 1))
    print("%-44s %5.0f / %5.0f %5.0f / %5.0f %s  %s" % (label, km, kx, em, ex, ratio, verdict))
    if col == "election":
        ks = kf["detection_median_ms"] + kf["election_median_ms"]
        es = ef["detection_median_ms"] + ef["election_median_ms"]
        print("%-44s %13.0f %13.0f %7.2fx" % ("  detection + election (medians added)", ks, es,
                                              ks / es if es > 0 else 0))
print()
print("timeouts: kmend 100 ms tick/heartbeat, election [1000,2000) ms, pre-vote on; "
      "etcd --heartbeat-interval=100 --election-timeout=1000 (randomized [1000,2000) ms), pre-vote off")
PY
}

if [[ -n "$report" ]]; then
  print_table "$report"
  exit 0
fi

etcd_bin="${ETCD_BIN:-/usr/bin/etcd}"
if [[ ! -x "$etcd_bin" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bench-vs-etcd: installing etcd-server (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server etcd-client >/dev/null
  else
    echo "bench-vs-etcd: $etcd_bin missing: apt-get install etcd-server (as root) or set ETCD_BIN" >&2
    exit 2
  fi
fi
export ETCD_BIN="$etcd_bin"

work="$(mktemp -d /tmp/kmend-bench-vs-etcd.XXXXXX)"
# The benchmarks put their clusters' directories under TEST_TMPDIR (set for
# them only: Bazel itself would take TEST_TMPDIR as its output root);
# servers die with the benchmark that started them (PR_SET_PDEATHSIG), and
# this removes what is left, also after a failure or Ctrl-C.
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

targets=(//server:kmend-server //bench/client:write_bench //bench/etcd:etcd_put_bench
         //bench/failover:kmend_failover //bench/etcd:etcd_failover)
if ((build)); then
  echo "== building ${targets[*]}" >&2
  bazel build "${targets[@]}" >&2
fi
bin="$(bazel info bazel-bin 2>/dev/null)"
export KMEND_SERVER_BIN="$bin/server/kmend-server"

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load_start $(load)" >"$work/load.txt"

echo "== kmend write throughput (load $(load))" >&2
TEST_TMPDIR="$work" "$bin/bench/client/write_bench" \
  --benchmark_out="$work/kmend_write.json" --benchmark_out_format=json >&2
echo "== etcd put throughput (load $(load))" >&2
TEST_TMPDIR="$work" "$bin/bench/etcd/etcd_put_bench" \
  --benchmark_out="$work/etcd_put.json" --benchmark_out_format=json >&2
echo "== kmend failover, $trials trials (load $(load))" >&2
TEST_TMPDIR="$work" "$bin/bench/failover/kmend_failover" --trials="$trials" --out="$work/kmend_failover.json" >&2
echo "== etcd failover, $trials trials (load $(load))" >&2
TEST_TMPDIR="$work" "$bin/bench/etcd/etcd_failover" --trials="$trials" --out="$work/etcd_failover.json" >&2
echo "load_end $(load)" >>"$work/load.txt"

if [[ -n "$keep" ]]; then
  mkdir -p "$keep"
  cp "$work"/*.json "$work/load.txt" "$keep/"
fi

print_table "$work"
