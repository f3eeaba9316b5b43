#include "server/master/rereplicator.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"

namespace kmend::master {

Rereplicator::Rereplicator(TServerRegistry* registry, CatalogManager* catalog, int64_t delay_ms,
                           std::chrono::milliseconds rpc_timeout)
    : registry_(registry), catalog_(catalog), delay_ms_(delay_ms), rpc_timeout_(rpc_timeout) {}

int Rereplicator::RunOnce() {
  std::vector<TServerSnapshot> all = registry_->List();
  // Cheap exit for the common case: nobody has been dead long enough, and no
  // replacement is half done (a NON_VOTER in some leader's config).
  bool work = false;
  for (const TServerSnapshot& ts : all) {
    if (!ts.live && ts.millis_since_heartbeat >= delay_ms_) work = true;
    for (const auto& [id, r] : ts.replicas) {
      for (const auto& p : r.consensus_state().committed_config().peers()) {
        work |= p.member_type() == consensus::RaftPeerPB::NON_VOTER;
      }
    }
  }
  if (!work) return 0;

  std::map<std::string, ServerView> servers;
  for (const TServerSnapshot& ts : all) {
    ServerView& v = servers[ts.registration.permanent_uuid()];
    v.address = server::HostPortToString(ts.registration.rpc_address());
    v.live = ts.live;
    v.reported = ts.reported;
    v.millis_since_heartbeat = ts.millis_since_heartbeat;
    for (const auto& [id, r] : ts.replicas) v.replicas[id] = r.data_state();
  }
  std::map<std::string, int64_t> load = catalog_->ReplicaCounts();
  int done = 0;
  for (const TableInfoPB& info : catalog_->ListTables("")) {
    auto table = catalog_->GetTable("", info.table_id());
    if (!table.ok()) continue;
    for (const SysTabletPB& t : table->tablets) {
      // The leader with the highest term among live servers' reports, and
      // the config it reports (newer than or equal to the catalog's).
      std::string leader;
      int64_t leader_term = -1;
      consensus::RaftConfigPB config = t.config();
      for (const TServerSnapshot& ts : all) {
        if (!ts.live) continue;
        auto r = ts.replicas.find(t.tablet_id());
        if (r == ts.replicas.end() || r->second.role() != consensus::RaftPeerPB::LEADER) continue;
        const auto& cs = r->second.consensus_state();
        if (cs.current_term() > leader_term) {
          leader_term = cs.current_term();
          leader = ts.registration.permanent_uuid();
          if (cs.committed_config().opid_index() >= config.opid_index()) {
            config = cs.committed_config();
          }
        }
      }
      RereplicationAction a = NextRereplicationStep(t.tablet_id(), config, leader,
                                                    info.num_replicas(), servers, load, delay_ms_);
      if (a.type == RereplicationAction::kNone) continue;
      KLOG(INFO) << "re-replication of tablet " << t.tablet_id() << ": " << ActionName(a.type)
                 << " " << a.peer_uuid << " (" << a.reason << ")";
      absl::Status s = Execute(a);
      if (!s.ok()) {
        KLOG(WARNING) << "re-replication of tablet " << t.tablet_id() << ": "
                      << ActionName(a.type) << " " << a.peer_uuid << ": " << s;
        continue;
      }
      ++done;
      if (a.type == RereplicationAction::kAddNonVoter) ++load[a.peer_uuid];
    }
  }
  return done;
}

absl::Status Rereplicator::Execute(const RereplicationAction& a) {
  if (a.type == RereplicationAction::kCopy) {
    auto stub = tserver::TabletServerService::NewStub(server::NewChannel(a.peer_address));
    tserver::CreateTabletRequestPB req;
    req.set_dest_uuid(a.peer_uuid);
    req.set_tablet_id(a.tablet_id);
    req.set_copy_from_address(a.leader_address);
    tserver::CreateTabletResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, rpc_timeout_ * 10);
    absl::Status s = server::FromGrpcStatus(
        stub->CreateTablet(&ctx, req, &resp),
        absl::StrCat("CreateTablet (copy from ", a.leader_address, ") on ", a.peer_uuid));
    // A copy that finished after the previous pass's snapshot: done.
    return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
  }
  tserver::ChangeConfigRequestPB req;
  req.set_tablet_id(a.tablet_id);
  req.set_cas_config_opid_index(a.cas_config_opid_index);
  consensus::RaftPeerPB* peer = req.mutable_peer();
  peer->set_permanent_uuid(a.peer_uuid);
  switch (a.type) {
    case RereplicationAction::kAddNonVoter: {
      req.set_type(tserver::ADD_PEER);
      peer->set_member_type(consensus::RaftPeerPB::NON_VOTER);
      peer->mutable_attrs()->set_promote(true);
      auto ts = registry_->Get(a.peer_uuid);
      if (!ts.has_value()) return absl::NotFoundError("target server left the registry");
      *peer->mutable_last_known_addr() = ts->registration.rpc_address();
      break;
    }
    case RereplicationAction::kPromote:
      req.set_type(tserver::MODIFY_PEER);
      peer->set_member_type(consensus::RaftPeerPB::VOTER);
      peer->mutable_attrs()->set_promote(false);
      break;
    case RereplicationAction::kRemove:
      req.set_type(tserver::REMOVE_PEER);
      break;
    default:
      return absl::InternalError("unexpected re-replication step");
  }
  auto stub = tserver::ConsensusService::NewStub(server::NewChannel(a.leader_address));
  tserver::ChangeConfigResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, rpc_timeout_);
  return server::FromGrpcStatus(
      stub->ChangeConfig(&ctx, req, &resp),
      absl::StrCat("ChangeConfig ", ActionName(a.type), " ", a.peer_uuid, " on leader ",
                   a.leader_uuid, " (", a.leader_address, ")"));
}

}  // namespace kmend::master
