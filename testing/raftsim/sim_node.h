// SimNode: one replica in the simulation: a RaftCore plus what a real server
// would keep on disk (log, hard state, committed config), kept in memory.
// Crash() drops everything volatile; Restart() rebuilds the core only from
// the "disk", exactly as a server restarts from its WAL and cmeta.
//
// Not thread-safe; owned by Cluster.
#ifndef KMEND_TESTING_RAFTSIM_SIM_NODE_H_
#define KMEND_TESTING_RAFTSIM_SIM_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "lib/raft/core.h"
#include "lib/raft/log_storage.h"
#include "lib/util/fnv1a.h"

namespace kmend::raftsim {

class SimNode {
 public:
  SimNode(std::string uuid, raft::CoreOptions options,
          consensus::RaftConfigPB initial_config);

  const std::string& uuid() const { return uuid_; }
  bool up() const { return core_ != nullptr; }
  raft::RaftCore* core() { return core_.get(); }
  const raft::RaftCore* core() const { return core_.get(); }

  // (Re)creates the core from the persisted state with a new seed.
  absl::Status Start(uint64_t seed);
  void Crash();

  // Where ProcessReady crashes the node, if at all.
  enum class CrashPoint {
    kNone,
    kBeforePersist,  // only early_messages got out; nothing persisted
    kAfterPersist,   // persisted, but nothing sent or applied
  };
  // Handles one Ready if there is one, following ready.h's order (early
  // messages first); the messages to send are appended to *out. Returns
  // false when there was no Ready.
  bool ProcessReady(std::vector<consensus::RaftMessagePB>* out, CrashPoint crash);

  // Persisted state, for checkers and tests.
  const raft::MemoryLogStorage& storage() const { return storage_; }
  raft::MemoryLogStorage* mutable_storage() { return &storage_; }
  const raft::HardState& hard_state() const { return hard_state_; }
  const consensus::RaftConfigPB& cmeta_config() const { return cmeta_config_; }
  // prefix_hash(i): a hash of entries [1, i] of the persisted log, for i in
  // [FirstIndex() - 1, LastIndex()].
  uint64_t prefix_hash(int64_t index) const;

  // Entries applied since the last start (volatile state machine).
  const std::vector<consensus::ReplicateMsg>& applied() const { return applied_; }
  // Indexes [lo, hi] of entries newly persisted by the last ProcessReady
  // (lo > hi when none).
  int64_t last_persisted_lo() const { return last_persisted_lo_; }
  int64_t last_persisted_hi() const { return last_persisted_hi_; }
  // Entries applied by the last ProcessReady.
  const std::vector<consensus::ReplicateMsg>& last_applied() const { return last_applied_; }
  // Role reported by the last Ready's soft state, if it changed.
  bool became_leader() const { return became_leader_; }
  // The core's events (raft::Ready::events) since the last TakeEvents (or
  // since the node was made), in order.
  std::vector<std::string> TakeEvents() { return std::exchange(events_, {}); }
  // Every need_tablet_copy peer the core reported, in order.
  const std::vector<std::string>& tablet_copy_requests() const { return copy_requests_; }

  // A tablet copy from `source` (down or up): replaces this node's log and
  // committed config with the source's persisted ones, keeps our term if
  // higher. The node must be down; Start() it afterwards.
  void InstallTabletCopy(const SimNode& source);

  // Log GC: drops persisted entries through `index` (must be <= the applied
  // index, as a server only GCs what its tablet flushed).
  absl::Status CompactThrough(int64_t index);

 private:
  std::string uuid_;
  raft::CoreOptions options_;
  raft::MemoryLogStorage storage_;
  std::vector<uint64_t> prefix_hashes_;  // parallel to storage_ entries
  // prefix_hash(FirstIndex() - 1): hashes always cover the log from index 1,
  // also after log GC and tablet copies, so any two nodes compare.
  uint64_t base_hash_ = kFnv1aOffset;
  raft::HardState hard_state_;
  consensus::RaftConfigPB cmeta_config_;
  std::unique_ptr<raft::RaftCore> core_;
  std::vector<consensus::ReplicateMsg> applied_;
  std::vector<consensus::ReplicateMsg> last_applied_;
  int64_t last_persisted_lo_ = 1;
  int64_t last_persisted_hi_ = 0;
  bool became_leader_ = false;
  std::vector<std::string> events_;
  std::vector<std::string> copy_requests_;
};

// A stable identity of an entry for safety checks: term, index and bytes.
std::string EntryKey(const consensus::ReplicateMsg& e);

}  // namespace kmend::raftsim

#endif  // KMEND_TESTING_RAFTSIM_SIM_NODE_H_
