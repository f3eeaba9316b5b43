// Re-replication policy (Kudu's scheme): decides, for one tablet at a time,
// the next step that brings it back to its replication factor of voters
// after a tablet server stayed dead too long:
//   1. ADD_PEER the replacement as NON_VOTER (attrs.promote) on a live
//      server that holds no replica of the tablet (fewest replicas first);
//   2. COPY: tell that server to copy the tablet from the leader (tablet copy)
//      while it does not report the replica;
//   3. PROMOTE it to VOTER (MODIFY_PEER) once it reports the replica READY;
//   4. REMOVE_PEER the dead voter once the config has more than R voters.
// A non-voter on a server that is itself dead too long is removed first;
// one whose copy turned FAILED is removed instead of promoted.
// Each step is a Raft config change proposed through the leader with a
// compare-and-set on the committed config's opid_index, so a step decided
// on a stale view fails harmlessly and is decided again on the next pass.
//
// Pure functions over snapshots: no RPC, no clock; thread-safe.
#ifndef KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_
#define KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_

#include <cstdint>
#include <map>
#include <string>

#include "proto/common.pb.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/status.pb.h"

namespace kmend::master {

// What the policy needs to know about one registered tablet server.
struct ServerView {
  std::string address;  // "host:port"
  bool live = false;
  // A full report arrived since registration (its replica list is current).
  bool reported = false;
  int64_t millis_since_heartbeat = 0;
  // Tablet id -> data state of the replica as last reported.
  std::map<std::string, server::ReplicaDataState> replicas;
};

struct RereplicationAction {
  enum Type { kNone, kAddNonVoter, kCopy, kPromote, kRemove };
  Type type = kNone;
  std::string tablet_id;
  // The peer the step is about (the new replica, or the dead one to remove).
  std::string peer_uuid;
  std::string peer_address;
  // The leader that must propose the change (or serve the copy).
  std::string leader_uuid;
  std::string leader_address;
  // The committed config's opid_index the change is conditioned on.
  int64_t cas_config_opid_index = -1;
  // Why, for the log.
  std::string reason;
};

const char* ActionName(RereplicationAction::Type t);

// The next step for one tablet whose newest committed config is `config`
// (as reported by its leader `leader_uuid`; empty: no known leader, so no
// step). `servers` is every registered server by uuid; a server missing
// from it is never judged dead (the master may have just restarted).
// A server is dead too long when it is not live and silent for at least
// `delay_ms`. `load` (uuid -> replicas assigned) orders target choices.
RereplicationAction NextRereplicationStep(const std::string& tablet_id,
                                          const consensus::RaftConfigPB& config,
                                          const std::string& leader_uuid,
                                          int replication_factor,
                                          const std::map<std::string, ServerView>& servers,
                                          const std::map<std::string, int64_t>& load,
                                          int64_t delay_ms);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_
