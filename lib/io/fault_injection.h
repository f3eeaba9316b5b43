// A scripted FaultInjector for tests: "fail the 3rd write to a path
// containing 'wal-' with ENOSPC", plus a record of every call it saw, so a
// test can first run an operation clean, list the calls it made, then re-run
// it once per call with that call failing (every persistence path under every
// failure, as LevelDB's fault-injection tests do).
#ifndef KMEND_LIB_IO_FAULT_INJECTION_H_
#define KMEND_LIB_IO_FAULT_INJECTION_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lib/io/syscalls.h"

namespace kmend::io {

struct FaultRule {
  sys::Op op = sys::Op::kWrite;
  // The rule matches calls whose path contains this ("" matches every path).
  std::string path_contains;
  // Matching calls let through before the first fault.
  int skip = 0;
  // Faults to inject after that; -1 = every later matching call.
  int times = 1;
  sys::Fault fault;
};

struct SeenCall {
  sys::Op op;
  std::string path;
  bool faulted = false;
};

// Installs itself on construction, removes itself on destruction: one per
// process at a time.
class ScopedFaultInjector : public sys::FaultInjector {
 public:
  ScopedFaultInjector();
  ~ScopedFaultInjector() override;
  ScopedFaultInjector(const ScopedFaultInjector&) = delete;
  ScopedFaultInjector& operator=(const ScopedFaultInjector&) = delete;

  void Add(FaultRule rule);
  // Every call seen since construction (or the last ClearCalls), in order.
  std::vector<SeenCall> calls() const;
  void ClearCalls();
  int faults_injected() const;

  std::optional<sys::Fault> Before(sys::Op op, const std::string& path) override;

 private:
  struct ActiveRule {
    FaultRule rule;
    int matched = 0;
    int fired = 0;
  };
  mutable absl::Mutex mu_;
  std::vector<ActiveRule> rules_ ABSL_GUARDED_BY(mu_);
  std::vector<SeenCall> calls_ ABSL_GUARDED_BY(mu_);
  int faults_ ABSL_GUARDED_BY(mu_) = 0;
};

// One rule per call of `calls` whose op is in `ops`, each failing exactly
// that call with `fault`: the call is named by its op and its ordinal among
// the calls of that op (paths hold random names), so the rule hits the same
// call when the operation is repeated from the same state. The order of
// calls an operation makes must not depend on timing for this to hold.
std::vector<FaultRule> RulesFailingEachCall(const std::vector<SeenCall>& calls,
                                            const std::vector<sys::Op>& ops,
                                            const sys::Fault& fault);

}  // namespace kmend::io

#endif  // KMEND_LIB_IO_FAULT_INJECTION_H_
