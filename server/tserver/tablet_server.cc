#include "server/tserver/tablet_server.h"

#include <set>

#include "lib/fs/fs_manager.h"
#include "lib/io/file.h"
#include "lib/rpc/tls.h"
#include "lib/util/status_macros.h"
#include "server/common/data_dir.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "lib/util/version.h"

namespace kmend::tserver {
namespace {

// The copy source's view of this server's replicas: a replica is served
// only while it is READY and runs Raft; the live consensus state is sent.
class ManagerCopyProvider : public tablet_copy::TabletCopySourceProvider {
 public:
  ManagerCopyProvider(TabletManager* manager, std::string root,
                      blocks::LogBlockManager* block_manager)
      : manager_(manager), root_(std::move(root)), block_manager_(block_manager) {}

  absl::StatusOr<tablet_copy::SourceReplica> GetReplica(const std::string& tablet_id) override {
    ASSIGN_OR_RETURN(std::shared_ptr<TabletReplica> r, manager_->Lookup(tablet_id));
    tablet_copy::SourceReplica out;
    out.root = root_;
    out.block_manager = block_manager_;
    out.ready = r->data_state() == tablet::TABLET_DATA_READY && r->driver().ok();
    out.cstate = r->ConsensusState();
    // No flush or WAL GC of this replica while its copy session lives: the
    // blocks it serves stay live, and its WAL snapshot reaches at least the
    // superblock's flushed op.
    if (out.ready) out.anchor = TabletReplica::AnchorForCopy(r);
    return out;
  }

 private:
  TabletManager* const manager_;
  const std::string root_;
  blocks::LogBlockManager* const block_manager_;
};

}  // namespace

TabletServer::TabletServer(TabletServerOptions options) : options_(std::move(options)) {}

TabletServer::~TabletServer() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status TabletServer::Start() {
  ASSIGN_OR_RETURN(server::LockedDataDir dir, server::LockAndOpenDataDir(options_.fs_root));
  lock_ = std::move(dir.lock);
  uuid_ = dir.uuid;
  if (options_.raft_tcp) transport_.EnableTcp();  // before any peer address; a no-op with TLS
  // Every peer of every hosted replica becomes reachable by the transport.
  manager_ = std::make_unique<TabletManager>(
      fs::Layout(options_.fs_root), uuid_,
      [this](const consensus::RaftConfigPB& config) { LearnPeerAddresses(config); });
  auto bm = blocks::LogBlockManager::Open(fs::Layout(options_.fs_root).DataDir());
  if (!bm.ok()) return Annotate(bm.status(), "opening the block manager");
  block_manager_ = *std::move(bm);
  ReplicaRuntime runtime;
  runtime.server_uuid = uuid_;
  runtime.block_manager = block_manager_.get();
  runtime.transport = &transport_;
  runtime.router = &router_;
  runtime.tick_interval = absl::Milliseconds(options_.raft_tick_ms);
  runtime.max_election_backoff = options_.raft_max_election_backoff;
  runtime.max_inflight_appends = options_.raft_max_inflight_appends;
  if (options_.raft_round_worker) {
    consensus_driver::RaftScheduler::Options so;
    so.workers = 1;
    so.rounds = true;
    round_scheduler_ = std::make_unique<consensus_driver::RaftScheduler>(so);
    runtime.scheduler = round_scheduler_.get();
  }
  if (options_.raft_quiesce) {
    // Failure detection per server pair: one liveness call per peer per
    // tick, recorded by the peer's ConsensusService (docs/design/scale.md).
    transport_.EnableLiveness(uuid_, std::chrono::milliseconds(options_.raft_tick_ms));
    runtime.raft_quiesce = true;
    runtime.liveness = &liveness_;
  }
  runtime.flush_threshold_rows = options_.flush_threshold_rows;
  runtime.flush_threshold_bytes = options_.flush_threshold_bytes;
  runtime.flush_interval = absl::Milliseconds(options_.flush_interval_ms);
  runtime.wal_segment_size_bytes = options_.wal_segment_size_bytes;
  runtime.wal_max_segments_retained_for_peers = options_.wal_max_segments_retained_for_peers;
  runtime.fs_reserved_bytes = options_.fs_reserved_bytes;
  runtime.reachable = &reachable_;
  maintenance_ = std::make_unique<MaintenanceManager>(
      [this] { return manager_->List(); }, absl::Milliseconds(options_.maintenance_interval_ms));
  runtime.request_maintenance = [m = maintenance_.get()] { m->Notify(); };
  // Configs a replica commits later (new peers) reach the transport too.
  runtime.on_config = [this](const consensus::RaftConfigPB& config) { LearnPeerAddresses(config); };
  manager_->SetRuntime(runtime);
  RETURN_IF_ERROR(Annotate(manager_->Open(options_.replica_start_threads), "loading replicas"));
  maintenance_->Start();
  int failed = 0;
  for (const auto& r : manager_->List()) failed += r->data_state() == tablet::TABLET_DATA_FAILED;

  if (!options_.ack_log_file.empty()) {
    ASSIGN_OR_RETURN(ack_log_, AckLog::Open(options_.ack_log_file));
  }
  tserver_service_ =
      std::make_unique<TabletServerServiceImpl>(uuid_, manager_.get(), ack_log_.get());
  rebuilder_ = std::make_unique<ReplicaRebuilder>(uuid_, manager_.get());
  consensus_service_ = std::make_unique<ConsensusServiceImpl>(
      uuid_, manager_.get(), &router_, rebuilder_.get(), &liveness_);
  copy_provider_ =
      std::make_unique<ManagerCopyProvider>(manager_.get(), options_.fs_root, block_manager_.get());
  tablet_copy::SourceOptions copy_opts;
  copy_opts.server_uuid = uuid_;
  copy_sources_ =
      std::make_unique<tablet_copy::TabletCopySourceManager>(copy_provider_.get(), copy_opts);
  copy_service_ = std::make_unique<tablet_copy::TabletCopyServiceImpl>(copy_sources_.get());
  status_service_ = std::make_unique<server::StatusServiceImpl>(server::TABLET_SERVER, uuid_,
                                                                options_.fs_root, &clock_, this);
  rpc_.set_audit_root(options_.fs_root);
  RETURN_IF_ERROR(rpc_.Start(options_.rpc_bind,
                             {tserver_service_.get(), consensus_service_.get(), copy_service_.get(),
                              status_service_.get()},
                             options_.port_file));
  status_service_->SetRpcAddress(rpc_.address());
  if (options_.raft_tcp && !rpc::ProcessTls().enabled) {
    // On the RPC address's host: where peers already reach this server.
    RETURN_IF_ERROR(consensus_service_->StartRaftTcp(rpc_.address().host()));
  }
  // Leaders can reach the replicas now: their election timers start.
  reachable_.store(true, std::memory_order_release);

  master::TServerRegistrationPB reg;
  reg.set_permanent_uuid(uuid_);
  *reg.mutable_rpc_address() = rpc_.address();
  reg.set_version(kKmendVersion);
  reg.set_start_time_us(clock_.WallMicros());
  heartbeater_ = std::make_unique<Heartbeater>(options_.master_addresses, reg,
                                               options_.heartbeat_interval_ms, manager_.get());
  heartbeater_->Start();
  KLOG(INFO) << "tablet server " << uuid_ << " serving on "
             << server::HostPortToString(rpc_.address()) << " (data dir " << options_.fs_root
             << ", " << manager_->List().size() << " replicas, " << failed << " FAILED)";
  return absl::OkStatus();
}

void TabletServer::LearnPeerAddresses(const consensus::RaftConfigPB& config) {
  for (const auto& p : config.peers()) {
    if (p.permanent_uuid() != uuid_ && p.has_last_known_addr()) {
      transport_.SetPeerAddress(p.permanent_uuid(), server::HostPortToString(p.last_known_addr()));
    }
  }
}

void TabletServer::Shutdown(std::chrono::milliseconds grace) {
  if (heartbeater_ != nullptr) heartbeater_->Stop();
  // Peers' Raft streams never end by themselves (raft_stream_server.h).
  if (consensus_service_ != nullptr) consensus_service_->StopStreams();
  rpc_.Shutdown(grace);
  // No flush or WAL GC past this point.
  if (maintenance_ != nullptr) maintenance_->Stop();
  if (rebuilder_ != nullptr) rebuilder_->Shutdown();
  // Replicas before the transport they send through.
  if (manager_ != nullptr) manager_->ShutdownAll();
  transport_.Shutdown();
  lock_.reset();
}

absl::Status TabletServer::FillStatus(const server::GetStatusRequestPB& req,
                                      server::GetStatusResponsePB* resp) {
  const std::optional<server::DataDirSpacePB> dir = manager_->MeasureDataDir();
  if (dir) *resp->mutable_server()->add_data_dirs() = *dir;
  if (!req.include_replicas()) return absl::OkStatus();
  std::set<std::string> only(req.tablet_ids().begin(), req.tablet_ids().end());
  for (const auto& r : manager_->List()) {
    if (!only.empty() && only.count(r->tablet_id()) == 0) continue;
    server::ReplicaStatusPB* out = resp->add_replicas();
    *out = r->Status();
    if (dir) TabletManager::NoteWriteRefusal(*dir, out);
    if (req.include_schemas()) r->FillSchema(out);
    if (rebuilder_ != nullptr) {
      auto copy = rebuilder_->Progress(r->tablet_id());
      if (copy.ok()) *out->mutable_copy() = *std::move(copy);
    }
  }
  return absl::OkStatus();
}

}  // namespace kmend::tserver
