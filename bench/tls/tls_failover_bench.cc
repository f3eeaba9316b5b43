// T_failover with TLS on versus off, in the same run (issue 18's figure):
// the failover runner (bench/failover/failover_runner.h: SIGKILL of the
// tablet leader's server under a writer of single rows; detection, election,
// client rediscovery, total) against the kmend target
// (bench/failover/kmend_target.h: one master, three tablet servers, a
// one-tablet RF 3 table) in two modes:
//
//   plaintext   no TLS;
//   tls         mutual TLS on every connection (client -> servers, Raft
//               between replicas, tserver -> master heartbeats) and a roles
//               file, so every call's role is checked too.
//
// Rounds alternate the modes' order (plaintext first in odd rounds, TLS
// first in even ones), each round a fresh cluster per mode, so a drift in
// the shared machine's load does not fall on one mode. The table pools every
// trial of a mode: median, min and max.
//
//   bazel test //bench/tls:tls_failover_bench --test_tag_filters=benchmark --test_output=all
//   KMEND_BENCH_ROUNDS (default 2) x KMEND_BENCH_TRIALS per round and mode
//   (default 5), through --test_env or with the built binary.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/failover/failover_runner.h"
#include "bench/failover/kmend_target.h"
#include "lib/rpc/tls.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::bench {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = ::getenv(name);
  return v == nullptr ? fallback : std::max(1, std::atoi(v));
}

struct Stat {
  double median = 0, min = 0, max = 0;
};

Stat Of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {};
  const size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {median, v.front(), v.back()};
}

// One fresh cluster in `tls` mode, `trials` failovers.
absl::StatusOr<FailoverSummary> RunMode(bool tls, int trials) {
  testing::ClusterOptions o;
  o.tls = tls;
  if (tls) {
    o.tls_roles = "kmend-server service\nadmin admin\n";
  } else if (absl::Status s = rpc::SetProcessTls({}); !s.ok()) {
    return s;  // undo an earlier round's TLS in this process
  }
  KmendTarget target(o);
  if (absl::Status s = target.Start(); !s.ok()) return s;
  FailoverOptions fo;
  fo.trials = trials;
  return RunFailoverTrials(&target, fo);
}

int Main() {
  const int rounds = EnvInt("KMEND_BENCH_ROUNDS", 2);
  const int trials = EnvInt("KMEND_BENCH_TRIALS", 5);
  ::unsetenv("KMEND_TEST_TLS");  // each mode chooses for itself
  std::printf("tls_failover_bench: %d rounds x %d trials per mode\n", rounds, trials);
  std::vector<TrialResult> pooled[2];  // [0] plaintext, [1] TLS
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool tls = (r + k) % 2 == 1;
      auto sum = RunMode(tls, trials);
      if (!sum.ok()) {
        std::cerr << (tls ? "tls" : "plaintext") << ", round " << r + 1 << ": " << sum.status()
                  << "\n";
        return 1;
      }
      std::printf("round %d: %s", r + 1, SummaryToText(*sum).c_str());
      std::fflush(stdout);
      for (const TrialResult& t : sum->trials) pooled[tls].push_back(t);
    }
  }
  struct Row {
    const char* what;
    double TrialResult::*field;
  };
  const Row rows[] = {{"T_failover (kill -> first acked write)", &TrialResult::total_ms},
                      {"  detection", &TrialResult::detection_ms},
                      {"  election", &TrialResult::election_ms},
                      {"  client rediscovery", &TrialResult::rediscovery_ms}};
  std::printf("\nms, median [min-max] over %zu plaintext and %zu TLS trials\n", pooled[0].size(),
              pooled[1].size());
  std::printf("%-40s %-22s %-22s %s\n", "figure", "plaintext", "TLS", "change (medians)");
  for (const Row& row : rows) {
    Stat s[2];
    for (int m = 0; m < 2; ++m) {
      std::vector<double> v;
      for (const TrialResult& t : pooled[m]) v.push_back(t.*(row.field));
      s[m] = Of(v);
    }
    std::printf("%-40s %-22s %-22s %+.0f ms\n", row.what,
                absl::StrFormat("%.0f [%.0f-%.0f]", s[0].median, s[0].min, s[0].max).c_str(),
                absl::StrFormat("%.0f [%.0f-%.0f]", s[1].median, s[1].min, s[1].max).c_str(),
                s[1].median - s[0].median);
  }
  return 0;
}

}  // namespace
}  // namespace kmend::bench

int main() { return kmend::bench::Main(); }
