#include "server/master/master.h"

#include <signal.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/consensus/random_seed.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "proto/status.grpc.pb.h"
#include "server/common/data_dir.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "server/master/catalog_copy_client.h"

namespace kmend::master {

std::string Master::PeerAddress(const consensus::RaftPeerPB& p) {
  return server::HostPortToString(p.last_known_addr());
}

Master::Master(MasterOptions options) : options_(std::move(options)) {}

Master::~Master() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status Master::Start() {
  // Same root layout and instance file as a tablet server (lib/fs): the
  // catalog is a tablet of its own (WAL and consensus metadata as a tablet
  // server keeps them).
  ASSIGN_OR_RETURN(server::LockedDataDir dir, server::LockAndOpenDataDir(options_.fs_root));
  lock_ = std::move(dir.lock);
  uuid_ = dir.uuid;
  registry_ =
      std::make_unique<TServerRegistry>(&clock_, options_.tserver_unresponsive_timeout_ms);
  // A catalog copy a crash interrupted: installed if it was complete,
  // discarded (the old replica untouched) if not.
  ASSIGN_OR_RETURN(bool installed,
                   RecoverOrInstallCatalogCopy(options_.fs_root, kSysCatalogTabletId));
  if (installed) KLOG(INFO) << "installed a catalog copy left complete by a previous run";
  ASSIGN_OR_RETURN(std::unique_ptr<RaftCatalogStore> store,
                   RaftCatalogStore::Open(io::JoinPath(options_.fs_root, fs::kMasterCatalogFileName),
                                          absl::Milliseconds(options_.catalog_save_timeout_ms)));
  store_ = store.get();
  catalog_ = std::make_unique<CatalogManager>(std::move(store), &clock_);
  RETURN_IF_ERROR(Annotate(catalog_->Load(), "loading the catalog"));
  master_service_ = std::make_unique<MasterServiceImpl>(
      uuid_, registry_.get(), catalog_.get(),
      std::chrono::milliseconds(options_.tserver_rpc_timeout_ms),
      [this] { return CheckCatalogLeader(); });
  RereplicatorOptions rereplication;
  rereplication.delay_ms = options_.rereplication_delay_ms;
  rereplication.rpc_timeout = std::chrono::milliseconds(options_.tserver_rpc_timeout_ms);
  rereplication.max_copies_per_server = options_.rereplication_max_copies_per_server;
  rereplication.failed_grace_ms = options_.rereplication_failed_grace_ms;
  rereplicator_ = std::make_unique<Rereplicator>(registry_.get(), catalog_.get(), rereplication);
  status_service_ = std::make_unique<server::StatusServiceImpl>(
      server::MASTER, uuid_, options_.fs_root, &clock_, this);
  consensus_service_ = std::make_unique<MasterConsensusService>(uuid_, options_.raft_tick_ms);
  copy_source_ = std::make_unique<CatalogCopySource>(uuid_);
  copy_service_ = std::make_unique<CatalogCopyServiceImpl>(
      copy_source_.get(),
      [this](const BeginCatalogCopyRequestPB& r) { return BeginCatalogCopySession(r); },
      [this](const StartCatalogCopyRequestPB& r) { return HandleStartCatalogCopy(r); });
  transport_ = std::make_unique<raft_transport::PeerTransport>();
  // Serving before the catalog is open: the other masters learn this one's
  // uuid from its status while it learns theirs.
  rpc_.set_audit_root(options_.fs_root);
  RETURN_IF_ERROR(rpc_.Start(options_.rpc_bind,
                             {master_service_.get(), status_service_.get(),
                              consensus_service_.get(), copy_service_.get()},
                             /*port_file=*/""));
  status_service_->SetRpcAddress(rpc_.address());
  // The port file tells a harness the master is up. One of several masters
  // writes it at once (its peers may be started after it, and it waits for
  // them); a single master once it serves the catalog, as before.
  const bool several = options_.master_addresses.size() > 1;
  if (several) RETURN_IF_ERROR(WritePortFile());
  RETURN_IF_ERROR(Annotate(OpenSysCatalog(), "opening the sys catalog tablet"));
  monitor_ = std::thread([this] { MonitorLoop(); });
  leader_watch_ = std::thread([this] { LeaderLoop(); });

  // A single master elects itself at once and serves before Start returns,
  // as the file-backed master did.
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  raft::RaftStatus st = d->GetStatus();
  if (st.committed_config.peers_size() == 1 &&
      st.committed_config.peers(0).permanent_uuid() == uuid_) {
    (void)d->Campaign();
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (ready_term_.load() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (ready_term_.load() == 0) {
      return absl::UnavailableError(absl::StrCat(
          "master ", uuid_, " did not become the leader of its one-voter catalog within 10 s"));
    }
  }
  if (!several) RETURN_IF_ERROR(WritePortFile());
  KLOG(INFO) << "master " << uuid_ << " serving on " << server::HostPortToString(rpc_.address())
             << " (data dir " << options_.fs_root << ", catalog version " << catalog_->version()
             << ", " << catalog_->num_tables() << " tables, "
             << st.committed_config.peers_size() << " master(s))";
  return absl::OkStatus();
}

absl::Status Master::WritePortFile() const {
  if (options_.port_file.empty()) return absl::OkStatus();
  return Annotate(io::WriteFileAtomically(options_.port_file, absl::StrCat(rpc_.port(), "\n")),
                  "writing --port_file");
}

absl::Status Master::OpenSysCatalog() {
  fs::Layout layout(options_.fs_root);
  RETURN_IF_ERROR(io::CreateDirs(layout.ConsensusMetaDir()));
  RETURN_IF_ERROR(io::CreateDirs(layout.WalsDir()));
  consensus_driver::DriverOptions opts;
  opts.core.tablet_id = kSysCatalogTabletId;
  opts.core.self_uuid = uuid_;
  opts.core.election_ticks = options_.election_ticks;
  // Per replica and per start (lib/consensus/random_seed.h), as on tablet
  // servers: masters restarted together must not split their votes again.
  opts.core.random_seed = consensus_driver::ReplicaRandomSeed(uuid_, kSysCatalogTabletId);
  opts.tick_interval = absl::Milliseconds(options_.raft_tick_ms);
  opts.wal_dir = layout.WalDir(kSysCatalogTabletId);
  opts.cmeta_path = layout.ConsensusMetaPath(kSysCatalogTabletId);
  opts.wal_options.segment_size_bytes = options_.catalog_wal_segment_size_bytes;
  const bool bootstrapping = !io::FileExists(opts.cmeta_path);
  if (bootstrapping) {
    ASSIGN_OR_RETURN(opts.bootstrap_config, BootstrapConfig());
    KLOG(INFO) << "bootstrapping the sys catalog with " << opts.bootstrap_config.peers_size()
               << " master(s)";
  }
  opts.applied_index = store_->snapshot_index();
  RaftCatalogStore* store = store_;
  // Every apply may make this master a serving leader (its term's NO_OP)
  // or change the config: the leader watch looks at once.
  opts.apply = [store, this](const consensus::ReplicateMsg& m) {
    store->Apply(m);
    WakeLeaderWatch();
  };
  opts.log_event = [](const std::string& e) { KLOG(INFO) << "sys catalog: " << e; };
  ASSIGN_OR_RETURN(std::unique_ptr<consensus_driver::RaftDriver> d,
                   consensus_driver::RaftDriver::Open(std::move(opts), transport_.get()));
  std::shared_ptr<consensus_driver::RaftDriver> shared(std::move(d));
  raft::RaftStatus st = shared->GetStatus();
  std::set<std::string> configured;
  for (const auto& p : st.committed_config.peers()) {
    configured.insert(PeerAddress(p));
    if (p.permanent_uuid() != uuid_) transport_->SetPeerAddress(p.permanent_uuid(), PeerAddress(p));
  }
  if (!options_.master_addresses.empty() &&
      configured != std::set<std::string>(options_.master_addresses.begin(),
                                          options_.master_addresses.end())) {
    KLOG(WARNING) << "--master_addrs " << absl::StrJoin(options_.master_addresses, ",")
                  << " differs from the sys catalog's config ("
                  << absl::StrJoin(configured, ",") << "); the config wins";
  }
  // Before the catalog takes Raft messages (it cannot win an election
  // until then): a master dropped by a forced change refuses to start.
  if (!bootstrapping) RETURN_IF_ERROR(CheckStillAMember(st, absl::Seconds(1)));
  store_->SetDriver(shared.get());
  consensus_service_->SetDriver(shared);
  absl::MutexLock l(&driver_mu_);
  driver_ = std::move(shared);
  return absl::OkStatus();
}

std::shared_ptr<consensus_driver::RaftDriver> Master::driver() const {
  absl::MutexLock l(&driver_mu_);
  return driver_;
}

void Master::WakeLeaderWatch() {
  absl::MutexLock l(&leader_wake_mu_);
  leader_wake_ = true;
}

void Master::LeaderLoop() {
  // A new leader serves as soon as its term's NO_OP is applied: the apply
  // wakes this loop. What no apply announces (a step-down, a lost election)
  // is seen within kLeaderWatchPoll. It polled every 10 ms before: 100
  // wake-ups and full Raft statuses a second, most of an idle master's CPU
  // (issue 15).
  constexpr absl::Duration kLeaderWatchPoll = absl::Milliseconds(100);
  while (true) {
    {
      absl::MutexLock l(&leader_wake_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_wake_mu_) { return leader_wake_; };
      leader_wake_mu_.AwaitWithTimeout(absl::Condition(&woken), kLeaderWatchPoll);
      leader_wake_ = false;
    }
    if (stop_.HasBeenNotified()) return;
    CheckLeadership();
  }
}

void Master::CheckLeadership() {
  if (fenced_.load()) return;
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d == nullptr) return;
  raft::RaftStatus st = d->GetStatus();
  RefreshPeerAddresses(st);
  if (store_->TakeNeedsReload() && ready_term_.load() != 0) {
    KLOG(INFO) << "catalog change outcome unknown or rejected: reloading the applied catalog";
    ready_term_ = 0;
  }
  if (st.role != raft::Role::kLeader) {
    if (ready_term_.exchange(0) != 0) {
      KLOG(INFO) << "master " << uuid_ << " no longer leads the catalog (now "
                 << raft::RoleName(st.role) << " at term " << st.term << ", leader "
                 << (st.leader_uuid.empty() ? "unknown" : st.leader_uuid) << ")";
    }
    return;
  }
  if (ready_term_.load() == st.term) return;
  // Serve only once this term's NO_OP is committed and everything up to it
  // applied: then the applied catalog holds every change that can ever
  // commit from earlier terms.
  if (st.committed.term() != st.term || st.applied_index < st.committed.index() ||
      store_->applied_index() < st.committed.index()) {
    return;
  }
  // A new leader of several masters first makes sure it was not dropped
  // while it was away (its old config's other members could elect it).
  // Costs one GetStatus round to the peers per leadership won.
  if (FenceIfDropped(st)) return;
  // A rebuilt (or pre-replication) catalog goes into the log before this
  // leader serves, so masters added later get it (raft_catalog_store.h).
  if (absl::Status b = store_->WriteBaseEntryIfNeeded(); !b.ok()) {
    KLOG(WARNING) << "writing the catalog's base entry as the new leader: " << b;
    return;
  }
  absl::Status s = catalog_->Load();
  if (!s.ok()) {
    KLOG(ERROR) << "reloading the catalog as the new leader: " << s;
    return;
  }
  ready_term_ = st.term;
  KLOG(INFO) << "master " << uuid_ << " leads the catalog at term " << st.term
             << " (catalog version " << catalog_->version() << ", " << catalog_->num_tables()
             << " tables, applied index " << st.applied_index << ")";
}

void Master::RefreshPeerAddresses(const raft::RaftStatus& st) {
  auto note = [this](const consensus::RaftConfigPB& c) {
    for (const auto& p : c.peers()) {
      if (p.permanent_uuid() == uuid_ || !p.has_last_known_addr()) continue;
      std::string address = PeerAddress(p);
      auto [it, inserted] = peer_addresses_.emplace(p.permanent_uuid(), address);
      if (!inserted && it->second == address) continue;
      it->second = address;
      transport_->SetPeerAddress(p.permanent_uuid(), address);
    }
  };
  note(st.committed_config);
  if (st.pending_config.has_value()) note(*st.pending_config);
}

absl::Status Master::CheckCatalogLeader() const {
  if (fenced_.load()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", uuid_, " was dropped from the sys catalog by a newer config and is stopping"));
  }
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("master ", uuid_, " is starting: its sys catalog is not open yet"));
  }
  raft::RaftStatus st = d->GetStatus();
  if (st.role == raft::Role::kLeader && ready_term_.load() == st.term) return absl::OkStatus();
  std::string leader = "no leader is known yet";
  if (st.role == raft::Role::kLeader) {
    leader = "it was elected and is loading the catalog";
  } else if (!st.leader_uuid.empty()) {
    leader = absl::StrCat("the leader is ", st.leader_uuid);
    for (const auto& p : st.committed_config.peers()) {
      if (p.permanent_uuid() == st.leader_uuid) absl::StrAppend(&leader, " at ", PeerAddress(p));
    }
  }
  return absl::UnavailableError(absl::StrCat("master ", uuid_,
                                             " does not serve the catalog (",
                                             raft::RoleName(st.role), " at term ", st.term,
                                             "): ", leader, "; try the next master"));
}

bool Master::FenceIfDropped(const raft::RaftStatus& st) {
  absl::Status member = CheckStillAMember(st, absl::Milliseconds(300));
  if (member.ok()) return false;
  if (!fenced_.exchange(true)) {
    KLOG(ERROR) << member.message() << "; shutting down";
    raise(SIGTERM);  // main's signal wait then shuts the master down cleanly
  }
  return true;
}

void Master::MonitorLoop() {
  // Liveness is computed on demand; this loop logs transitions, a few times
  // per timeout so the log shows a death close to when it happened, and
  // (leader only) re-sends CreateTablet for replicas a returning server
  // lacks and replaces replicas of servers dead too long.
  // At most a second: a returning server should get its missing replicas
  // soon even when the failure timeout is long.
  auto period = absl::Milliseconds(std::min<int64_t>(
      1000, std::max<int64_t>(50, options_.tserver_unresponsive_timeout_ms / 4)));
  absl::Time next_membership_check = absl::Now();
  while (!stop_.WaitForNotificationWithTimeout(period)) {
    if (CheckCatalogLeader().ok() && absl::Now() >= next_membership_check) {
      // Again while leading: a peer that did not answer when this master
      // won (stopped, cut off) may answer now with a config that dropped it.
      next_membership_check = absl::Now() + absl::Seconds(3);
      if (std::shared_ptr<consensus_driver::RaftDriver> d = driver();
          d != nullptr && FenceIfDropped(d->GetStatus())) {
        continue;
      }
    }
    if (CheckCatalogLeader().ok()) {
      // A table's own fan-out takes at most one RPC timeout per replica of a
      // server; only after that can a missing replica be told from a slow
      // one.
      master_service_->RecreateMissingReplicas(2 * options_.tserver_rpc_timeout_ms * 1000,
                                               clock_.WallMicros());
      // Replacing replicas of servers dead too long (or FAILED): decides and
      // starts steps on the Rereplicator's own workers; returns at once.
      rereplicator_->RunOnce();
      RequestCatalogCopies();
    }
    GarbageCollectCatalogLog();
    for (const LivenessChange& c : registry_->CheckLiveness()) {
      if (c.now_live) {
        KLOG(INFO) << "tablet server " << c.uuid << " is live again";
      } else {
        KLOG(WARNING) << "tablet server " << c.uuid << " marked dead: no heartbeat for more than "
                      << options_.tserver_unresponsive_timeout_ms << " ms";
      }
    }
  }
}

void Master::GarbageCollectCatalogLog() {
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d == nullptr) return;
  absl::MutexLock gc(&gc_mu_);
  // The snapshot first: GC never passes it.
  if (absl::Status s = store_->WriteSnapshot(); !s.ok()) KLOG(WARNING) << s;
  int64_t keep = CatalogLogRetentionIndex(d->GetStatus(), store_->durable_snapshot_index(),
                                          options_.catalog_log_retained_entries,
                                          options_.catalog_log_max_entries_retained_for_peers);
  if (keep <= last_gc_index_) return;
  absl::StatusOr<int> deleted = d->GarbageCollectLog(keep);
  if (!deleted.ok()) {
    KLOG(WARNING) << "sys catalog WAL GC below index " << keep << ": " << deleted.status();
    return;
  }
  last_gc_index_ = keep;
  if (*deleted > 0) {
    KLOG(INFO) << "sys catalog WAL GC: deleted " << *deleted << " segment(s) below index " << keep;
  }
}

void Master::Shutdown(std::chrono::milliseconds grace) {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  WakeLeaderWatch();
  // Re-replication steps in flight hold RPCs to tablet servers: cancel them
  // before the rest of the master goes away (the destructor is too late for
  // a graceful SIGTERM).
  if (rereplicator_ != nullptr) rereplicator_->Shutdown();
  if (leader_watch_.joinable()) leader_watch_.join();
  {
    // A running copy sees stop_ and does not reopen the replica; no new one
    // starts once stop_ is set. Joined outside copy_mu_ (the thread takes it
    // last).
    std::thread copy;
    {
      absl::MutexLock l(&copy_mu_);
      copy = std::move(copy_thread_);
    }
    if (copy.joinable()) copy.join();
  }
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  // Stopping the driver first wakes a catalog change waiting to be applied,
  // so the monitor (and RPCs) finish promptly.
  if (d != nullptr) d->Shutdown();
  if (monitor_.joinable()) monitor_.join();
  // A clean stop leaves nothing to replay.
  if (d != nullptr && store_ != nullptr) {
    if (absl::Status s = store_->WriteSnapshot(); !s.ok()) KLOG(WARNING) << s;
  }
  // Peers' Raft streams never end by themselves (raft_stream_server.h).
  if (consensus_service_ != nullptr) consensus_service_->StopStreams();
  rpc_.Shutdown(grace);
  if (consensus_service_ != nullptr) consensus_service_->SetDriver(nullptr);
  if (store_ != nullptr) store_->SetDriver(nullptr);
  {
    absl::MutexLock l(&driver_mu_);
    driver_.reset();
  }
  if (transport_ != nullptr) transport_->Shutdown();
  lock_.reset();
}

absl::Status Master::FillStatus(const server::GetStatusRequestPB&,
                                server::GetStatusResponsePB* resp) {
  server::MasterCatalogStatusPB* m = resp->mutable_master();
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d != nullptr) {
    raft::RaftStatus st = d->GetStatus();
    m->set_is_leader(st.role == raft::Role::kLeader);
    m->set_is_catalog_leader_ready(st.role == raft::Role::kLeader &&
                                   ready_term_.load() == st.term);
    *m->mutable_catalog_consensus_state() = st.ToConsensusStatePB();
  }
  m->set_catalog_on_disk(
      d != nullptr ||
      io::FileExists(fs::Layout(options_.fs_root).ConsensusMetaPath(kSysCatalogTabletId)));
  // From the applied catalog: what a follower reports is what it would serve
  // as the leader.
  if (store_ != nullptr) {
    SysCatalogPB applied = store_->applied();
    std::set<std::string> running_tables;
    int64_t tables = 0;
    for (const auto& t : applied.tables()) {
      if (t.info().state() == RUNNING) {
        ++tables;
        running_tables.insert(t.info().table_id());
      }
    }
    int64_t tablets = 0;
    for (const auto& t : applied.tablets()) tablets += running_tables.count(t.table_id());
    m->set_num_tables(tables);
    m->set_num_tablets(tablets);
    m->set_catalog_version(applied.version());
    m->set_catalog_applied_index(store_->applied_index());
  }
  auto all = registry_->List();
  m->set_num_tablet_servers(static_cast<int64_t>(all.size()));
  int64_t live = 0;
  for (const auto& ts : all) live += ts.live;
  m->set_num_live_tablet_servers(live);
  return absl::OkStatus();
}

}  // namespace kmend::master
