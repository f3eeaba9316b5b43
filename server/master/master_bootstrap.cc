// Master start-up, part one: the sys-catalog Raft config a master starts
// with, found from --master_addrs by asking each address for its uuid (peer
// discovery). The rest of the master's life is in master.cc.
#include "server/master/master.h"

#include <signal.h>

#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/raft/config.h"
#include "proto/status.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "server/master/peer_discovery.h"
#include "lib/fs/layout.h"
#include "lib/util/status_macros.h"

namespace kmend::master {
namespace {

// A master's status as its StatusService reports it.
absl::StatusOr<server::GetStatusResponsePB> AskStatus(
    const std::string& address,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(1000)) {
  auto stub = server::StatusService::NewStub(server::NewChannel(address));
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, deadline);
  server::GetStatusRequestPB req;
  req.set_include_replicas(false);
  server::GetStatusResponsePB resp;
  absl::Status s = server::FromGrpcStatus(stub->GetStatus(&ctx, req, &resp),
                                          absl::StrCat("GetStatus at ", address));
  if (!s.ok()) return s;
  if (resp.server().role() != server::MASTER) {
    return absl::FailedPreconditionError(absl::StrCat(
        address, " is a ", server::ServerRole_Name(resp.server().role()),
        ", not a master; --master_addrs must list masters only"));
  }
  return resp;
}

bool Lists(const consensus::RaftConfigPB& config, const std::string& uuid) {
  for (const auto& p : config.peers()) {
    if (p.permanent_uuid() == uuid) return true;
  }
  return false;
}

}  // namespace

absl::Status Master::CheckStillAMember(const raft::RaftStatus& st,
                                       absl::Duration deadline) const {
  const consensus::RaftConfigPB& mine = st.committed_config;
  std::vector<std::pair<std::string, std::string>> peers;  // uuid, address
  for (const auto& p : mine.peers()) {
    if (p.permanent_uuid() == uuid_ || !p.has_last_known_addr()) continue;
    peers.emplace_back(p.permanent_uuid(), PeerAddress(p));
  }
  if (peers.empty()) return absl::OkStatus();
  // In parallel: a dead peer on loopback refuses at once, but a stopped or
  // cut-off one costs the whole deadline, once.
  std::vector<absl::StatusOr<server::GetStatusResponsePB>> answers(
      peers.size(), absl::UnavailableError("not asked"));
  {
    std::vector<std::thread> askers;
    for (size_t i = 0; i < peers.size(); ++i) {
      askers.emplace_back([&, i] {
        answers[i] = AskStatus(peers[i].second, absl::ToChronoMilliseconds(deadline));
      });
    }
    for (std::thread& t : askers) t.join();
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    if (!answers[i].ok() || !answers[i]->master().has_catalog_consensus_state()) continue;
    const consensus::RaftConfigPB& theirs =
        answers[i]->master().catalog_consensus_state().committed_config();
    const bool newer = std::make_pair(theirs.opid_term(), theirs.opid_index()) >
                       std::make_pair(mine.opid_term(), mine.opid_index());
    if (!newer || Lists(theirs, uuid_)) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", uuid_, " was dropped from the sys catalog: master ",
        answers[i]->server().uuid(), " at ", peers[i].second, " runs the catalog config ",
        raft::ConfigSummary(theirs), " (op ", theirs.opid_term(), ".", theirs.opid_index(),
        theirs.unsafe_config_change() ? ", forced" : "", "), newer than this master's ",
        raft::ConfigSummary(mine), " (op ", mine.opid_term(), ".", mine.opid_index(),
        "), and without this master. Its catalog data in ", options_.fs_root,
        " is stale and must not serve: empty that directory and add the master again with "
        "`kmend master add` (docs/runbooks/dead-masters.md)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<consensus::RaftConfigPB> Master::BootstrapConfig() {
  consensus::RaftConfigPB config;
  config.set_opid_index(-1);
  if (options_.master_addresses.size() <= 1) {
    auto* p = config.add_peers();
    p->set_permanent_uuid(uuid_);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    if (options_.master_addresses.empty()) {
      *p->mutable_last_known_addr() = rpc_.address();
    } else {
      ASSIGN_OR_RETURN(*p->mutable_last_known_addr(),
                       server::ParseHostPort(options_.master_addresses[0]));
    }
    return config;
  }
  // Several masters on a data dir with catalog state but no replicated
  // config: the others start empty, so the states would differ.
  if (store_->applied().version() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        options_.fs_root, "/", fs::kMasterCatalogFileName, " holds a single master's catalog (version ",
        store_->applied().version(),
        ") but no sys-catalog consensus metadata: a multi-master catalog must start empty on "
        "every master (start this master alone, without --master_addrs, to keep that catalog)"));
  }
  std::vector<std::string> uuids(options_.master_addresses.size());
  absl::Time deadline = absl::Now() + absl::Milliseconds(options_.peer_discovery_timeout_ms);
  absl::Time next_log = absl::Now() + absl::Seconds(5);
  while (true) {
    std::vector<std::string> missing;
    for (size_t i = 0; i < uuids.size(); ++i) {
      if (!uuids[i].empty()) continue;
      absl::StatusOr<server::GetStatusResponsePB> u = AskStatus(options_.master_addresses[i]);
      if (u.ok() && CatalogNotOpenYet(*u)) {
        missing.push_back(absl::StrCat(options_.master_addresses[i],
                                       " has a catalog it has not opened yet"));
      } else if (u.ok()) {
        uuids[i] = u->server().uuid();
        if (std::optional<consensus::RaftConfigPB> running = EstablishedConfigWithout(*u, uuid_)) {
          // A running catalog without this master: start as a non-member
          // of its config (never campaigns, never votes) and wait for the
          // leader to add it (`kmend master add`) and send it the log or a
          // catalog copy.
          KLOG(WARNING) << "master " << options_.master_addresses[i] << " (" << uuids[i]
                        << ") runs a catalog whose config " << raft::ConfigSummary(*running)
                        << " does not include this master (" << uuid_
                        << "): joining as a non-member; add it with `kmend master add`";
          return *running;
        }
      } else if (absl::IsFailedPrecondition(u.status())) {
        return u.status();
      } else {
        missing.push_back(std::string(u.status().message()));
      }
    }
    if (missing.empty()) break;
    // main() blocks SIGTERM/SIGINT and waits for them only after Start, so
    // look for a pending one here: an operator can still stop a master
    // whose peers never come.
    sigset_t pending;
    if (sigpending(&pending) == 0 &&
        (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1)) {
      return absl::CancelledError("shutdown signal while waiting for the other masters");
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the other masters did not answer within ", options_.peer_discovery_timeout_ms,
          " ms: ", absl::StrJoin(missing, "; ")));
    }
    if (absl::Now() > next_log) {
      KLOG(INFO) << "waiting for the other masters: " << absl::StrJoin(missing, "; ");
      next_log = absl::Now() + absl::Seconds(5);
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (std::find(uuids.begin(), uuids.end(), uuid_) == uuids.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--master_addrs ", absl::StrJoin(options_.master_addresses, ","),
                     " does not include this master (", uuid_, "): no address answered with it"));
  }
  if (std::set<std::string>(uuids.begin(), uuids.end()).size() != uuids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--master_addrs lists one master twice (uuids ", absl::StrJoin(uuids, ","), ")"));
  }
  for (size_t i = 0; i < uuids.size(); ++i) {
    auto* p = config.add_peers();
    p->set_permanent_uuid(uuids[i]);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    ASSIGN_OR_RETURN(*p->mutable_last_known_addr(),
                     server::ParseHostPort(options_.master_addresses[i]));
  }
  return config;
}

}  // namespace kmend::master
