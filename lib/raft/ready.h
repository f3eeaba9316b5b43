// Ready: the batch of obligations the core hands to its driver (etcd's
// Ready). The driver must, in this order:
//   0. (may) send early_messages at once: a leader's append requests, which
//      promise nothing about its own log; the leader replicates in parallel
//      with its own fsync (Raft thesis 10.2.1) and counts itself towards a
//      commit only once Advance() confirms its entries are persisted;
//   1. if truncate_after is set, discard every persisted entry with index >
//      *truncate_after;
//   2. durably persist hard_state (if set) and append `entries` (if any) -
//      both before step 3, since messages may promise them (a vote, an
//      acknowledged append);
//   3. persist committed_config (if set) to the consensus metadata;
//   4. send `messages` (and early_messages if not sent in step 0);
//   5. apply committed_entries in order (they are always already persisted,
//      so they may also be applied before steps 1-4, right after GetReady,
//      unless truncate_after or committed_config is set: the driver does,
//      to answer clients before the Ready's own fsync);
//   6. start tablet copies for need_tablet_copy (optional, asynchronous);
// and may log `events` at any point (the driver logs them first, so an
// election whose persist then fails is in the log);
//   7. call RaftCore::Advance().
// Between GetReady() and Advance() the driver may keep calling Step, Tick and
// Propose; whatever they produce goes into the next Ready.
#ifndef KMEND_LIB_RAFT_READY_H_
#define KMEND_LIB_RAFT_READY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/consensus.pb.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/raft.pb.h"

namespace kmend::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

// What Raft must persist before answering anyone (Raft figure 2).
struct HardState {
  int64_t term = 0;
  std::string voted_for;  // empty: none in this term
  bool operator==(const HardState& o) const {
    return term == o.term && voted_for == o.voted_for;
  }
  bool operator!=(const HardState& o) const { return !(*this == o); }
};

// Volatile state, reported when it changes (for logs and the server).
struct SoftState {
  Role role = Role::kFollower;
  std::string leader_uuid;
  bool operator==(const SoftState& o) const {
    return role == o.role && leader_uuid == o.leader_uuid;
  }
  bool operator!=(const SoftState& o) const { return !(*this == o); }
};

struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<HardState> hard_state;
  std::optional<int64_t> truncate_after;
  std::vector<consensus::ReplicateMsg> entries;
  std::vector<consensus::RaftMessagePB> early_messages;
  std::vector<consensus::RaftMessagePB> messages;
  std::vector<consensus::ReplicateMsg> committed_entries;
  std::optional<consensus::RaftConfigPB> committed_config;
  // Peers whose next needed entry the leader's log no longer holds.
  std::vector<std::string> need_tablet_copy;
  // Elections and leadership changes since the last Ready, one sentence
  // each, for the server's log (lib/raft/core_events.cc; optional to use).
  std::vector<std::string> events;

  // True when entries or hard state need an fsync before messages go out.
  bool MustSync() const {
    return hard_state.has_value() || !entries.empty() || truncate_after.has_value();
  }
  bool Empty() const {
    return !soft_state && !hard_state && !truncate_after && entries.empty() &&
           early_messages.empty() && messages.empty() && committed_entries.empty() && !committed_config &&
           need_tablet_copy.empty() && events.empty();
  }
};

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_READY_H_
