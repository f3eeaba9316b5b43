#include "server/tserver/tablet_replica.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::tserver {
namespace {

constexpr char kGlueMissing[] =
    "the reference server does not yet run Raft or store rows for a replica (issue 5: the "
    "consensus and storage glue attaches in server/tserver/tablet_replica.h)";

int64_t SizeOfTree(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  if (std::filesystem::is_regular_file(path, ec)) {
    auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<int64_t>(n);
  }
  int64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) {
      auto n = it->file_size(fec);
      if (!fec) total += static_cast<int64_t>(n);
    }
  }
  return total;
}

}  // namespace

TabletReplica::TabletReplica(fs::Layout layout, tablet::TabletSuperBlockPB superblock,
                             consensus::ConsensusMetadataPB cmeta)
    : layout_(std::move(layout)),
      tablet_id_(superblock.tablet_id()),
      superblock_(std::move(superblock)),
      cmeta_(std::move(cmeta)) {}

TabletReplica::TabletReplica(fs::Layout layout, std::string tablet_id, std::string reason)
    : layout_(std::move(layout)), tablet_id_(std::move(tablet_id)) {
  failed_ = true;
  failure_reason_ = std::move(reason);
  superblock_.set_tablet_id(tablet_id_);
}

tablet::TabletDataState TabletReplica::data_state() const {
  absl::MutexLock lock(&mu_);
  return failed_ ? tablet::TABLET_DATA_FAILED : superblock_.tablet_data_state();
}

consensus::ConsensusStatePB TabletReplica::ConsensusState() const {
  absl::MutexLock lock(&mu_);
  consensus::ConsensusStatePB cs;
  cs.set_current_term(cmeta_.current_term());
  *cs.mutable_committed_config() = cmeta_.committed_config();
  return cs;
}

int64_t TabletReplica::OnDiskSizeBytes() const {
  return SizeOfTree(layout_.TabletMetaPath(tablet_id_)) +
         SizeOfTree(layout_.ConsensusMetaPath(tablet_id_)) +
         SizeOfTree(layout_.WalDir(tablet_id_));
}

server::ReplicaStatusPB TabletReplica::Status() const {
  server::ReplicaStatusPB s;
  s.set_tablet_id(tablet_id_);
  {
    absl::MutexLock lock(&mu_);
    if (failed_) {
      s.set_data_state(server::TABLET_DATA_FAILED);
      s.set_data_state_reason(failure_reason_);
    } else {
      s.set_table_id(superblock_.table_id());
      s.set_table_name(superblock_.table_name());
      // Same numbers in both enums (proto/status.proto).
      s.set_data_state(static_cast<server::ReplicaDataState>(superblock_.tablet_data_state()));
      if (superblock_.has_failure_reason()) {
        s.set_data_state_reason(superblock_.failure_reason());
      }
      if (superblock_.has_partition()) *s.mutable_partition() = superblock_.partition();
      auto* cs = s.mutable_consensus_state();
      cs->set_current_term(cmeta_.current_term());
      *cs->mutable_committed_config() = cmeta_.committed_config();
      // Role, leader and op ids come from the Raft driver once it runs here;
      // until then they stay unset (unknown), not invented.
      s.set_role(consensus::RaftPeerPB::UNKNOWN_ROLE);
    }
  }
  s.set_on_disk_size_bytes(OnDiskSizeBytes());
  return s;
}

absl::Status TabletReplica::Tombstone(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (failed_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tablet ", tablet_id_, " is FAILED (", failure_reason_,
        "); delete it instead of tombstoning"));
  }
  tablet::TabletSuperBlockPB next = superblock_;
  next.set_tablet_data_state(tablet::TABLET_DATA_TOMBSTONED);
  next.set_failure_reason(reason);
  RETURN_IF_ERROR(pbc::WriteSingleMessageFile(layout_.TabletMetaPath(tablet_id_), next));
  superblock_ = std::move(next);
  std::error_code ec;
  std::filesystem::remove_all(layout_.WalDir(tablet_id_), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("tombstoned tablet ", tablet_id_,
                                            " but could not remove ",
                                            layout_.WalDir(tablet_id_), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status TabletReplica::CheckServing() const {
  absl::MutexLock lock(&mu_);
  if (failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id_, " is FAILED: ", failure_reason_));
  }
  if (superblock_.tablet_data_state() != tablet::TABLET_DATA_READY) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tablet ", tablet_id_, " is not READY (state ",
        tablet::TabletDataState_Name(superblock_.tablet_data_state()), ")"));
  }
  return absl::OkStatus();
}

absl::Status TabletReplica::Write(const WriteRequestPB&, WriteResponsePB*) {
  RETURN_IF_ERROR(CheckServing());
  return absl::UnimplementedError(absl::StrCat("Write to tablet ", tablet_id_, ": ", kGlueMissing));
}

absl::Status TabletReplica::Scan(const ScanRequestPB&, ScanResponsePB*) {
  RETURN_IF_ERROR(CheckServing());
  return absl::UnimplementedError(absl::StrCat("Scan of tablet ", tablet_id_, ": ", kGlueMissing));
}

absl::Status TabletReplica::Checksum(const ChecksumRequestPB&, ChecksumResponsePB*) {
  RETURN_IF_ERROR(CheckServing());
  return absl::UnimplementedError(
      absl::StrCat("Checksum of tablet ", tablet_id_, ": ", kGlueMissing));
}

}  // namespace kmend::tserver
