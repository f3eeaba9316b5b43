#include "server/tserver/tablet_manager.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/format/pb_container.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/safe_name.h"
#include "lib/fs/space_reserve.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/schema.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"
#include "server/common/logger.h"
#include "lib/tablet_copy/copy_client.h"

namespace kmend::tserver {

TabletManager::TabletManager(fs::Layout layout, std::string server_uuid,
                             ConfigObserver on_config)
    : layout_(std::move(layout)),
      server_uuid_(std::move(server_uuid)),
      on_config_(std::move(on_config)) {}

absl::Status TabletManager::Open(int start_threads) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids, fs::ListTablets(layout_));
  std::map<std::string, std::shared_ptr<TabletReplica>> loaded;
  for (const std::string& id : ids) {
    tablet::TabletSuperBlockPB sb;
    absl::Status s = pbc::ReadSingleMessageFile(layout_.TabletMetaPath(id), &sb);
    if (s.ok() && sb.tablet_id() != id) {
      s = absl::DataLossError(absl::StrCat(layout_.TabletMetaPath(id), ": tablet_id field is '",
                                           sb.tablet_id(), "', expected the file name"));
    }
    consensus::ConsensusMetadataPB cmeta;
    if (s.ok()) {
      auto c = meta::LoadConsensusMeta(layout_.ConsensusMetaPath(id));
      if (c.ok()) {
        cmeta = *std::move(c);
      } else {
        s = c.status();
      }
    }
    if (s.ok()) {
      loaded[id] = std::make_shared<TabletReplica>(layout_, std::move(sb), std::move(cmeta));
    } else {
      loaded[id] = std::make_shared<TabletReplica>(layout_, id, std::string(s.message()));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    replicas_ = loaded;
  }
  // Peer addresses first, so that the replicas' first messages can go out.
  if (on_config_) {
    for (const auto& [id, r] : loaded) {
      if (r->data_state() != tablet::TABLET_DATA_FAILED) {
        on_config_(r->ConsensusState().committed_config());
      }
    }
  }
  if (runtime_) {
    std::vector<std::pair<std::string, std::shared_ptr<TabletReplica>>> todo(loaded.begin(),
                                                                             loaded.end());
    // The footers WAL recovery writes are made durable by one syncfs below,
    // not by one fdatasync per replica (a journal commit each: most of a
    // 2,000-replica restart after a crash; docs/design/scale.md, "Restart").
    ReplicaRuntime batch = *runtime_;
    batch.defer_wal_recovery_sync = true;
    std::atomic<size_t> next{0};
    auto start_some = [&] {
      for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
        absl::Status s = todo[i].second->Start(batch);
        if (!s.ok()) KLOG(ERROR) << "starting tablet " << todo[i].first << ": " << s;
      }
    };
    const size_t helpers =
        std::min<size_t>(std::max(start_threads, 1) - 1, todo.size() / 2);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < helpers; ++t) threads.emplace_back(start_some);
    start_some();
    for (std::thread& t : threads) t.join();
    // Before the server serves (its RPC server starts after Open).
    if (!todo.empty()) {
      RETURN_IF_ERROR(io::SyncFilesystemOf(layout_.root()));
    }
  }
  return absl::OkStatus();
}

void TabletManager::ShutdownAll() {
  for (const auto& r : List()) r->Shutdown();
}

TabletManager::TabletChange::TabletChange(TabletManager* manager, std::string tablet_id)
    : manager_(manager), tablet_id_(std::move(tablet_id)) {
  absl::MutexLock lock(&manager_->changing_mu_);
  auto free = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return manager_->changing_.count(tablet_id_) == 0;
  };
  manager_->changing_mu_.Await(absl::Condition(&free));
  manager_->changing_.insert(tablet_id_);
}

TabletManager::TabletChange::~TabletChange() {
  absl::MutexLock lock(&manager_->changing_mu_);
  manager_->changing_.erase(tablet_id_);
}

absl::Status TabletManager::CreateTablet(const CreateTabletRequestPB& req) {
  const std::string& id = req.tablet_id();
  RETURN_IF_ERROR(fs::ValidateId(id, "CreateTablet: tablet_id"));
  auto schema = tablet::Schema::FromPB(req.schema());
  if (!schema.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CreateTablet ", id, ": schema: ", schema.status().message()));
  }
  bool listed = false;
  for (const auto& p : req.initial_config().peers()) listed |= p.permanent_uuid() == server_uuid_;
  if (!listed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CreateTablet ", id, ": initial_config does not list this server (", server_uuid_, ")"));
  }

  TabletChange change(this, id);
  bool replaces_tombstone = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(id);
    if (it != replicas_.end() && it->second->data_state() != tablet::TABLET_DATA_TOMBSTONED) {
      return absl::AlreadyExistsError(absl::StrCat(
          "tablet ", id, " already exists here (state ",
          tablet::TabletDataState_Name(it->second->data_state()), ")"));
    }
    replaces_tombstone = it != replicas_.end();
  }
  // A full data directory takes no new replica (the master places it
  // elsewhere), rather than creating one that fails at its first write.
  if (runtime_) {
    RETURN_IF_ERROR(fs::CheckSpaceFor(layout_.root(), runtime_->fs_reserved_bytes,
                                      absl::StrCat("creating tablet ", id)));
  }
  // A creation that fails for lack of space leaves nothing behind (no replica
  // persisted FAILED for a transient condition). A tombstone it replaced keeps
  // its files: they hold the term and vote it must not forget.
  auto undo_if_out_of_space = [&](const absl::Status& s) {
    if (s.code() != absl::StatusCode::kResourceExhausted || replaces_tombstone) return s;
    std::shared_ptr<TabletReplica> created;
    {
      absl::MutexLock lock(&mu_);
      auto it = replicas_.find(id);
      if (it != replicas_.end()) {
        created = std::move(it->second);
        replicas_.erase(it);
      }
    }
    if (created != nullptr) created->Shutdown();
    std::error_code ec;
    std::filesystem::remove(layout_.TabletMetaPath(id), ec);
    std::filesystem::remove(layout_.ConsensusMetaPath(id), ec);
    std::filesystem::remove_all(layout_.WalDir(id), ec);
    KLOG(WARNING) << "CreateTablet " << id << " failed for lack of space and was undone: " << s;
    return s;
  };
  if (absl::Status s = io::CreateDirs(layout_.WalDir(id)); !s.ok()) return undo_if_out_of_space(s);
  consensus::ConsensusMetadataPB cmeta;
  *cmeta.mutable_committed_config() = req.initial_config();
  cmeta.set_current_term(0);
  if (absl::Status s = meta::StoreConsensusMeta(layout_.ConsensusMetaPath(id), cmeta); !s.ok()) {
    return undo_if_out_of_space(s);
  }

  tablet::TabletSuperBlockPB sb;
  sb.set_table_id(req.table_id());
  sb.set_tablet_id(id);
  sb.set_last_durable_mrs_id(0);
  sb.set_table_name(req.table_name());
  *sb.mutable_schema() = schema->ToPB();
  sb.set_schema_version(0);
  sb.set_tablet_data_state(tablet::TABLET_DATA_READY);
  *sb.mutable_partition() = req.partition();
  *sb.mutable_partition_schema() = req.partition_schema();
  sb.set_last_flushed_op_index(0);
  sb.set_num_replicas(req.initial_config().peers_size());
  // Last: from here on the replica exists across restarts.
  if (absl::Status s = pbc::WriteSingleMessageFile(layout_.TabletMetaPath(id), sb); !s.ok()) {
    return undo_if_out_of_space(s);
  }

  auto replica = std::make_shared<TabletReplica>(layout_, std::move(sb), std::move(cmeta));
  {
    absl::MutexLock lock(&mu_);
    replicas_[id] = std::move(replica);
  }
  if (on_config_) on_config_(req.initial_config());
  if (runtime_) {
    auto started = Lookup(id);
    if (started.ok()) {
      if (absl::Status s = (*started)->Start(*runtime_); !s.ok()) return undo_if_out_of_space(s);
    }
  }
  return absl::OkStatus();
}

std::optional<server::DataDirSpacePB> TabletManager::MeasureDataDir() const {
  absl::StatusOr<fs::DataDirSpace> s =
      fs::MeasureDataDirSpace(layout_.root(), runtime_ ? runtime_->fs_reserved_bytes : 0);
  if (!s.ok()) return std::nullopt;
  server::DataDirSpacePB pb;
  pb.set_dir(s->dir);
  pb.set_capacity_bytes(s->capacity_bytes);
  pb.set_available_bytes(s->available_bytes);
  pb.set_reserved_bytes(s->reserved_bytes);
  pb.set_full(s->full());
  return pb;
}

void TabletManager::NoteWriteRefusal(const server::DataDirSpacePB& dir,
                                     server::ReplicaStatusPB* replica) {
  if (!dir.full() || replica->data_state() != server::TABLET_DATA_READY ||
      replica->role() == consensus::RaftPeerPB::UNKNOWN_ROLE) {
    return;
  }
  fs::DataDirSpace space;
  space.dir = dir.dir();
  space.available_bytes = dir.available_bytes();
  space.reserved_bytes = dir.reserved_bytes();
  replica->set_write_refusal(
      std::string(fs::DiskFullError(space, "client writes").message()));
}

absl::Status TabletManager::CopyTabletFrom(
    const std::string& tablet_id, const std::string& source_address,
    const std::function<void(const tablet_copy::CopyProgress&)>& progress,
    const std::function<absl::Status(TabletReplica*)>& before_copy, bool resume,
    std::optional<int64_t> replace_unreadable_metadata_term_floor, CopyTimings* timings) {
  CopyTimings unused;
  if (timings == nullptr) timings = &unused;
  auto ms_since = [](absl::Time t) { return absl::ToInt64Milliseconds(absl::Now() - t); };
  RETURN_IF_ERROR(fs::ValidateId(tablet_id, "CopyTablet: tablet_id"));
  if (!runtime_ || runtime_->block_manager == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("CopyTablet ", tablet_id, ": this server runs no replicas"));
  }
  TabletChange change(this, tablet_id);
  std::shared_ptr<TabletReplica> old;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(tablet_id);
    if (it != replicas_.end()) old = it->second;
  }
  if (before_copy) {
    const absl::Time t = absl::Now();
    RETURN_IF_ERROR(before_copy(old.get()));
    timings->before_copy_ms = ms_since(t);
  }
  if (old != nullptr) {
    tablet::TabletDataState st = old->data_state();
    if (st != tablet::TABLET_DATA_TOMBSTONED && st != tablet::TABLET_DATA_FAILED &&
        !(resume && st == tablet::TABLET_DATA_COPYING)) {
      return absl::AlreadyExistsError(absl::StrCat("tablet ", tablet_id,
                                                   " already exists here (state ",
                                                   tablet::TabletDataState_Name(st), ")"));
    }
    // Its Raft (if any) must stop before the files change under it.
    old->Shutdown();
  }
  tablet_copy::CopyOptions opts;
  opts.requestor_uuid = server_uuid_;
  opts.block_manager = runtime_->block_manager;
  opts.progress = progress;
  opts.resume = resume;
  opts.replace_unreadable_metadata_term_floor = replace_unreadable_metadata_term_floor;
  const absl::Time copy_start = absl::Now();
  auto copied = tablet_copy::CopyTablet(source_address, tablet_id, layout_.root(), opts);
  timings->copy_ms = ms_since(copy_start);
  if (!copied.ok()) {
    // The replica object must say what the files now say (TOMBSTONED, or
    // COPYING and resumable), not what it was before the copy.
    auto sb = tablet::LoadSuperBlock(layout_, tablet_id);
    auto cm = meta::LoadConsensusMeta(layout_.ConsensusMetaPath(tablet_id));
    if (sb.ok()) {
      auto now = std::make_shared<TabletReplica>(layout_, *sb,
                                                 cm.ok() ? *cm : consensus::ConsensusMetadataPB());
      (void)now->Start(*runtime_);  // runs nothing: gives it the runtime (block manager)
      absl::MutexLock lock(&mu_);
      replicas_[tablet_id] = std::move(now);
    }
    return Annotate(copied.status(),
                    absl::StrCat("copying tablet ", tablet_id, " from ", source_address));
  }
  KLOG(INFO) << "copied tablet " << tablet_id << " from " << source_address << ": "
             << copied->blocks << " blocks, " << copied->wal_segments << " WAL segments, "
             << copied->bytes << " bytes (" << copied->bytes_reused << " kept from an interrupted "
             << "copy) in " << copied->seconds << " s"
             << (copied->resume_note.empty() ? "" : "; " + copied->resume_note);
  ASSIGN_OR_RETURN(consensus::ConsensusMetadataPB cmeta,
                   meta::LoadConsensusMeta(layout_.ConsensusMetaPath(tablet_id)));
  consensus::RaftConfigPB config = cmeta.committed_config();
  auto replica = std::make_shared<TabletReplica>(layout_, copied->superblock, std::move(cmeta));
  {
    absl::MutexLock lock(&mu_);
    replicas_[tablet_id] = replica;
  }
  if (on_config_) on_config_(config);
  const absl::Time start = absl::Now();
  absl::Status started = replica->Start(*runtime_);
  timings->start_ms = ms_since(start);
  KLOG(INFO) << "tablet " << tablet_id << ": copied replica started in " << timings->start_ms
             << " ms (copy " << timings->copy_ms << " ms)";
  return started;
}

absl::Status TabletManager::DeleteTablet(const std::string& tablet_id, bool tombstone,
                                         const std::string& reason,
                                         std::optional<int64_t> cas_config_opid_index_le) {
  // Checked although Lookup would not find it: the id becomes paths below.
  RETURN_IF_ERROR(fs::ValidateId(tablet_id, "DeleteTablet: tablet_id"));
  TabletChange change(this, tablet_id);
  ASSIGN_OR_RETURN(std::shared_ptr<TabletReplica> replica, Lookup(tablet_id));
  if (cas_config_opid_index_le.has_value()) {
    int64_t have = replica->ConsensusState().committed_config().opid_index();
    if (have > *cas_config_opid_index_le) {
      return absl::FailedPreconditionError(absl::StrCat(
          "DeleteTablet ", tablet_id, ": committed config opid_index is ", have,
          ", newer than the requested bound ", *cas_config_opid_index_le));
    }
  }
  if (tombstone) {
    absl::Status s = replica->Tombstone(reason);
    replica->RefreshOnDiskSize();  // the WAL is gone
    return s;
  }
  replica->Shutdown();

  std::error_code ec;
  for (const std::string& path : {layout_.TabletMetaPath(tablet_id),
                                  layout_.ConsensusMetaPath(tablet_id),
                                  layout_.WalDir(tablet_id)}) {
    std::filesystem::remove_all(path, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("DeleteTablet ", tablet_id, ": removing ", path, ": ", ec.message()));
    }
  }
  RETURN_IF_ERROR(io::SyncDir(layout_.TabletMetaDir()));
  absl::MutexLock lock(&mu_);
  replicas_.erase(tablet_id);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<TabletReplica>> TabletManager::Lookup(
    const std::string& tablet_id) const {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(tablet_id);
  if (it == replicas_.end()) {
    return absl::NotFoundError(absl::StrCat("tablet ", tablet_id, " not found on this server"));
  }
  return it->second;
}

std::vector<std::shared_ptr<TabletReplica>> TabletManager::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<TabletReplica>> out;
  out.reserve(replicas_.size());
  for (const auto& [id, r] : replicas_) out.push_back(r);
  return out;
}

}  // namespace kmend::tserver
