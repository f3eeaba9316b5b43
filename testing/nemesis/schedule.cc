#include "testing/nemesis/schedule.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace kmend::nemesis {

const char* FaultName(FaultKind k) {
  switch (k) {
    case FaultKind::kIsolateLeader:
      return "isolate-leader";
    case FaultKind::kIsolateNode:
      return "isolate";
    case FaultKind::kSplitLeader:
      return "split-leader|followers";
    case FaultKind::kSplitMasterMinority:
      return "split-2|3-master-minority";
    case FaultKind::kSplitMasterMajority:
      return "split-2|3-master-majority";
    case FaultKind::kOneWay:
      return "one-way";
    case FaultKind::kLoss:
      return "loss";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kKill9:
      return "kill-9";
    case FaultKind::kStopCont:
      return "sigstop";
    case FaultKind::kRestart:
      return "restart";
  }
  return "?";
}

std::string FaultStep::ToString() const {
  std::string s = FaultName(kind);
  switch (kind) {
    case FaultKind::kIsolateNode:
    case FaultKind::kSlow:
    case FaultKind::kKill9:
    case FaultKind::kStopCont:
    case FaultKind::kRestart:
    case FaultKind::kSplitMasterMinority:
    case FaultKind::kSplitMasterMajority:
      absl::StrAppend(&s, " node=", node);
      if (kind == FaultKind::kSplitMasterMajority) absl::StrAppend(&s, ",", node2);
      break;
    case FaultKind::kOneWay:
      absl::StrAppend(&s, " ", node, "->", node2);
      break;
    case FaultKind::kLoss:
      absl::StrAppend(&s, " node=", node, " ", percent, "%");
      break;
    default:
      break;
  }
  absl::StrAppend(&s, " hold=", hold_ms, "ms rest=", rest_ms, "ms");
  return s;
}

std::vector<FaultStep> MakeSchedule(uint64_t seed, int steps, int num_tservers) {
  // Raw engine output mapped by modulo: std distributions differ across
  // standard libraries, and a seed must replay everywhere.
  std::mt19937_64 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto tserver = [&] { return 1 + pick(num_tservers); };
  static constexpr FaultKind kFirst[] = {FaultKind::kIsolateLeader, FaultKind::kSplitLeader,
                                         FaultKind::kSplitMasterMinority,
                                         FaultKind::kSplitMasterMajority};
  std::vector<FaultStep> out;
  for (int i = 0; i < steps; ++i) {
    FaultStep f;
    int k = i < 4 ? static_cast<int>(kFirst[(i + seed) % 4]) : pick(11);
    f.kind = static_cast<FaultKind>(k);
    f.node = tserver();
    f.node2 = tserver();
    while (f.node2 == f.node) f.node2 = tserver();
    if (f.kind == FaultKind::kOneWay && pick(2) == 0) std::swap(f.node, f.node2);
    if (f.kind == FaultKind::kIsolateNode && pick(4) == 0) f.node = 0;  // the master
    f.percent = 10 + pick(4) * 10;
    f.hold_ms = 2000 + pick(4) * 1000;
    f.rest_ms = 1000 + pick(3) * 500;
    out.push_back(f);
  }
  return out;
}

}  // namespace kmend::nemesis
