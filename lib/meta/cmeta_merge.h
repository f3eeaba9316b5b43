// The consensus metadata a replica stores after copying its data from a peer
// (tablet copy between tablet servers, catalog copy between masters, offline
// rebuilds): one rule, decided once (docs/design/tablet_copy.md, "Consensus
// metadata after a copy").
//
//   - committed config and term: the source's, at session begin;
//   - never lower a term this replica has seen: a higher local term wins;
//   - keep the local vote when the term stays the local one, so a replica
//     never votes twice in one term; the source's vote is never copied;
//   - a local file that exists but cannot be read (DataLoss: damaged framing
//     or CRC) is REFUSED, not overwritten. It may hold a higher term and a
//     vote in it; forgetting them could let this replica vote a second time
//     in that term and elect two leaders. Replacing a damaged cmeta is an
//     operator's decision (`kmend cmeta`), never a copy's side effect...
//   - ...except when the operator decided it: `kmend rebuild-replica`
//     passes `unreadable_term_floor` once its term rule passed (or was
//     forced) on the replica's WAL (lib/rebuild/target_term.h). The damaged
//     file is then replaced: term max(source's, floor), no vote. A vote the
//     lost file held in a term later than anything logged is forgotten; the
//     rebuild says so before it runs.
//
// Thread safety: pure function of its inputs (LoadConsensusMeta reads a file).
#ifndef KMEND_LIB_META_CMETA_MERGE_H_
#define KMEND_LIB_META_CMETA_MERGE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::meta {

// The metadata to store for a copied replica (see the file comment).
// `local`: LoadConsensusMeta of the replica's own file: NotFound (none)
// takes the source's term and config as they are; any other error is
// returned, annotated with `local_path` and the refusal.
// `unreadable_term_floor`: see the file comment (nullopt: refuse).
absl::StatusOr<consensus::ConsensusMetadataPB> MergeCopiedConsensusMeta(
    const consensus::ConsensusStatePB& source,
    const absl::StatusOr<consensus::ConsensusMetadataPB>& local, const std::string& local_path,
    std::optional<int64_t> unreadable_term_floor = std::nullopt);

// The same, loading `local_path` (which need not exist).
absl::StatusOr<consensus::ConsensusMetadataPB> MergeCopiedConsensusMeta(
    const consensus::ConsensusStatePB& source, const std::string& local_path,
    std::optional<int64_t> unreadable_term_floor = std::nullopt);

}  // namespace kmend::meta

#endif  // KMEND_LIB_META_CMETA_MERGE_H_
