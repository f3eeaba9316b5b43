// Consensus metadata: one replica's persisted Raft term, vote and committed
// config, the file <root>/consensus-meta/<tablet_id>
// (docs/formats/consensus_metadata.md). A single-message PB container of
// kmend.consensus.ConsensusMetadataPB, field-compatible with Kudu's
// kudu.consensus.ConsensusMetadataPB, so Kudu's cmeta files load too.
//
// Durability: StoreConsensusMeta replaces the file atomically (temp file,
// fsync, rename, fsync dir); a crash leaves the old or the new file. Raft
// requires a term or vote to be stored before any message that depends on it
// is sent; callers sequence that.
//
// Thread safety: free functions without shared state; callers serialize
// writes to one file.
#ifndef KMEND_LIB_META_CMETA_H_
#define KMEND_LIB_META_CMETA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/format/pb_container_verify.h"
#include "lib/fs/layout.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::meta {

// <root>/consensus-meta/<tablet_id>
std::string ConsensusMetaPath(absl::string_view root, absl::string_view tablet_id);

// Reads and parses the file; DataLoss naming path, offset and field when it
// is damaged, NotFound when it does not exist.
absl::StatusOr<consensus::ConsensusMetadataPB> LoadConsensusMeta(const std::string& path);

// Writes `cmeta` atomically and durably, replacing any existing file. The
// runtime-only peer health reports are not persisted. InvalidArgument if a
// required field is missing. The parent directory must exist.
absl::Status StoreConsensusMeta(const std::string& path,
                                const consensus::ConsensusMetadataPB& cmeta);

// Problems in a well-framed cmeta that Raft cannot live with: a negative
// term, a peer without a uuid, duplicate peers, no voter. Empty if sound.
std::vector<std::string> CheckConsensusMeta(const consensus::ConsensusMetadataPB& cmeta);

struct CmetaVerifyResult {
  pbc::VerifyResult file;             // framing and CRCs
  std::vector<std::string> problems;  // CheckConsensusMeta, wrong type, extra records
  bool ok() const { return file.state == pbc::VerifyResult::State::kOk && problems.empty(); }
};

// Verifies framing and every CRC (offsets in file.problem_offset), then the
// content. An error status only when the file cannot be read at all.
absl::StatusOr<CmetaVerifyResult> VerifyConsensusMeta(const std::string& path);

// Parses "uuid@host:port[,uuid@host:port...]" into a config of VOTER peers.
// InvalidArgument naming the bad item (empty uuid/host, bad or zero port,
// duplicate uuid).
absl::StatusOr<consensus::RaftConfigPB> ParsePeerList(absl::string_view spec);

}  // namespace kmend::meta

#endif  // KMEND_LIB_META_CMETA_H_
