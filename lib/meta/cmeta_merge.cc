#include "lib/meta/cmeta_merge.h"

#include "absl/strings/str_cat.h"
#include "lib/meta/cmeta.h"

namespace kmend::meta {

absl::StatusOr<consensus::ConsensusMetadataPB> MergeCopiedConsensusMeta(
    const consensus::ConsensusStatePB& source,
    const absl::StatusOr<consensus::ConsensusMetadataPB>& local, const std::string& local_path,
    std::optional<int64_t> unreadable_term_floor) {
  consensus::ConsensusMetadataPB merged;
  *merged.mutable_committed_config() = source.committed_config();
  merged.set_current_term(source.current_term());
  if (absl::IsNotFound(local.status())) return merged;
  if (!local.ok() && unreadable_term_floor.has_value() && absl::IsDataLoss(local.status())) {
    // The operator's rebuild decided it (file comment): no vote.
    if (*unreadable_term_floor > merged.current_term()) {
      merged.set_current_term(*unreadable_term_floor);
    }
    return merged;
  }
  if (!local.ok()) {
    // Never guess a term (file comment): the caller's copy fails instead.
    return absl::Status(
        local.status().code(),
        absl::StrCat("refusing to replace the local consensus metadata ", local_path,
                     " after a copy: it cannot be read, and the term and vote it may hold must "
                     "not be forgotten (repair or remove it with kmend cmeta first): ",
                     local.status().message()));
  }
  if (local->current_term() > merged.current_term()) {
    merged.set_current_term(local->current_term());
  }
  if (local->current_term() == merged.current_term() && local->has_voted_for()) {
    merged.set_voted_for(local->voted_for());
  }
  return merged;
}

absl::StatusOr<consensus::ConsensusMetadataPB> MergeCopiedConsensusMeta(
    const consensus::ConsensusStatePB& source, const std::string& local_path,
    std::optional<int64_t> unreadable_term_floor) {
  return MergeCopiedConsensusMeta(source, LoadConsensusMeta(local_path), local_path,
                                  unreadable_term_floor);
}

}  // namespace kmend::meta
