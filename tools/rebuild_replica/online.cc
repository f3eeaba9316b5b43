#include "tools/rebuild_replica/online.h"

#include <map>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/check/status_facts.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "proto/tablet_copy.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::rebuild_tool {
namespace {

bool IsHostPort(const std::string& s) { return net::ParseHostPort(s).ok(); }

struct StatusAnswer {
  bool ok = false;
  std::string error;
  std::string server_uuid;
  std::optional<server::ReplicaStatusPB> replica;
};

StatusAnswer AskStatus(const std::string& address, const std::string& tablet_id,
                       std::chrono::milliseconds timeout) {
  StatusAnswer a;
  if (address.empty()) {
    a.error = "no known address";
    return a;
  }
  auto stub = server::StatusService::NewStub(rpc::NewChannel(address));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, timeout);
  server::GetStatusRequestPB req;
  req.add_tablet_ids(tablet_id);
  server::GetStatusResponsePB resp;
  grpc::Status s = stub->GetStatus(&ctx, req, &resp);
  if (!s.ok()) {
    a.error = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? "deadline exceeded"
                                                                     : s.error_message();
    return a;
  }
  a.ok = true;
  a.server_uuid = resp.server().uuid();
  for (const auto& r : resp.replicas()) {
    if (r.tablet_id() == tablet_id) a.replica = r;
  }
  return a;
}

rebuild::PeerFacts ToPeer(const std::string& uuid, const std::string& address,
                          const StatusAnswer& a) {
  rebuild::PeerFacts p;
  p.uuid = uuid.empty() ? a.server_uuid : uuid;
  p.address = address;
  p.reachable = a.ok;
  p.error = a.error;
  if (a.ok && !uuid.empty() && a.server_uuid != uuid) {
    // Another server now listens at the address the config remembers.
    p.reachable = false;
    p.error = absl::StrCat(address, " is now tablet server ", a.server_uuid);
    return p;
  }
  if (a.replica) {
    p.replica = check::ToReplicaFacts(*a.replica);
    p.running = p.replica->data_state == check::DataState::kReady &&
                p.replica->role != check::Role::kUnknown;
  }
  return p;
}

// The master's view: config and the servers' current addresses.
absl::Status FromMasters(const OnlineOptions& o, rebuild::TabletFacts* facts,
                         std::map<std::string, std::string>* addresses) {
  std::vector<std::string> errors;
  for (const std::string& m : o.masters) {
    auto stub = master::MasterService::NewStub(rpc::NewChannel(m));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, o.rpc_timeout);
    master::GetTabletLocationsRequestPB req;
    req.add_tablet_ids(o.tablet_id);
    master::GetTabletLocationsResponsePB resp;
    grpc::Status s = stub->GetTabletLocations(&ctx, req, &resp);
    if (!s.ok()) {
      errors.push_back(absl::StrCat(m, ": ", s.error_message()));
      continue;
    }
    if (resp.tablets_size() == 0) {
      return absl::NotFoundError(
          absl::StrCat("the master at ", m, " knows no tablet ", o.tablet_id));
    }
    const master::TabletLocationsPB& loc = resp.tablets(0);
    facts->config = loc.config();
    facts->config_from = "master";
    for (const auto& p : loc.config().peers()) {
      if (p.has_last_known_addr()) {
        (*addresses)[p.permanent_uuid()] = net::HostPortToString(p.last_known_addr());
      }
    }
    for (const auto& r : loc.replicas()) {
      if (r.has_rpc_address()) (*addresses)[r.ts_uuid()] = net::HostPortToString(r.rpc_address());
    }
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("no master answered GetTabletLocations: ", absl::StrJoin(errors, "; ")));
}

// Without masters: the newest committed config among the replicas at the
// addresses given.
absl::Status FromReplicas(const OnlineOptions& o, rebuild::TabletFacts* facts,
                          std::map<std::string, std::string>* addresses) {
  std::vector<std::string> tried;
  int64_t best = -2;
  for (const std::string& who : {o.request.source, o.request.target}) {
    if (who.empty() || !IsHostPort(who)) continue;
    StatusAnswer a = AskStatus(who, o.tablet_id, o.rpc_timeout);
    if (!a.ok) {
      tried.push_back(absl::StrCat(who, ": ", a.error));
      continue;
    }
    (*addresses)[a.server_uuid] = who;
    if (!a.replica || !a.replica->has_consensus_state()) {
      tried.push_back(absl::StrCat(who, ": no replica with a config"));
      continue;
    }
    const auto& c = a.replica->consensus_state().committed_config();
    if (c.peers_size() > 0 && c.opid_index() > best) {
      best = c.opid_index();
      facts->config = c;
      facts->config_from = absl::StrCat("replica on ", a.server_uuid);
    }
  }
  if (best == -2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot find tablet ", o.tablet_id,
        "'s config: give --masters, or --tserver/--source as HOST:PORT of servers hosting it",
        tried.empty() ? "" : absl::StrCat(" (", absl::StrJoin(tried, "; "), ")")));
  }
  for (const auto& p : facts->config.peers()) {
    if (p.has_last_known_addr() && !addresses->count(p.permanent_uuid())) {
      (*addresses)[p.permanent_uuid()] = net::HostPortToString(p.last_known_addr());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<rebuild::TabletFacts> CollectFacts(const OnlineOptions& o) {
  rebuild::TabletFacts facts;
  facts.tablet_id = o.tablet_id;
  std::map<std::string, std::string> addresses;  // uuid -> host:port
  if (!o.masters.empty()) {
    absl::Status s = FromMasters(o, &facts, &addresses);
    if (!s.ok()) return s;
  } else {
    absl::Status s = FromReplicas(o, &facts, &addresses);
    if (!s.ok()) return s;
  }
  // Every member, concurrently.
  const auto& peers = facts.config.peers();
  facts.peers.resize(peers.size());
  std::vector<std::thread> threads;
  for (int i = 0; i < peers.size(); ++i) {
    threads.emplace_back([&, i] {
      const auto& member = peers[i];
      auto it = addresses.find(member.permanent_uuid());
      std::string address = it == addresses.end() ? "" : it->second;
      rebuild::PeerFacts p =
          ToPeer(member.permanent_uuid(), address, AskStatus(address, o.tablet_id, o.rpc_timeout));
      p.in_config = true;
      p.voter = member.member_type() == consensus::RaftPeerPB::VOTER;
      facts.peers[i] = std::move(p);
    });
  }
  for (std::thread& t : threads) t.join();
  // A target named by an address outside the config: ask it who it is, so
  // the planner can say it is not a member.
  if (rebuild::FindPeer(facts, o.request.target) == nullptr && IsHostPort(o.request.target)) {
    StatusAnswer a = AskStatus(o.request.target, o.tablet_id, o.rpc_timeout);
    if (a.ok && rebuild::FindPeer(facts, a.server_uuid) != nullptr) {
      // The config remembers an older address of this server.
      for (rebuild::PeerFacts& p : facts.peers) {
        if (p.uuid == a.server_uuid) p.address = o.request.target;
      }
    } else if (a.ok) {
      facts.peers.push_back(ToPeer("", o.request.target, a));
    }
  }
  return facts;
}

absl::Status SizeCopy(const OnlineOptions& o, rebuild::Plan* plan) {
  return SizeCopyFrom(plan->source.address, plan->target.uuid, o.tablet_id, o.rpc_timeout, plan);
}

absl::Status SizeCopyFrom(const std::string& source_address, const std::string& requestor_uuid,
                          const std::string& tablet_id, std::chrono::milliseconds rpc_timeout,
                          rebuild::Plan* plan) {
  auto stub = tserver::TabletCopyService::NewStub(rpc::NewChannel(source_address));
  tserver::BeginTabletCopySessionRequestPB req;
  req.set_requestor_uuid(requestor_uuid);
  req.set_tablet_id(tablet_id);
  tserver::BeginTabletCopySessionResponsePB resp;
  {
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, rpc_timeout);
    grpc::Status s = stub->BeginTabletCopySession(&ctx, req, &resp);
    if (!s.ok()) return rpc::FromGrpcStatus(s, "sizing the copy: BeginTabletCopySession");
  }
  int64_t bytes = 0;
  int blocks = 0, segments = 0;
  for (const auto& item : resp.items()) {
    if (item.id().type() == tserver::DataIdPB::BLOCK) {
      bytes += item.size_bytes();
      ++blocks;
    } else if (item.id().type() == tserver::DataIdPB::LOG_SEGMENT) {
      bytes += item.size_bytes();
      ++segments;
    }
  }
  plan->session_bytes = bytes;
  plan->session_blocks = blocks;
  plan->session_wal_segments = segments;
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, rpc_timeout);
  tserver::EndTabletCopySessionRequestPB end;
  end.set_session_id(resp.session_id());
  end.set_is_success(false);
  tserver::EndTabletCopySessionResponsePB end_resp;
  // Best effort: an abandoned session expires on the source by itself.
  (void)stub->EndTabletCopySession(&ctx, end, &end_resp);
  return absl::OkStatus();
}

absl::StatusOr<tserver::StartTabletCopyResponsePB> StartCopy(const OnlineOptions& o,
                                                             const rebuild::Plan& plan,
                                                             const std::string& caller_id,
                                                             bool check_only) {
  auto stub = tserver::ConsensusService::NewStub(rpc::NewChannel(plan.target.address));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, o.rpc_timeout);
  tserver::StartTabletCopyRequestPB req;
  req.set_dest_uuid(plan.target.uuid);
  req.set_tablet_id(o.tablet_id);
  req.set_copy_peer_uuid(plan.source.uuid);
  req.set_copy_peer_addr(plan.source.address);
  req.set_force(o.request.force);
  req.set_caller_id(caller_id);
  req.set_max_bytes_per_sec(o.max_bytes_per_sec);
  req.set_check_only(check_only);
  tserver::StartTabletCopyResponsePB resp;
  grpc::Status s = stub->StartTabletCopy(&ctx, req, &resp);
  if (!s.ok()) {
    return rpc::FromGrpcStatus(s, absl::StrCat(plan.target.address, ": StartTabletCopy"));
  }
  return resp;
}

rebuild::Sample Poll(const OnlineOptions& o, const rebuild::Plan& plan,
                     const rebuild::TabletFacts& facts) {
  rebuild::Sample sample;
  {
    auto stub = tserver::ConsensusService::NewStub(rpc::NewChannel(plan.target.address));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, o.rpc_timeout);
    tserver::GetTabletCopyProgressRequestPB req;
    req.set_tablet_id(o.tablet_id);
    tserver::GetTabletCopyProgressResponsePB resp;
    grpc::Status s = stub->GetTabletCopyProgress(&ctx, req, &resp);
    if (s.ok()) {
      sample.copy = resp.progress();
    } else if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
      sample.target_error = s.error_message();
      return sample;
    }
  }
  StatusAnswer t = AskStatus(plan.target.address, o.tablet_id, o.rpc_timeout);
  sample.target_reachable = t.ok;
  sample.target_error = t.error;
  if (t.replica) sample.target = check::ToReplicaFacts(*t.replica);
  // The leader's commit index: ask the other members (the leader may have
  // changed since the plan). The rebuilt target itself may have been
  // elected (its peers lost their leader meanwhile): its own answer counts,
  // or the wait would never end.
  std::optional<std::pair<int64_t, check::OpId>> best;  // term, committed
  auto consider = [&best](const StatusAnswer& a) {
    if (!a.replica || a.replica->role() != consensus::RaftPeerPB::LEADER) return;
    int64_t term = a.replica->consensus_state().current_term();
    if (!best || term > best->first) {
      best = std::make_pair(term, check::ToOpId(a.replica->last_committed_opid()));
    }
  };
  consider(t);
  for (const rebuild::PeerFacts& p : facts.peers) {
    if (p.uuid == plan.target.uuid || !p.in_config) continue;
    consider(AskStatus(p.address, o.tablet_id, o.rpc_timeout));
  }
  if (best) sample.leader_committed = best->second;
  return sample;
}

}  // namespace kmend::rebuild_tool
