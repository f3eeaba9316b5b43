#include "server/master/raft_catalog_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "proto/write_ops.pb.h"
#include "server/common/logger.h"

namespace kmend::master {
namespace {

// The one row of the sys-catalog tablet: key column, value column.
constexpr char kCatalogRowKey[] = "catalog";
// Rejections remembered for waiting Saves (a Save looks its index up right
// after it is applied, so a few suffice).
constexpr size_t kMaxRejectedRemembered = 64;

std::string OpIdString(const consensus::OpId& id) {
  return absl::StrCat(id.term(), ".", id.index());
}

}  // namespace

consensus::ReplicateMsg EncodeCatalogEntry(const SysCatalogPB& catalog) {
  SysCatalogPB copy = catalog;
  copy.clear_applied_index();
  consensus::ReplicateMsg msg;
  msg.set_op_type(consensus::WRITE_OP);
  RowOpPB* op = msg.mutable_kmend_write()->add_ops();
  op->set_type(RowOpPB::UPSERT);
  op->add_cells()->set_string_value(kCatalogRowKey);
  copy.SerializeToString(op->add_cells()->mutable_string_value());
  return msg;
}

absl::StatusOr<SysCatalogPB> DecodeCatalogEntry(const consensus::ReplicateMsg& msg) {
  std::string where = absl::StrCat("sys catalog entry ", OpIdString(msg.id()));
  if (msg.op_type() != consensus::WRITE_OP || !msg.has_kmend_write()) {
    return absl::DataLossError(absl::StrCat(where, ": expected a WRITE_OP with kmend_write, found op type ",
                                            consensus::OperationType_Name(msg.op_type())));
  }
  const WriteOpsPB& w = msg.kmend_write();
  if (w.ops_size() != 1) {
    return absl::DataLossError(
        absl::StrCat(where, ": expected 1 row operation, found ", w.ops_size()));
  }
  const RowOpPB& op = w.ops(0);
  if (op.type() != RowOpPB::UPSERT || op.cells_size() != 2 ||
      !op.cells(0).has_string_value() || op.cells(0).string_value() != kCatalogRowKey ||
      !op.cells(1).has_string_value()) {
    return absl::DataLossError(absl::StrCat(
        where, ": expected UPSERT ('", kCatalogRowKey, "', <SysCatalogPB>), found ",
        RowOpPB::Type_Name(op.type()), " with ", op.cells_size(), " cells"));
  }
  SysCatalogPB catalog;
  if (!catalog.ParseFromString(op.cells(1).string_value())) {
    return absl::DataLossError(absl::StrCat(where, ": value (", op.cells(1).string_value().size(),
                                            " bytes) does not parse as SysCatalogPB"));
  }
  return catalog;
}

absl::StatusOr<std::unique_ptr<RaftCatalogStore>> RaftCatalogStore::Open(
    std::string snapshot_path, absl::Duration save_timeout) {
  std::unique_ptr<RaftCatalogStore> store(
      new RaftCatalogStore(std::move(snapshot_path), save_timeout));
  absl::Status s = store->ReloadSnapshotFile();
  if (!s.ok()) return s;
  return store;
}

absl::Status RaftCatalogStore::ReloadSnapshotFile() {
  SysCatalogPB loaded;
  if (!snapshot_path_.empty() && io::FileExists(snapshot_path_)) {
    absl::Status s = pbc::ReadSingleMessageFile(snapshot_path_, &loaded);
    if (!s.ok()) return s;
  }
  const int64_t index = loaded.applied_index();
  const bool needs_base_entry =
      loaded.version() > 0 && (index == 0 || loaded.needs_base_entry());
  loaded.clear_applied_index();
  loaded.clear_needs_base_entry();
  absl::MutexLock l(&mu_);
  if (driver_ != nullptr) {
    return absl::FailedPreconditionError("reloading the catalog snapshot while a driver applies");
  }
  snapshot_index_ = index;
  applied_ = std::move(loaded);
  applied_index_ = index;
  durable_snapshot_index_ = index;
  needs_base_entry_ = needs_base_entry;
  rejected_.clear();
  return absl::OkStatus();
}

int64_t RaftCatalogStore::snapshot_index() const {
  absl::MutexLock l(&mu_);
  return snapshot_index_;
}

void RaftCatalogStore::SetDriver(consensus_driver::RaftDriver* driver) {
  absl::MutexLock l(&mu_);
  driver_ = driver;
}

void RaftCatalogStore::Apply(const consensus::ReplicateMsg& msg) {
  const int64_t index = msg.id().index();
  if (msg.op_type() != consensus::WRITE_OP) {
    // NO_OPs of new leaders, config changes: no catalog state.
    absl::MutexLock l(&mu_);
    applied_index_ = index;
    return;
  }
  absl::StatusOr<SysCatalogPB> next = DecodeCatalogEntry(msg);
  absl::MutexLock l(&mu_);
  applied_index_ = index;
  absl::Status why;
  if (!next.ok()) {
    why = next.status();
  } else if (next->base_entry() ? next->version() <= applied_.version()
                                 : next->version() != applied_.version() + 1) {
    why = absl::AbortedError(absl::StrCat(
        "sys catalog entry ", OpIdString(msg.id()), ": catalog version ", next->version(),
        next->base_entry() ? " (base entry) is not above" : " does not follow",
        " the applied version ", applied_.version()));
  }
  if (!why.ok()) {
    // Deterministic on every master: same log, same state, same verdict.
    KLOG(WARNING) << "rejected: " << why;
    rejected_.insert(index);
    while (rejected_.size() > kMaxRejectedRemembered) rejected_.erase(rejected_.begin());
    return;
  }
  next->clear_base_entry();
  applied_ = std::move(*next);
  needs_base_entry_ = false;  // the applied catalog is now a log entry's
}

absl::Status RaftCatalogStore::WriteSnapshot() {
  if (snapshot_path_.empty()) return absl::OkStatus();
  absl::MutexLock writer(&snapshot_mu_);
  SysCatalogPB snapshot;
  {
    absl::MutexLock l(&mu_);
    if (applied_index_ == durable_snapshot_index_) return absl::OkStatus();
    // Everything through applied_index_ is applied and applied_ is the
    // result: a consistent pair.
    snapshot = applied_;
    snapshot.set_applied_index(applied_index_);
    if (needs_base_entry_) snapshot.set_needs_base_entry(true);
  }
  absl::Status s = pbc::WriteSingleMessageFile(snapshot_path_, snapshot);
  if (!s.ok()) {
    // The WAL still holds the entries (GC never passes the durable snapshot):
    // a restart replays them from the older snapshot.
    return absl::Status(s.code(), absl::StrCat("writing the catalog snapshot ", snapshot_path_,
                                               " at index ", snapshot.applied_index(), ": ",
                                               s.message()));
  }
  absl::MutexLock l(&mu_);
  durable_snapshot_index_ = snapshot.applied_index();
  return absl::OkStatus();
}

int64_t RaftCatalogStore::durable_snapshot_index() const {
  absl::MutexLock l(&mu_);
  return snapshot_path_.empty() ? applied_index_ : durable_snapshot_index_;
}

int64_t CatalogLogRetentionIndex(const raft::RaftStatus& status, int64_t durable_snapshot_index,
                                 int64_t retained_entries, int64_t max_entries_retained_for_peers) {
  int64_t keep = durable_snapshot_index + 1 - retained_entries;
  if (status.role == raft::Role::kLeader) {
    const int64_t peer_floor = keep - max_entries_retained_for_peers;
    for (const raft::PeerStatus& p : status.peers) {
      if (p.uuid == status.uuid || p.state == raft::PeerStatus::State::kNeedsTabletCopy) continue;
      keep = std::min(keep, std::max(p.match_index + 1, peer_floor));
    }
  }
  return std::max<int64_t>(keep, 1);
}

absl::StatusOr<SysCatalogPB> RaftCatalogStore::Load() {
  absl::MutexLock l(&mu_);
  return applied_;
}

SysCatalogPB RaftCatalogStore::applied() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

SysCatalogPB RaftCatalogStore::AppliedWithIndex() const {
  absl::MutexLock l(&mu_);
  SysCatalogPB c = applied_;
  c.set_applied_index(applied_index_);
  return c;
}

int64_t RaftCatalogStore::applied_index() const {
  absl::MutexLock l(&mu_);
  return applied_index_;
}

bool RaftCatalogStore::needs_base_entry() const {
  absl::MutexLock l(&mu_);
  return needs_base_entry_;
}

absl::Status RaftCatalogStore::WriteBaseEntryIfNeeded() {
  SysCatalogPB base;
  {
    absl::MutexLock l(&mu_);
    if (!needs_base_entry_) return absl::OkStatus();
    base = applied_;
  }
  base.set_version(base.version() + 1);
  base.set_base_entry(true);
  KLOG(INFO) << "the applied catalog (version " << base.version() - 1
             << ") is not in the sys catalog log: writing it as base entry version "
             << base.version();
  return Save(base);
}

absl::Status RaftCatalogStore::Save(const SysCatalogPB& catalog) {
  consensus_driver::RaftDriver* driver;
  {
    absl::MutexLock l(&mu_);
    driver = driver_;
  }
  if (driver == nullptr) return absl::UnavailableError("the sys catalog is not open yet");
  absl::StatusOr<consensus::OpId> id = driver->Propose(EncodeCatalogEntry(catalog));
  if (!id.ok()) {
    // Nothing was appended: not the leader (or leadership in transfer).
    return absl::UnavailableError(
        absl::StrCat("catalog change not proposed: ", id.status().message()));
  }
  absl::Status s = driver->WaitForApplied(*id, save_timeout_);
  if (!s.ok()) {
    // Aborted: another leader's entry took the index; DeadlineExceeded or a
    // shutdown: the entry may still commit. Either way the applied catalog
    // may differ from what the caller holds.
    needs_reload_ = true;
    return absl::UnavailableError(absl::StrCat("catalog change ", OpIdString(*id),
                                               " not applied: ", s.message()));
  }
  absl::MutexLock l(&mu_);
  if (rejected_.erase(id->index()) > 0) {
    needs_reload_ = true;
    return absl::UnavailableError(absl::StrCat(
        "catalog change ", OpIdString(*id), " (version ", catalog.version(),
        ") was rejected: the applied catalog is at version ", applied_.version(),
        "; the master reloads it, try again"));
  }
  return absl::OkStatus();
}

}  // namespace kmend::master
