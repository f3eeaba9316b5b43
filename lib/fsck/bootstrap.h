// "Can this tablet bootstrap?", answered offline with the code the tablet
// server runs at start-up (server/tserver TabletReplica::Start):
//   1. the WAL must read without a problem (what wal::Log::Open's recovery
//      requires: wal::ReadLog stopping at the first problem; a torn tail in
//      the last segment is fine, recovery cuts it);
//   2. raft::RaftCore::Create must accept the consensus metadata (term, vote,
//      committed config) with the superblock's last flushed op as the applied
//      index, over the WAL's entries (the checks RaftDriver::Init makes:
//      config index and applied index not past the log's end, valid config);
//   3. blocks + WAL must cover every op: the WAL's first entry is at most one
//      past the last flushed op. The server itself does not check this (the
//      core quietly treats the log's start as applied), so a gap would start
//      a replica that silently lacks rows; fsck calls it out.
// The replay itself (applying entries to the memstore) cannot fail on sound
// entries, so it is not repeated.
//
// Thread safety: BootstrapLog is filled from one thread; CheckBootstrap is a
// pure function.
#ifndef KMEND_LIB_FSCK_BOOTSTRAP_H_
#define KMEND_LIB_FSCK_BOOTSTRAP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/fsck/report.h"
#include "proto/consensus.pb.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/tablet_metadata.pb.h"

namespace kmend::fsck {

// The parts of a WAL the start-up checks look at: every REPLICATE entry's op
// id and config change (write payloads are dropped, so a large WAL costs
// little memory), and the first problem a strict read would stop at.
struct BootstrapLog {
  std::vector<consensus::ReplicateMsg> entries;  // payloads stripped
  std::string first_problem;                     // empty: the log reads cleanly
  bool readable = true;                          // false: the WAL could not be read at all

  // Keeps what the checks need of `msg`.
  void Add(const consensus::ReplicateMsg& msg);
};

// Runs the checks above. `cmeta` is absent when the file could not be loaded
// (then the answer is "no"). `self_uuid` is the server's uuid.
BootstrapReport CheckBootstrap(const std::string& tablet_id, const std::string& self_uuid,
                               const tablet::TabletSuperBlockPB& superblock,
                               const std::optional<consensus::ConsensusMetadataPB>& cmeta,
                               const BootstrapLog& log);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_BOOTSTRAP_H_
