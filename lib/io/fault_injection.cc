#include "lib/io/fault_injection.h"

#include <algorithm>
#include <map>

namespace kmend::io {

ScopedFaultInjector::ScopedFaultInjector() { sys::SetFaultInjector(this); }

ScopedFaultInjector::~ScopedFaultInjector() { sys::SetFaultInjector(nullptr); }

void ScopedFaultInjector::Add(FaultRule rule) {
  absl::MutexLock l(&mu_);
  rules_.push_back(ActiveRule{std::move(rule)});
}

std::vector<SeenCall> ScopedFaultInjector::calls() const {
  absl::MutexLock l(&mu_);
  return calls_;
}

void ScopedFaultInjector::ClearCalls() {
  absl::MutexLock l(&mu_);
  calls_.clear();
}

int ScopedFaultInjector::faults_injected() const {
  absl::MutexLock l(&mu_);
  return faults_;
}

std::optional<sys::Fault> ScopedFaultInjector::Before(sys::Op op, const std::string& path) {
  absl::MutexLock l(&mu_);
  std::optional<sys::Fault> out;
  for (ActiveRule& r : rules_) {
    if (r.rule.op != op || path.find(r.rule.path_contains) == std::string::npos) continue;
    if (r.matched++ < r.rule.skip) continue;
    if (r.rule.times >= 0 && r.fired >= r.rule.times) continue;
    ++r.fired;
    out = r.rule.fault;
    break;
  }
  if (out) ++faults_;
  calls_.push_back(SeenCall{op, path, out.has_value()});
  return out;
}

std::vector<FaultRule> RulesFailingEachCall(const std::vector<SeenCall>& calls,
                                            const std::vector<sys::Op>& ops,
                                            const sys::Fault& fault) {
  std::vector<FaultRule> out;
  std::map<sys::Op, int> ordinal;
  for (const SeenCall& c : calls) {
    const int n = ordinal[c.op]++;
    if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) continue;
    FaultRule r;
    r.op = c.op;
    r.skip = n;
    r.times = 1;
    r.fault = fault;
    out.push_back(r);
  }
  return out;
}

}  // namespace kmend::io
