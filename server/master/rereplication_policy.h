// Re-replication policy (Kudu's scheme): decides, for one tablet at a time,
// the next step that brings it back to its replication factor R of healthy
// voters after a voter went bad. A voter is bad when its server has been
// dead for at least `delay_ms` (unless the server is in maintenance mode),
// or when its live server reports the replica
// FAILED for at least `failed_grace_ms` (the server says so itself, so no
// long wait is needed; the grace only rides out a report taken mid-restart
// or mid-repair), or when its server is live and the leader reports the
// voter FAILED_UNRECOVERABLE: it needs ops the leader garbage-collected from
// its WAL, so it can never catch up and only a new copy helps (no grace:
// the leader only says so once its log lacks them, and that never heals by
// itself). While such a voter's server is down, the dead delay applies
// as for any other. The steps, by priority:
//   1. REMOVE a NON_VOTER whose server is dead too long.
//   2. REMOVE a bad voter once the config has more than R voters.
//   3. DELETE a FAILED replica left on a live server outside the config
//      (after its eviction), so that the server may host the tablet again.
//   4. For the replacement in progress (a NON_VOTER with attrs.promote):
//      COPY the tablet to it from the leader while it holds no data, with at
//      most `max_copies_per_server` copies running into one server;
//      PROMOTE it to VOTER once it is READY *and caught up*: the leader
//      reports it HEALTHY, it committed the config that added it, and its
//      last logged index is within `promote_max_lag_ops` of the leader's
//      committed index. REMOVE it if its copy turned FAILED, if the leader
//      reports it FAILED_UNRECOVERABLE (needs ops the leader no longer has),
//      or if every voter is healthy again.
//   5. When a voter is bad or the config has fewer than R voters:
//      ADD_PEER a replacement NON_VOTER on a live server that holds no
//      replica of the tablet, among servers under the copy limit (running
//      plus waiting copies) and not recently failed for this tablet: fewest
//      replicas first, then smallest uuid.
//   6. Only when no server can take a replacement at all and a bad voter is
//      on a live server (FAILED, or unrecoverable): REMOVE that voter first
//      (evict before add); its server becomes a candidate once its leftover
//      is gone (step 3 deletes a FAILED one; the master's heartbeat answer
//      tombstones a READY one outside the config). Safe: such a voter
//      acknowledges nothing, so removing it never raises the number of
//      acknowledgements a commit needs; and it is done only while the other
//      voters known healthy (the leader; READY on a live server, not bad,
//      not reported FAILED by the leader) form a majority of the config
//      both with and without it, so the removal can commit and the tablet
//      keeps a working majority afterwards. A voter
//      on a dead server is not evicted early: the server may come back and
//      catch up, which beats running with fewer voters (Kudu's choice too).
// Each config step is a Raft config change proposed through the leader with
// a compare-and-set on the committed config's opid_index, and a DELETE
// carries the same bound; a step decided on a stale view fails harmlessly
// and is decided again on a later pass.
//
// Pure functions over snapshots: no RPC, no clock; thread-safe.
// docs/design/server.md, "Re-replication".
#ifndef KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_
#define KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "proto/common.pb.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/status.pb.h"

namespace kmend::master {

// One replica as its server last reported it.
struct ReplicaView {
  ReplicaView() = default;
  // Implicit: most uses only care about the data state.
  ReplicaView(server::ReplicaDataState s) : state(s) {}  // NOLINT
  server::ReplicaDataState state = server::TABLET_DATA_UNKNOWN;
  // Raft progress as reported (-1: not reported, e.g. not running Raft).
  int64_t last_logged_index = -1;
  int64_t last_committed_index = -1;
  // How long this master has seen it FAILED without a break (0 otherwise).
  int64_t failed_for_ms = 0;
};

// What the policy needs to know about one registered tablet server.
struct ServerView {
  std::string address;  // "host:port"
  bool live = false;
  // A full report arrived since registration (its replica list is current).
  bool reported = false;
  int64_t millis_since_heartbeat = 0;
  // In maintenance mode (`kmend tserver maintenance enter`): however long it
  // is silent, its voters are not bad for that (a planned restart); a
  // replica it reports FAILED still is.
  bool in_maintenance = false;
  // Tablet id -> the replica as last reported.
  std::map<std::string, ReplicaView> replicas;
  // Tablet copies into this server: running now (started by this master or
  // reported COPYING), and waiting to start (a NON_VOTER replacement placed
  // here that holds no data yet).
  int copies_running = 0;
  int copies_waiting = 0;
  // Tablets whose copy into this server failed recently (FAILED data, the
  // copy call failed, or the leader could not catch it up): not a target
  // for them again until the master's backoff ends.
  std::set<std::string> recent_copy_failures;
  // A data directory is below its reserve: it refuses new replicas.
  bool disk_full = false;
};

struct RereplicationParams {
  int replication_factor = 3;
  // A server silent this long has its voters replaced.
  int64_t delay_ms = 60000;
  // A replica reported FAILED this long (on a live server) is replaced.
  int64_t failed_grace_ms = 3000;
  // Incoming copies per tablet server, running and waiting (Kudu's
  // --max_concurrent_tablet_copies_per_tserver, enforced from the master).
  int max_copies_per_server = 2;
  // Promotion gate: the NON_VOTER's last logged index may trail the
  // leader's committed index by at most this many ops. The two come from
  // heartbeats taken at different moments, so 0 would starve a busy tablet.
  int64_t promote_max_lag_ops = 20;
};

struct RereplicationAction {
  enum Type { kNone, kAddNonVoter, kCopy, kPromote, kRemove, kDeleteFailed };
  Type type = kNone;
  std::string tablet_id;
  // The peer the step is about (the new replica, the bad one to remove, or
  // the server holding the FAILED leftover to delete).
  std::string peer_uuid;
  std::string peer_address;
  // The leader that must propose the change (or serve the copy).
  std::string leader_uuid;
  std::string leader_address;
  // The committed config's opid_index the change is conditioned on (for
  // kDeleteFailed: the replica's own config may be at most this).
  int64_t cas_config_opid_index = -1;
  // Why, for the log (also set for kNone when something is being waited on).
  std::string reason;
  // kNone only: a replacement is under way and waits for progress (its
  // server's report, a copy slot, the copy itself, the catch-up), so looking
  // again after the next heartbeats may find the next step.
  bool in_progress = false;
  // kRemove only: the peer removed is a replacement whose copy did not work
  // out (the executor then avoids that server for this tablet a while).
  bool copy_failed = false;
};

const char* ActionName(RereplicationAction::Type t);

// Why a voter counts as bad (empty: it does not). Exposed for the executor's
// logs and for tests.
std::string BadVoterReason(const std::string& tablet_id, const std::string& uuid,
                           const std::map<std::string, ServerView>& servers,
                           const RereplicationParams& params);

// The next step for one tablet whose newest committed config is `config`
// (as reported by its leader `leader_uuid`; empty: no known leader, so no
// step). `servers` is every registered server by uuid; a server missing
// from it is never judged dead (the master may have just restarted).
// `load` (uuid -> replicas assigned) orders target choices.
RereplicationAction NextRereplicationStep(const std::string& tablet_id,
                                          const consensus::RaftConfigPB& config,
                                          const std::string& leader_uuid,
                                          const std::map<std::string, ServerView>& servers,
                                          const std::map<std::string, int64_t>& load,
                                          const RereplicationParams& params);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_REREPLICATION_POLICY_H_
