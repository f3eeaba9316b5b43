// SafetyChecker: the Raft safety properties, checked after every step of a
// simulation (Raft paper figure 3):
//   - election safety: at most one leader per term;
//   - log matching: two persisted logs with an entry of equal index and term
//     are identical up to it;
//   - leader completeness: a newly elected leader's log holds every entry
//     committed in a lower term. The commit term of an applied entry is not
//     observable, so the check uses an upper bound: the highest term any
//     replica had when the entry was first applied; leaders of higher terms
//     must hold it (a leader of a lower term may legitimately win late);
//   - state machine safety: no two replicas apply different entries at one
//     index.
// Violations are collected as text (the first one stops a run).
#ifndef KMEND_TESTING_RAFTSIM_CHECKER_H_
#define KMEND_TESTING_RAFTSIM_CHECKER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "testing/raftsim/sim_node.h"

namespace kmend::raftsim {

class SafetyChecker {
 public:
  // `nodes` must outlive the checker.
  explicit SafetyChecker(const std::vector<SimNode*>* nodes) : nodes_(nodes) {}

  // After `node` handled a Ready.
  void AfterReady(const SimNode& node);
  // After any step: the per-term leader check over all up nodes.
  void CheckLeaders();

  // An unsafe config change deliberately breaks leader completeness for the
  // entries it loses; the unsafe scenario turns that check off.
  void set_check_leader_completeness(bool on) { check_completeness_ = on; }

  // Stops checking a node whose state is deliberately abandoned (the lost
  // majority of an unsafe config change), so that the survivors are checked
  // against each other from now on.
  void Abandon(const std::string& uuid) { abandoned_.insert(uuid); }
  // Starts a new history: forgets applied entries and the leader of every
  // term (an unsafe change may reuse terms the abandoned majority used).
  void StartNewEpoch() {
    applied_.clear();
    applied_term_bound_.clear();
    leader_of_term_.clear();
  }

  bool ok() const { return violations_.empty(); }
  const std::vector<std::string>& violations() const { return violations_; }
  // Entries applied anywhere, by index.
  const std::map<int64_t, std::string>& applied() const { return applied_; }
  int64_t max_applied_index() const {
    return applied_.empty() ? 0 : applied_.rbegin()->first;
  }

 private:
  void Fail(std::string what);

  const std::vector<SimNode*>* nodes_;
  std::map<int64_t, std::string> leader_of_term_;
  std::map<int64_t, std::string> applied_;
  // Per applied index: the highest term of any replica when first applied.
  std::map<int64_t, int64_t> applied_term_bound_;
  bool check_completeness_ = true;
  std::set<std::string> abandoned_;
  std::vector<std::string> violations_;
};

}  // namespace kmend::raftsim

#endif  // KMEND_TESTING_RAFTSIM_CHECKER_H_
