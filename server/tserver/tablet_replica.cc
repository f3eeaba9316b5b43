#include "server/tserver/tablet_replica.h"

#include <algorithm>
#include <optional>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "lib/consensus/random_seed.h"
#include "lib/format/pb_container.h"
#include "lib/fs/space_reserve.h"
#include "lib/io/file.h"
#include "lib/raft/config.h"
#include "lib/rpc/status_payloads.h"
#include "lib/tablet/row.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"
#include "server/common/logger.h"
#include "lib/tablet_copy/copy_client.h"
#include "server/tserver/maintenance_policy.h"

namespace kmend::tserver {
namespace {

// Bound on remembered write results: a Write reads its own within moments of
// the apply, so only a window of recent ops is kept.
constexpr size_t kMaxRememberedResults = 4096;
// Rows per Scan response when the request names no limit.
constexpr size_t kDefaultScanLimit = 1000;

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
      cmeta_(std::move(cmeta)) {
  RefreshOnDiskSize();
}

TabletReplica::TabletReplica(fs::Layout layout, std::string tablet_id, std::string reason)
    : layout_(std::move(layout)), tablet_id_(std::move(tablet_id)) {
  failed_ = true;
  failure_reason_ = std::move(reason);
  superblock_.set_tablet_id(tablet_id_);
  RefreshOnDiskSize();
}

TabletReplica::~TabletReplica() { Shutdown(); }

namespace {

// ENOSPC (and EDQUOT) surface as RESOURCE_EXHAUSTED (io::ErrnoError): the
// one storage failure that clears by itself once space is freed.
bool IsOutOfSpace(const absl::Status& s) {
  return s.code() == absl::StatusCode::kResourceExhausted;
}

}  // namespace

absl::Status TabletReplica::Start(const ReplicaRuntime& runtime) {
  absl::MutexLock lock(&mu_);
  runtime_ = runtime;
  runtime_.defer_wal_recovery_sync = false;  // only the server's start-up batch defers
  if (failed_ || driver_ != nullptr) return absl::OkStatus();
  absl::Status s = StartLocked(runtime);
  if (!s.ok()) {
    if (IsOutOfSpace(s)) {
      // A condition that clears (issue 19): not persisted as FAILED.
      storage_error_ = s;
      KLOG(WARNING) << "tablet " << tablet_id_ << " cannot start for lack of space, retried by "
                    << "maintenance: " << s;
    } else {
      MarkFailedLocked(s);
    }
  }
  return s;
}

absl::Status TabletReplica::RecoverStorageLocked() {
  std::shared_ptr<consensus_driver::RaftDriver> driver;
  {
    absl::MutexLock lock(&mu_);
    driver = driver_;
  }
  if (driver != nullptr) {
    absl::Status health = driver->health();
    if (health.ok()) return absl::OkStatus();
    KLOG(ERROR) << "tablet " << tablet_id_ << ": " << health
                << "; stopping it, to re-open it from disk as after a crash";
    StopRaftLocked();
    absl::MutexLock lock(&mu_);
    storage_error_ = health;
  }
  absl::MutexLock lock(&mu_);
  if (storage_error_.ok() || failed_ || driver_ != nullptr) return absl::OkStatus();
  absl::Status s = StartLocked(runtime_);
  if (s.ok()) {
    KLOG(INFO) << "tablet " << tablet_id_ << " re-opened from disk after: " << storage_error_;
    storage_error_ = absl::OkStatus();
    return absl::OkStatus();
  }
  if (IsOutOfSpace(s)) {
    storage_error_ = s;
    return s;
  }
  storage_error_ = absl::OkStatus();
  MarkFailedLocked(s);
  return s;
}

absl::Status TabletReplica::StartLocked(const ReplicaRuntime& runtime) {
  if (superblock_.tablet_data_state() == tablet::TABLET_DATA_COPYING) {
    // A copy that never finished: its data cannot be trusted. A resumable
    // one (a rebuild's, with a journal) keeps its verified blocks and stays
    // COPYING, never served, until the rebuild is run again. Otherwise
    // recovery removes its WAL and temp files and the blocks it recorded, and
    // leaves it TOMBSTONED; the master copies the replica again if still
    // wanted.
    absl::StatusOr<bool> kept =
        tablet_copy::KeepInterruptedCopyForResume(layout_.root(), tablet_id_);
    if (kept.ok() && *kept) {
      KLOG(WARNING) << "tablet " << tablet_id_
                    << " was COPYING at start-up (interrupted rebuild): kept for a resume; run "
                       "`kmend rebuild-replica` again to finish it";
      return absl::OkStatus();
    }
    KLOG(WARNING) << "tablet " << tablet_id_
                  << " was COPYING at start-up (interrupted copy): recovering to TOMBSTONED";
    RETURN_IF_ERROR(Annotate(
        tablet_copy::RecoverInterruptedCopy(layout_.root(), tablet_id_, runtime.block_manager),
        absl::StrCat("tablet ", tablet_id_, ": recovering an interrupted copy")));
    ASSIGN_OR_RETURN(superblock_, tablet::LoadSuperBlock(layout_, tablet_id_));
    ++superblock_loads_;
    return absl::OkStatus();
  }
  if (superblock_.tablet_data_state() != tablet::TABLET_DATA_READY) return absl::OkStatus();

  ASSIGN_OR_RETURN(std::unique_ptr<tablet::Tablet> opened,
                   tablet::Tablet::Open(layout_, runtime.block_manager, tablet_id_));
  std::shared_ptr<tablet::Tablet> tab = std::move(opened);

  consensus_driver::DriverOptions opt;
  opt.core.tablet_id = tablet_id_;
  opt.core.self_uuid = runtime.server_uuid;
  opt.core.election_ticks = runtime.election_ticks;
  opt.core.max_election_backoff = runtime.max_election_backoff;
  opt.core.max_inflight_messages = runtime.max_inflight_appends;
  opt.core.random_seed = consensus_driver::ReplicaRandomSeed(runtime.server_uuid, tablet_id_);
  opt.tick_interval = runtime.tick_interval;
  opt.core.quiesce = runtime.raft_quiesce;
  opt.liveness = runtime.liveness;
  opt.reachable = runtime.reachable;
  opt.wal_dir = layout_.WalDir(tablet_id_);
  opt.wal_options.segment_size_bytes = runtime.wal_segment_size_bytes;
  opt.wal_options.sync_recovered_footer = !runtime.defer_wal_recovery_sync;
  opt.cmeta_path = layout_.ConsensusMetaPath(tablet_id_);
  opt.bootstrap_config = cmeta_.committed_config();
  // Bootstrap: the rows hold everything through the last flush; the driver
  // replays the WAL and applies committed entries after that again.
  opt.applied_index = tab->applied_op_index();
  opt.apply = [this](const consensus::ReplicateMsg& msg) { ApplyEntry(msg); };
  // ApplyEntry of a write only touches memory (a flush it asks for runs on
  // the maintenance thread): light Readies may run on the gRPC thread that
  // received the message (lib/consensus/raft_driver.h); with a round
  // worker, only while it is idle.
  opt.scheduler = runtime.scheduler;
  opt.inline_light_readies = true;
  opt.log_event = [id = tablet_id_](const std::string& e) {
    KLOG(INFO) << "tablet " << id << ": " << e;
  };

  tablet_ = tab;
  absl::StatusOr<std::unique_ptr<consensus_driver::RaftDriver>> d =
      consensus_driver::RaftDriver::Open(std::move(opt), runtime.transport);
  if (!d.ok()) {
    tablet_.reset();
    return Annotate(d.status(), absl::StrCat("tablet ", tablet_id_, ": opening Raft (WAL, cmeta)"));
  }
  std::shared_ptr<consensus_driver::RaftDriver> driver = *std::move(d);
  absl::Status reg = runtime.router->Register(
      tablet_id_, [driver](const consensus::RaftMessagePB& m) { return driver->Receive(m); });
  if (!reg.ok()) {
    driver->Shutdown();
    tablet_.reset();
    return reg;
  }
  driver_ = driver;
  KLOG(INFO) << "tablet " << tablet_id_ << " started: " << tab->CountRows() << " rows through op "
             << tab->applied_op_index();
  return absl::OkStatus();
}

void TabletReplica::MarkFailedLocked(const absl::Status& why) {
  failed_ = true;
  failure_reason_ = std::string(why.message());
  KLOG(ERROR) << "tablet " << tablet_id_ << " FAILED: " << failure_reason_;
  // Persist it when the superblock can still be written, so that tools and
  // a restart see FAILED too; otherwise the state lives in memory only.
  absl::Status s =
      tablet::SetDataState(layout_, tablet_id_, tablet::TABLET_DATA_FAILED, failure_reason_);
  if (!s.ok()) KLOG(WARNING) << "tablet " << tablet_id_ << ": could not persist FAILED: " << s;
}

void TabletReplica::Shutdown() {
  absl::MutexLock maint(&maint_mu_);  // no flush or GC in progress after this
  StopRaftLocked();
}

void TabletReplica::StopRaftLocked() {
  std::shared_ptr<consensus_driver::RaftDriver> driver;
  RaftRouter* router = nullptr;
  {
    absl::MutexLock lock(&mu_);
    driver = std::move(driver_);
    driver_.reset();
    router = runtime_.router;
  }
  if (driver != nullptr) {
    // Without mu_: the driver's Ready thread may be waiting for mu_ in
    // ApplyEntry, and driver->Shutdown() joins it. Unregister first: it
    // waits for deliveries in flight, after which no message reaches the
    // driver.
    if (router != nullptr) router->Unregister(tablet_id_);
    driver->Shutdown();
  }
  absl::MutexLock lock(&mu_);
  tablet_.reset();
}

void TabletReplica::ApplyEntry(const consensus::ReplicateMsg& msg) {
  std::shared_ptr<tablet::Tablet> tab;
  std::function<void(const consensus::RaftConfigPB&)> on_config;
  std::function<void()> request_maintenance;
  uint64_t flush_threshold_bytes;
  int64_t flush_threshold_rows;
  {
    absl::MutexLock lock(&mu_);
    tab = tablet_;
    on_config = runtime_.on_config;
    request_maintenance = runtime_.request_maintenance;
    flush_threshold_bytes = runtime_.flush_threshold_bytes;
    flush_threshold_rows = runtime_.flush_threshold_rows;
  }
  if (tab == nullptr) return;
  const int64_t index = msg.id().index();
  if (index <= tab->applied_op_index()) return;  // already in the rows (flushed)
  if (msg.op_type() == consensus::WRITE_OP) {
    absl::StatusOr<tablet::ApplyResult> r = tab->Apply(msg.kmend_write(), index);
    if (!r.ok()) {
      KLOG(ERROR) << "tablet " << tablet_id_ << ": applying op " << index << ": " << r.status();
      return;
    }
    absl::MutexLock lock(&results_mu_);
    results_[index] = *std::move(r);
    while (results_.size() > kMaxRememberedResults) results_.erase(results_.begin());
  } else {
    absl::Status s = tab->MarkApplied(index);
    if (!s.ok()) KLOG(ERROR) << "tablet " << tablet_id_ << ": op " << index << ": " << s;
    if (msg.op_type() == consensus::CHANGE_CONFIG_OP && on_config) {
      on_config(msg.change_config_record().new_config());
    }
  }
  // The flush itself runs on the maintenance thread, not on this (the Raft
  // Ready) thread: writes keep being applied and acknowledged meanwhile.
  if (request_maintenance && (tab->memstore_bytes() >= flush_threshold_bytes ||
                              tab->memstore_entries() >= flush_threshold_rows)) {
    request_maintenance();
  }
}

absl::Status TabletReplica::RunMaintenance(bool force_flush) {
  absl::MutexLock maint(&maint_mu_);
  RETURN_IF_ERROR(RecoverStorageLocked());
  if (anchors_ > 0) return absl::OkStatus();  // a copy session reads the current files
  std::shared_ptr<tablet::Tablet> tab;
  std::shared_ptr<consensus_driver::RaftDriver> driver;
  ReplicaRuntime runtime;
  {
    absl::MutexLock lock(&mu_);
    tab = tablet_;
    driver = driver_;
    runtime = runtime_;
  }
  if (tab == nullptr || driver == nullptr) return absl::OkStatus();
  const absl::Time now = absl::Now();
  if (last_flush_time_ == absl::InfinitePast()) last_flush_time_ = now;
  FlushFacts facts;
  facts.forced = force_flush;
  facts.applied_index = tab->applied_op_index();
  facts.last_flushed_index = tab->last_flushed_op_index();
  facts.memstore_bytes = tab->memstore_bytes();
  facts.memstore_entries = tab->memstore_entries();
  facts.since_last_flush = now - last_flush_time_;
  if (const wal::Log* wal = driver->wal(); wal != nullptr) {
    facts.wal_has_older_segments = wal->NumSegments() >= 2;
  }
  FlushPolicy policy;
  policy.threshold_bytes = runtime.flush_threshold_bytes;
  policy.threshold_rows = runtime.flush_threshold_rows;
  policy.interval = runtime.flush_interval;
  if (ShouldFlush(facts, policy)) {
    absl::StatusOr<tablet::FlushResult> f = tab->Flush();
    const absl::Time end = absl::Now();
    if (!f.ok()) return Annotate(f.status(), absl::StrCat("tablet ", tablet_id_, ": flush"));
    last_flush_time_ = end;
    if (f->flushed) {
      files_epoch_.fetch_add(1, std::memory_order_release);
      absl::MutexLock l(&stats_mu_);
      ++stats_.flushes;
      stats_.rows_flushed += f->rows;
      stats_.bytes_flushed += f->bytes_written;
      stats_.flush_seconds += absl::ToDoubleSeconds(end - now);
      KLOG(INFO) << "tablet " << tablet_id_ << ": flushed " << f->rows << " rows through op "
                 << f->flushed_op_index << " (" << f->blocks_written << " blocks, "
                 << f->bytes_written << " bytes) in " << absl::FormatDuration(end - now);
    }
  }
  return GarbageCollectWalLocked(*tab, *driver, runtime);
}

absl::Status TabletReplica::GarbageCollectWalLocked(const tablet::Tablet& tab,
                                                    consensus_driver::RaftDriver& driver,
                                                    const ReplicaRuntime& runtime) {
  const int64_t flushed = tab.last_flushed_op_index();
  const wal::Log* wal = driver.wal();
  if (flushed <= 0 || wal == nullptr) return absl::OkStatus();
  // The decision is maintenance_policy.h's (WalRetentionIndex); these are
  // its facts.
  RetentionFacts facts;
  facts.flushed_index = flushed;
  facts.wal_first_index = wal->FirstIndex();
  facts.wal_last_index = wal->LastOpId().index();
  const raft::RaftStatus rs = driver.GetStatus();
  for (const raft::PeerStatus& p : rs.peers) {
    if (p.uuid == rs.uuid) continue;
    facts.peers.push_back(
        {p.match_index, p.state == raft::PeerStatus::State::kNeedsTabletCopy});
  }
  facts.segment_of = [wal](int64_t index) -> std::optional<uint64_t> {
    absl::StatusOr<wal::EntryLocation> at = wal->Locate(index);
    if (!at.ok()) return std::nullopt;
    return at->segment_sequence_number;
  };
  const std::optional<int64_t> bound =
      WalRetentionIndex(facts, runtime.wal_max_segments_retained_for_peers);
  if (!bound) return absl::OkStatus();
  const int64_t retention = *bound;
  absl::StatusOr<int> deleted = driver.GarbageCollectLog(retention);
  if (!deleted.ok()) {
    return Annotate(deleted.status(),
                    absl::StrCat("tablet ", tablet_id_, ": WAL GC below op ", retention));
  }
  if (*deleted > 0) files_epoch_.fetch_add(1, std::memory_order_release);
  absl::MutexLock l(&stats_mu_);
  stats_.wal_segments_deleted += *deleted;
  stats_.last_gc_retention_index = retention;
  if (*deleted > 0) {
    KLOG(INFO) << "tablet " << tablet_id_ << ": deleted " << *deleted
               << " WAL segments below op " << retention << " (flushed through " << flushed
               << ")";
  }
  return absl::OkStatus();
}

TabletReplica::MaintenanceStats TabletReplica::maintenance_stats() const {
  absl::MutexLock l(&stats_mu_);
  return stats_;
}

std::shared_ptr<void> TabletReplica::AnchorForCopy(std::shared_ptr<TabletReplica> replica) {
  {
    absl::MutexLock maint(&replica->maint_mu_);  // waits for a flush in progress
    ++replica->anchors_;
  }
  TabletReplica* raw = replica.get();
  return std::shared_ptr<void>(raw, [replica = std::move(replica)](void*) {
    absl::MutexLock maint(&replica->maint_mu_);
    --replica->anchors_;
  });
}

tablet::TabletDataState TabletReplica::data_state() const {
  absl::MutexLock lock(&mu_);
  return failed_ ? tablet::TABLET_DATA_FAILED : superblock_.tablet_data_state();
}

consensus::ConsensusStatePB TabletReplica::ConsensusState() const {
  absl::MutexLock lock(&mu_);
  if (driver_ != nullptr) return driver_->GetStatus().ToConsensusStatePB();
  consensus::ConsensusStatePB cs;
  cs.set_current_term(cmeta_.current_term());
  *cs.mutable_committed_config() = cmeta_.committed_config();
  return cs;
}

void TabletReplica::FillConsensusState(ReplicaConsensusStatePB* out) const {
  absl::MutexLock lock(&mu_);
  if (driver_ == nullptr) {
    out->mutable_cstate()->set_current_term(cmeta_.current_term());
    *out->mutable_cstate()->mutable_committed_config() = cmeta_.committed_config();
    return;
  }
  raft::RaftStatus rs = driver_->GetStatus();
  *out->mutable_cstate() = rs.ToConsensusStatePB();
  *out->mutable_last_logged_opid() = rs.last_logged;
  *out->mutable_last_committed_opid() = rs.committed;
  out->set_leader_lease_active(rs.leader_lease);
  if (rs.ticks_since_leader_contact >= 0) {
    out->set_ms_since_leader_contact(rs.ticks_since_leader_contact *
                                     absl::ToInt64Milliseconds(runtime_.tick_interval));
  }
  out->set_quiesced(rs.quiesced);
}

std::optional<consensus::OpId> TabletReplica::LastLoggedOpId() const {
  absl::MutexLock lock(&mu_);
  if (failed_) return std::nullopt;
  if (driver_ != nullptr) return driver_->GetStatus().last_logged;
  if (superblock_.has_tombstone_last_logged_opid()) return superblock_.tombstone_last_logged_opid();
  return std::nullopt;
}

int64_t TabletReplica::OnDiskSizeBytes() const {
  return SizeOfTree(layout_.TabletMetaPath(tablet_id_)) +
         SizeOfTree(layout_.ConsensusMetaPath(tablet_id_)) + SizeOfTree(layout_.WalDir(tablet_id_));
}

void TabletReplica::FillSchema(server::ReplicaStatusPB* out) const {
  absl::MutexLock lock(&mu_);
  if (failed_) return;
  *out->mutable_schema() = superblock_.schema();
  if (superblock_.has_partition_schema()) {
    *out->mutable_partition_schema() = superblock_.partition_schema();
  }
  if (superblock_.has_num_replicas()) out->set_num_replicas(superblock_.num_replicas());
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
      if (superblock_.has_failure_reason()) s.set_data_state_reason(superblock_.failure_reason());
      if (superblock_.has_partition()) *s.mutable_partition() = superblock_.partition();
      if (driver_ != nullptr) {
        raft::RaftStatus rs = driver_->GetStatus();
        *s.mutable_consensus_state() = rs.ToConsensusStatePB();
        const consensus::RaftConfigPB& active =
            rs.pending_config ? *rs.pending_config : rs.committed_config;
        if (rs.role == raft::Role::kLeader) {
          s.set_role(consensus::RaftPeerPB::LEADER);
        } else if (!raft::IsMember(active, rs.uuid)) {
          s.set_role(consensus::RaftPeerPB::NON_PARTICIPANT);
        } else if (!raft::IsVoter(active, rs.uuid)) {
          s.set_role(consensus::RaftPeerPB::LEARNER);
        } else {
          s.set_role(consensus::RaftPeerPB::FOLLOWER);
        }
        *s.mutable_last_logged_opid() = rs.last_logged;
        *s.mutable_last_committed_opid() = rs.committed;
        consensus::OpId applied;
        applied.set_index(rs.applied_index);
        // The applied entry's term is the committed one's when they coincide;
        // otherwise it is not tracked here and left 0.
        applied.set_term(rs.applied_index == rs.committed.index() ? rs.committed.term() : 0);
        *s.mutable_last_applied_opid() = applied;
      } else {
        // Not running Raft (e.g. TOMBSTONED): what is persisted, role unknown.
        auto* cs = s.mutable_consensus_state();
        cs->set_current_term(cmeta_.current_term());
        *cs->mutable_committed_config() = cmeta_.committed_config();
        s.set_role(consensus::RaftPeerPB::UNKNOWN_ROLE);
      }
    }
  }
  {
    // A replica that cannot persist is not healthy, whatever Raft says.
    absl::MutexLock lock(&mu_);
    absl::Status storage = storage_error_;
    if (storage.ok() && driver_ != nullptr) storage = driver_->health();
    if (!failed_ && !storage.ok()) {
      s.set_data_state(server::TABLET_DATA_FAILED);
      s.set_data_state_reason(absl::StrCat(
          "storage failed, re-opened from disk once it works again: ", storage.message()));
    }
  }
  {
    absl::MutexLock lock(&size_mu_);
    s.set_on_disk_size_bytes(on_disk_size_bytes_);
  }
  return s;
}

TabletReplica::StatusKey TabletReplica::GetStatusKey() const {
  StatusKey k;
  {
    absl::MutexLock lock(&mu_);
    k.driver = driver_.get();
    // Read after driver_ under mu_: Status() reads the driver after its own
    // look at mu_, so a change in between shows in the next key.
    if (driver_ != nullptr) k.driver_activity = driver_->activity();
    k.failed = failed_;
    k.storage_error = static_cast<int>(storage_error_.code());
    k.data_state = static_cast<int>(superblock_.tablet_data_state());
    k.superblock_loads = superblock_loads_;
  }
  absl::MutexLock lock(&size_mu_);
  k.on_disk_size_bytes = on_disk_size_bytes_;
  return k;
}

void TabletReplica::RefreshOnDiskSize(absl::Duration max_age) {
  // What can change the files: the driver's activity (WAL appends, cmeta)
  // and the maintenance's flushes and WAL GC (files_epoch_). An idle
  // replica's files do not change, so its periodic re-measure is skipped:
  // walking thousands of idle replicas' files every 10 s was a tenth of an
  // idle server's CPU (issue 15).
  SizeKey key;
  {
    absl::MutexLock lock(&mu_);
    key.driver = driver_.get();
    if (driver_ != nullptr) key.driver_activity = driver_->activity();
  }
  key.files_epoch = files_epoch_.load(std::memory_order_acquire);
  {
    absl::MutexLock lock(&size_mu_);
    const absl::Time now = absl::Now();
    if (now - size_measured_ < max_age) return;
    // Files changed behind kmend's back (an operator's tool) still show
    // within kMaxSkippedMeasures' age.
    constexpr absl::Duration kMaxSkippedMeasures = absl::Minutes(10);
    if (max_age > absl::ZeroDuration() && size_key_ && *size_key_ == key &&
        now - size_walked_ < kMaxSkippedMeasures) {
      size_measured_ = now;
      return;
    }
  }
  // Measured without the lock: a Status meanwhile reports the previous size.
  const int64_t size = OnDiskSizeBytes();
  absl::MutexLock lock(&size_mu_);
  on_disk_size_bytes_ = size;
  size_measured_ = size_walked_ = absl::Now();
  size_key_ = key;
}

absl::Status TabletReplica::Tombstone(const std::string& reason, bool even_if_failed) {
  absl::MutexLock maint(&maint_mu_);  // no flush may write a superblock after ours
  {
    absl::MutexLock lock(&mu_);
    if (failed_ && !even_if_failed) {
      return absl::FailedPreconditionError(absl::StrCat("tablet ", tablet_id_, " is FAILED (",
                                                        failure_reason_,
                                                        "); delete it instead of tombstoning"));
    }
  }
  StopRaftLocked();
  absl::MutexLock lock(&mu_);
  // One atomic superblock write, TOMBSTONED with the reason (for operators
  // reading status or the file); with a block manager the row blocks are
  // deleted after it (a crash in between leaves them in orphaned_blocks).
  if (runtime_.block_manager != nullptr) {
    RETURN_IF_ERROR(tablet::Tablet::Tombstone(layout_, runtime_.block_manager, tablet_id_,
                                              /*last_logged_opid=*/nullptr, reason));
  } else {
    RETURN_IF_ERROR(
        tablet::SetDataState(layout_, tablet_id_, tablet::TABLET_DATA_TOMBSTONED, reason));
  }
  ASSIGN_OR_RETURN(superblock_, tablet::LoadSuperBlock(layout_, tablet_id_));
  ++superblock_loads_;
  std::error_code ec;
  std::filesystem::remove_all(layout_.WalDir(tablet_id_), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("tombstoned tablet ", tablet_id_,
                                            " but could not remove ", layout_.WalDir(tablet_id_),
                                            ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<consensus_driver::RaftDriver>> TabletReplica::driver() const {
  RETURN_IF_ERROR(CheckServing());
  absl::MutexLock lock(&mu_);
  if (driver_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id_, " is not running Raft on this server"));
  }
  return driver_;
}

absl::Status TabletReplica::CheckServing() const {
  absl::MutexLock lock(&mu_);
  if (failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id_, " is FAILED: ", failure_reason_));
  }
  if (!storage_error_.ok()) {
    std::string free_space;
    absl::StatusOr<io::FilesystemSpace> space = io::GetFilesystemSpace(layout_.root());
    if (space.ok()) {
      free_space = absl::StrCat(" (", space->available_bytes, " bytes free in ", layout_.root(), ")");
    }
    // Same code as the error that stopped it (RESOURCE_EXHAUSTED when the
    // disk is full), so clients can tell a full disk from a broken replica.
    return absl::Status(storage_error_.code(),
                        absl::StrCat("tablet ", tablet_id_, " cannot write: ",
                                     storage_error_.message(), free_space,
                                     "; it re-opens by itself once storage works again"));
  }
  if (superblock_.tablet_data_state() != tablet::TABLET_DATA_READY) {
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id_, " is not READY (state ",
                     tablet::TabletDataState_Name(superblock_.tablet_data_state()), ")"));
  }
  return absl::OkStatus();
}

std::shared_ptr<tablet::Tablet> TabletReplica::CurrentTablet() const {
  absl::MutexLock lock(&mu_);
  return tablet_;
}

absl::Status TabletReplica::NotLeaderError(const consensus_driver::RaftDriver& d,
                                           const char* what) const {
  raft::RaftStatus rs = d.GetStatus();
  absl::Status s = absl::FailedPreconditionError(
      absl::StrCat(what, " tablet ", tablet_id_, ": this replica is not the leader (leader: ",
                   rs.leader_uuid.empty() ? "unknown" : rs.leader_uuid, ", term ", rs.term, ")"));
  rpc::SetLeaderHint(&s, rs.leader_uuid);  // clients follow it without parsing the text
  return s;
}

absl::Status TabletReplica::Write(const WriteRequestPB& req, WriteResponsePB* resp) {
  absl::Notification done;
  absl::Status out;
  WriteAsync(req, resp, [&](absl::Status s) {
    out = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

void TabletReplica::WriteAsync(const WriteRequestPB& req, WriteResponsePB* resp,
                               std::function<void(absl::Status)> done) {
  absl::StatusOr<std::shared_ptr<consensus_driver::RaftDriver>> driver_or = driver();
  if (!driver_or.ok()) return done(driver_or.status());
  std::shared_ptr<consensus_driver::RaftDriver> d = *std::move(driver_or);
  absl::Duration timeout;
  int64_t reserved_bytes;
  {
    absl::MutexLock lock(&mu_);
    timeout = runtime_.write_timeout;
    reserved_bytes = runtime_.fs_reserved_bytes;
  }
  // A full disk refuses the write before it is logged (issue 19): the
  // reserve stays for metadata and the flush that frees WAL space. A
  // follower answers "not the leader" first, so clients find the leader
  // (asked only when the disk is full: Propose says it otherwise).
  if (absl::Status full = fs::CheckSpaceFor(layout_.root(), reserved_bytes,
                                            absl::StrCat("write to tablet ", tablet_id_));
      !full.ok()) {
    if (d->GetStatus().role != raft::Role::kLeader) return done(NotLeaderError(*d, "Write to"));
    return done(full);
  }
  consensus::ReplicateMsg msg;
  msg.set_op_type(consensus::WRITE_OP);
  *msg.mutable_kmend_write() = req.ops();
  // The caller's thread (a gRPC callback thread, or a waiting Write) logs
  // and sends the entry itself when the group is idle, rather than waking a
  // Raft worker: one hand-off less per write (docs/design/raft_transport.md).
  absl::StatusOr<consensus::OpId> id = d->Propose(std::move(msg), /*run_ready_here=*/true);
  if (!id.ok()) {
    if (absl::IsFailedPrecondition(id.status())) return done(NotLeaderError(*d, "Write to"));
    return done(Annotate(id.status(), absl::StrCat("Write to tablet ", tablet_id_)));
  }
  // Answered from the apply (issue 15): no thread waits for the commit.
  // The caller keeps this replica alive until `done` runs (the driver's
  // Shutdown answers every waiter before the replica goes).
  const consensus::OpId op = *id;
  d->NotifyWhenApplied(op, absl::Now() + timeout,
                       [this, op, resp, done = std::move(done)](absl::Status s) {
                         if (!s.ok()) {
                           return done(Annotate(s, absl::StrCat("Write to tablet ", tablet_id_)));
                         }
                         *resp->mutable_op_id() = op;
                         done(TakeWriteResult(op.index(), resp));
                       });
}

absl::Status TabletReplica::TakeWriteResult(int64_t index, WriteResponsePB* resp) {
  absl::MutexLock lock(&results_mu_);
  auto it = results_.find(index);
  if (it == results_.end()) {
    // Applied but already forgotten: cannot happen within the bound unless
    // thousands of ops overtook this one.
    return absl::InternalError(absl::StrCat("Write to tablet ", tablet_id_, ": op ", index,
                                            " applied but its row results were dropped"));
  }
  const tablet::ApplyResult& r = it->second;
  resp->set_rows_applied(r.rows_applied);
  for (size_t i = 0; i < r.row_status.size(); ++i) {
    if (r.row_status[i].ok()) continue;
    auto* e = resp->add_row_errors();
    e->set_row_index(static_cast<int32_t>(i));
    e->set_message(std::string(r.row_status[i].message()));
  }
  results_.erase(it);
  return absl::OkStatus();
}

absl::Status TabletReplica::Scan(const ScanRequestPB& req, ScanResponsePB* resp) {
  ASSIGN_OR_RETURN(std::shared_ptr<consensus_driver::RaftDriver> d, driver());
  // Linearizable leader reads: only within the leader's lease and once it
  // applied its term's first entry (docs/design/raft.md, "Leader reads").
  if (absl::Status read = d->CheckLeaderRead(); !read.ok()) {
    if (absl::IsFailedPrecondition(read)) return NotLeaderError(*d, "Scan of");
    return Annotate(read, absl::StrCat("Scan of tablet ", tablet_id_));
  }
  std::shared_ptr<tablet::Tablet> tab = CurrentTablet();
  if (tab == nullptr) return absl::FailedPreconditionError("tablet is shutting down");
  tablet::ScanSpec spec;
  spec.start_key = req.start_key();
  if (req.has_resume_after_key()) {
    spec.start_key = req.resume_after_key() + std::string(1, '\0');
  }
  spec.end_key = req.end_key();
  resp->set_snapshot_op_index(tab->applied_op_index());
  if (req.count_only()) {
    // Count in pages so that a large tablet is never copied out whole.
    int64_t n = 0;
    spec.limit = 100000;
    while (true) {
      tablet::ScanResult r = tab->Scan(spec);
      n += static_cast<int64_t>(r.rows.size());
      if (!r.more) break;
      spec.start_key = r.last_key + std::string(1, '\0');
    }
    resp->set_row_count(n);
    return absl::OkStatus();
  }
  spec.limit = req.limit() > 0 ? static_cast<size_t>(req.limit()) : kDefaultScanLimit;
  tablet::ScanResult r = tab->Scan(spec);
  for (const tablet::Row& row : r.rows) {
    RowPB* out = resp->add_rows();
    for (const tablet::Value& v : row) *out->add_cells() = tablet::CellFromValue(v);
  }
  resp->set_row_count(static_cast<int64_t>(r.rows.size()));
  if (r.more) {
    resp->set_has_more(true);
    resp->set_last_key(r.last_key);
  }
  return absl::OkStatus();
}

absl::Status TabletReplica::Checksum(const ChecksumRequestPB& req, ChecksumResponsePB* resp) {
  RETURN_IF_ERROR(CheckServing());
  std::shared_ptr<tablet::Tablet> tab = CurrentTablet();
  if (tab == nullptr) return absl::FailedPreconditionError("tablet is not open");
  tablet::TabletChecksum c = tab->Checksum();
  if (req.has_op_index() && c.applied_op_index != req.op_index()) {
    // Only the current state is kept, so a checksum "as of" another index
    // cannot be computed; the caller asks again (ksck retries until its
    // deadline, then reports the replica UNKNOWN).
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id_, " has applied through op ", c.applied_op_index,
                     ", checksum requested as of op ", req.op_index()));
  }
  resp->set_digest(c.digest);
  resp->set_op_index(c.applied_op_index);
  resp->set_row_count(c.row_count);
  return absl::OkStatus();
}

}  // namespace kmend::tserver
