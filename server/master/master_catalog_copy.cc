// The master's part in catalog copy (catalog_copy_client.h,
// catalog_copy_source.h): as leader, asking a peer whose log is behind the
// retained WAL to copy, and serving its session; as a lagging master,
// accepting the leader's request and running the copy with its catalog
// replica stopped.
#include "server/master/master.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/fs/layout.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "server/master/catalog_copy_client.h"
#include "lib/util/status_macros.h"

namespace kmend::master {

void Master::RequestCatalogCopies() {
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d == nullptr) return;
  raft::RaftStatus st = d->GetStatus();
  const absl::Time now = absl::Now();
  for (const raft::PeerStatus& p : st.peers) {
    if (p.uuid == uuid_ || p.state != raft::PeerStatus::State::kNeedsTabletCopy) continue;
    auto it = copy_requested_.find(p.uuid);
    if (it != copy_requested_.end() && now - it->second < absl::Seconds(3)) continue;
    copy_requested_[p.uuid] = now;
    std::string address;
    for (const auto& peer : st.committed_config.peers()) {
      if (peer.permanent_uuid() == p.uuid) address = PeerAddress(peer);
    }
    if (address.empty()) continue;
    auto stub = CatalogCopyService::NewStub(server::NewChannel(address));
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, std::chrono::milliseconds(1000));
    StartCatalogCopyRequestPB req;
    req.set_leader_uuid(uuid_);
    req.set_leader_address(server::HostPortToString(rpc_.address()));
    req.set_term(st.term);
    StartCatalogCopyResponsePB resp;
    absl::Status s = server::FromGrpcStatus(stub->StartCatalogCopy(&ctx, req, &resp),
                                            absl::StrCat("StartCatalogCopy at ", address));
    if (!s.ok()) {
      KLOG(WARNING) << "master " << p.uuid << " needs a catalog copy: " << s;
    } else {
      KLOG(INFO) << "master " << p.uuid << " needs a catalog copy (its log is behind index "
                 << (d->wal() != nullptr ? d->wal()->FirstIndex() : 0)
                 << " this leader holds): " << resp.message();
    }
  }
}

absl::StatusOr<BeginCatalogCopyResponsePB> Master::BeginCatalogCopySession(
    const BeginCatalogCopyRequestPB& req) {
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  if (d == nullptr || d->GetStatus().role != raft::Role::kLeader) {
    return absl::UnavailableError(absl::StrCat(
        "master ", uuid_, " serves catalog copies only as the catalog leader"));
  }
  // No GC between the applied catalog and the segment listing (see
  // catalog_copy_source.h).
  absl::MutexLock gc(&gc_mu_);
  CatalogCopyState state;
  state.catalog = store_->AppliedWithIndex();
  state.cstate = d->GetStatus().ToConsensusStatePB();
  state.wal_dir = fs::Layout(options_.fs_root).WalDir(kSysCatalogTabletId);
  absl::StatusOr<BeginCatalogCopyResponsePB> r = copy_source_->Begin(req.requestor_uuid(), state);
  if (r.ok()) {
    KLOG(INFO) << "catalog copy session " << r->session_id() << " for master "
               << req.requestor_uuid() << ": snapshot at index " << r->snapshot_index()
               << " (catalog version " << state.catalog.version() << "), "
               << r->items_size() - 1 << " WAL segment(s)";
  }
  return r;
}

absl::StatusOr<StartCatalogCopyResponsePB> Master::HandleStartCatalogCopy(
    const StartCatalogCopyRequestPB& req) {
  std::shared_ptr<consensus_driver::RaftDriver> d = driver();
  StartCatalogCopyResponsePB resp;
  absl::MutexLock l(&copy_mu_);
  if (copying_) {
    resp.set_started(true);
    resp.set_message(absl::StrCat("master ", uuid_, " is already copying the catalog"));
    return resp;
  }
  if (d == nullptr || stop_.HasBeenNotified()) {
    return absl::UnavailableError(absl::StrCat("master ", uuid_, " has no open catalog replica"));
  }
  raft::RaftStatus st = d->GetStatus();
  // Only the current leader, as this master knows it, may trigger a copy:
  // never a stale one, never for a leader.
  if (st.role == raft::Role::kLeader) {
    return absl::FailedPreconditionError(
        absl::StrCat("master ", uuid_, " leads the catalog at term ", st.term));
  }
  if (req.term() < st.term) {
    return absl::FailedPreconditionError(absl::StrCat(
        "catalog copy requested at term ", req.term(), " but master ", uuid_, " is at term ",
        st.term));
  }
  std::string address;
  for (const auto& p : st.committed_config.peers()) {
    if (p.permanent_uuid() == req.leader_uuid() && p.permanent_uuid() != uuid_) {
      address = PeerAddress(p);
    }
  }
  if (address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "catalog copy requested by ", req.leader_uuid(), ", not another master of the config"));
  }
  if (copy_thread_.joinable()) copy_thread_.join();  // a finished one
  copying_ = true;
  copy_thread_ = std::thread([this, leader = req.leader_uuid(), address] {
    RunCatalogCopy(leader, address);
  });
  resp.set_started(true);
  resp.set_message(absl::StrCat("master ", uuid_, " copies the catalog from ", req.leader_uuid(),
                                " at ", address));
  return resp;
}

void Master::RunCatalogCopy(std::string leader_uuid, std::string leader_address) {
  KLOG(INFO) << "catalog copy from master " << leader_uuid << " at " << leader_address
             << ": stopping the local catalog replica";
  std::shared_ptr<consensus_driver::RaftDriver> d;
  {
    absl::MutexLock l(&driver_mu_);
    d = std::move(driver_);
  }
  ready_term_ = 0;
  consensus_service_->SetDriver(nullptr);
  store_->SetDriver(nullptr);
  if (d != nullptr) d->Shutdown();
  // With the replica stopped the local log cannot grow past this.
  const int64_t local_last = d != nullptr ? d->GetStatus().last_logged.index() : 0;
  d.reset();

  CatalogCopyOptions opts;
  opts.requestor_uuid = uuid_;
  opts.local_last_logged_index = local_last;
  GrpcCatalogCopyPeer peer(leader_address, std::chrono::milliseconds(30000));
  const absl::Time start = absl::Now();
  absl::StatusOr<CatalogCopyResult> r =
      FetchCatalogCopy(&peer, options_.fs_root, kSysCatalogTabletId, opts);
  bool reopen = true;
  if (!r.ok()) {
    KLOG(WARNING) << "catalog copy from " << leader_uuid << " failed (the local replica is "
                  << "unchanged and reopens): " << r.status();
  } else {
    absl::StatusOr<bool> installed = RecoverOrInstallCatalogCopy(options_.fs_root,
                                                                 kSysCatalogTabletId);
    if (!installed.ok()) {
      // The copy is complete on disk; only its installation failed. The
      // replica stays closed: a restart finishes the installation.
      KLOG(ERROR) << "installing the catalog copy: " << installed.status()
                  << "; the catalog replica stays closed until this master restarts";
      reopen = false;
    } else if (absl::Status s = store_->ReloadSnapshotFile(); !s.ok()) {
      KLOG(ERROR) << "loading the copied catalog snapshot: " << s
                  << "; the catalog replica stays closed until this master restarts";
      reopen = false;
    } else {
      KLOG(INFO) << "installed catalog copy from master " << r->source_uuid << ": snapshot index "
                 << r->snapshot_index << ", catalog version " << r->catalog_version << ", "
                 << r->wal_segments << " WAL segment(s), " << r->bytes << " bytes in "
                 << absl::FormatDuration(absl::Now() - start) << " (local log ended at index "
                 << local_last << ")";
      absl::MutexLock gc(&gc_mu_);
      last_gc_index_ = 0;
    }
  }
  if (reopen && !stop_.HasBeenNotified()) {
    if (absl::Status s = OpenSysCatalog(); !s.ok()) {
      KLOG(ERROR) << "reopening the sys catalog replica after a catalog copy: " << s;
    }
  }
  absl::MutexLock l(&copy_mu_);
  copying_ = false;
}

}  // namespace kmend::master
