// Cluster: N SimNodes over a simulated network, for unit tests (manual
// delivery, message by message) and for the seeded fault simulation
// (simulation.h). All randomness comes from one std::mt19937_64.
//
// Network model: each sent message gets a delivery time (now + delay); it
// may be dropped (loss, a cut link, a down receiver) or duplicated; messages
// due at the same time are delivered in random order (reordering).
//
// Not thread-safe.
#ifndef KMEND_TESTING_RAFTSIM_CLUSTER_H_
#define KMEND_TESTING_RAFTSIM_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "testing/raftsim/checker.h"
#include "testing/raftsim/sim_node.h"

namespace kmend::raftsim {

struct NetworkFaults {
  double loss = 0;       // probability a message is dropped
  double duplicate = 0;  // probability a message is delivered twice
  int delay_min = 0;     // delivery delay, uniform in [delay_min, delay_max]
  int delay_max = 0;     //   time units (none when delay_max is 0)
};

class Cluster {
 public:
  // Nodes `uuids`; the first `voters` of them form the initial config, the
  // rest start with no config (to be added later).
  // With base.quiesce, every node's core also gets the server liveness a
  // tablet server's driver gives it: server_heard_recently(v) is "v's
  // server heard within an election timeout" (check-quorum's second window).
  Cluster(std::vector<std::string> uuids, int voters, uint64_t seed,
          raft::CoreOptions base = DefaultOptions());
  // The nodes' options and the checker point into this object.
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  static raft::CoreOptions DefaultOptions();
  static consensus::RaftConfigPB MakeConfig(const std::vector<std::string>& voters);

  SimNode& node(const std::string& uuid);
  const std::vector<SimNode*>& nodes() const { return node_ptrs_; }
  raft::RaftCore* core(const std::string& uuid) { return node(uuid).core(); }
  SafetyChecker& checker() { return checker_; }
  std::mt19937_64& rng() { return rng_; }
  uint64_t RandomBelow(uint64_t n);
  bool Chance(double p);
  int64_t now() const { return now_; }

  NetworkFaults faults;
  // Probability that handling a Ready crashes the node, half of the time
  // before persisting (only early messages got out), half right after.
  double crash_after_persist = 0;
  // When a leader reports need_tablet_copy for a peer: crash the peer,
  // install a copy of the leader's persisted state and restart it (as the
  // master would); on_tablet_copy(peer) runs afterwards.
  bool auto_tablet_copy = false;
  std::function<void(const std::string&)> on_tablet_copy;
  int64_t tablet_copies() const { return tablet_copies_; }
  // Raft messages the nodes have sent so far (before loss), for tests that
  // count what an idle group costs.
  int64_t messages_sent() const { return messages_sent_; }

  // Handles every pending Ready of every up node (repeatedly), queueing the
  // messages they send.
  void ProcessReadies();
  // Delivers queued messages due now, in random order, then their readies;
  // repeats while new messages are due now (at most `rounds` times).
  void DeliverDue(int rounds = 50);
  // Manual mode (no delay): deliver everything until the cluster is quiet.
  void Stabilize();
  // Ticks every up node once and advances time; then delivers due messages.
  // With CoreOptions::quiesce, also runs the per-server liveness exchange a
  // server would (docs/design/scale.md): every up node pings every other
  // once per tick (lost like messages, blocked by cuts and down nodes), any
  // delivered message counts as heard, and a node reports to its core each
  // watched server silent for kSilentTicks or more.
  void TickAll();
  static constexpr int64_t kSilentTicks = 2;
  // Ticks since `listener` last heard from `speaker` (now() when never).
  int64_t SilentTicks(const std::string& listener, const std::string& speaker) const;
  void Tick(const std::string& uuid);

  // Links.
  void Cut(const std::string& a, const std::string& b);
  // Drops the groups' Raft messages between a and b but lets the servers'
  // liveness pings through: a server too busy to answer its groups, still
  // heard (what check-quorum's second window is for). HealNetwork ends it.
  void CutGroupsOnly(const std::string& a, const std::string& b);
  void Isolate(const std::string& uuid);
  void HealNetwork();
  bool Connected(const std::string& a, const std::string& b) const;

  void Crash(const std::string& uuid);
  void Restart(const std::string& uuid);

  // Drops queued messages matching the predicate (tests).
  void DropQueued(const std::function<bool(const consensus::RaftMessagePB&)>& pred);
  // Rewrites queued messages in place (tests that need a message to carry
  // less than its sender put in, e.g. figure 8 of the Raft paper, where the
  // new leader's appends must travel without the entry of its own term).
  void MutateQueued(const std::function<void(consensus::RaftMessagePB*)>& mutate);
  // Queued messages not yet delivered.
  std::vector<consensus::RaftMessagePB> Queued() const;

  // The up leader with the highest term, or "" if none.
  std::string Leader() const;
  // Proposes a test NO_OP with a payload at `uuid`; the op id or an error.
  absl::StatusOr<consensus::OpId> ProposeAt(const std::string& uuid, const std::string& payload);

 private:
  struct InFlight {
    int64_t deliver_at;
    uint64_t order;
    consensus::RaftMessagePB msg;
  };
  void Enqueue(std::vector<consensus::RaftMessagePB>* msgs);
  void Deliver(const consensus::RaftMessagePB& m);

  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<SimNode*> node_ptrs_;
  std::map<std::string, SimNode*> by_uuid_;
  SafetyChecker checker_;
  std::vector<InFlight> queue_;
  using Cuts = std::set<std::pair<std::string, std::string>>;
  // Whether `cuts` holds the link between a and b, in either direction.
  static bool IsCut(const Cuts& cuts, const std::string& a, const std::string& b);
  Cuts cut_;
  Cuts groups_cut_;
  int64_t now_ = 0;
  uint64_t order_ = 0;
  int64_t tablet_copies_ = 0;
  int64_t messages_sent_ = 0;
  std::map<std::string, size_t> copy_requests_seen_;
  const bool liveness_;  // CoreOptions::quiesce
  // (listener, speaker) -> when the listener last heard from the speaker.
  std::map<std::pair<std::string, std::string>, int64_t> last_heard_;
};

}  // namespace kmend::raftsim

#endif  // KMEND_TESTING_RAFTSIM_CLUSTER_H_
