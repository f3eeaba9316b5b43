// docs: kmend_target.h
#include "bench/failover/kmend_target.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lib/client/table_writer.h"
#include "lib/rpc/grpc_util.h"
#include "proto/master.grpc.pb.h"

namespace kmend::bench {
namespace {

constexpr size_t kStringLen = 92;  // + the 8-byte key: 100-byte rows
constexpr auto kRpcTimeout = std::chrono::milliseconds(200);

// (server/common/grpc_util is not visible outside server/ and tools/.)
void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

absl::Status KmendTarget::Start() {
  testing::ClusterOptions opts = options_;
  // No re-replication while a killed server is down between trials.
  opts.extra_master_flags.push_back("--rereplication_delay_ms=3600000");
  cluster_ = std::make_unique<testing::ExternalCluster>(opts);
  absl::Status s = cluster_->Start();
  if (!s.ok()) return s;
  master::CreateTableRequestPB req;
  req.set_name("failover");
  auto* id = req.mutable_schema()->add_columns();
  id->set_name("id");
  id->set_type(INT64);
  id->set_is_key(true);
  auto* payload = req.mutable_schema()->add_columns();
  payload->set_name("payload");
  payload->set_type(STRING);
  req.set_num_tablets(1);
  req.set_num_replicas(3);
  master::CreateTableResponsePB resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, std::chrono::seconds(10));
  s = FromGrpc(cluster_->MasterStub()->CreateTable(&ctx, req, &resp), "CreateTable");
  if (!s.ok()) return s;
  auto loc = client::TableLocator::Open(cluster_->master_address(), "failover", kRpcTimeout);
  if (!loc.ok()) return loc.status();
  locator_ = std::move(*loc);
  tablet_id_ = locator_->route(0).tablet_id;
  for (int i = 0; i < num_members(); ++i) {
    auto uuid = cluster_->TServerUuid(i);
    if (!uuid.ok()) return uuid.status();
    uuids_.push_back(*uuid);
    status_stubs_.push_back(server::StatusService::NewStub(
        rpc::NewChannel(cluster_->tserver(i)->address())));
  }
  // The first election takes 1-2 s; wait for a leader all agree on.
  return testing::ExternalCluster::WaitFor([&] { return FindLeader().ok(); },
                                           std::chrono::seconds(30), "a tablet leader");
}

absl::StatusOr<FailoverTarget::Probe> KmendTarget::ProbeMember(int i) {
  server::GetStatusRequestPB req;
  req.add_tablet_ids(tablet_id_);
  server::GetStatusResponsePB resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, std::chrono::milliseconds(100));
  absl::Status s =
      FromGrpc(status_stubs_[i]->GetStatus(&ctx, req, &resp), "GetStatus");
  if (!s.ok()) return s;
  for (const auto& rep : resp.replicas()) {
    if (rep.tablet_id() != tablet_id_) continue;
    Probe p;
    p.self_id = uuids_[i];
    p.term = rep.consensus_state().current_term();
    // A replica that is LEADER knows itself; a follower learns the leader
    // from its first append.
    if (rep.role() == consensus::RaftPeerPB::LEADER) {
      p.leader_id = uuids_[i];
    } else {
      p.leader_id = rep.consensus_state().leader_uuid();
    }
    return p;
  }
  return absl::NotFoundError(absl::StrCat("tserver ", i, " has no replica of ", tablet_id_));
}

absl::Status KmendTarget::WriteOne(int64_t seq, int64_t* acked_term) {
  *acked_term = -1;  // TableWriter does not report the op's term
  thread_local std::unique_ptr<client::TableWriter> writer;
  if (writer == nullptr) {
    writer = std::make_unique<client::TableWriter>(
        locator_.get(), absl::FromChrono(kRpcTimeout));
  }
  std::vector<tablet::Row> rows = {
      client::GeneratedRow(locator_->schema(), seq, kStringLen)};
  auto r = writer->Write(rows, RowOpPB::UPSERT);
  if (!r.ok()) return r.status();
  if (r->outcomes[0] != client::RowOutcome::kAcked) {
    return absl::UnavailableError(r->messages.empty() ? "not acknowledged" : r->messages[0]);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> KmendTarget::FindLeader() {
  int leader = -1;
  std::string leader_uuid;
  for (int i = 0; i < num_members(); ++i) {
    auto p = ProbeMember(i);
    if (!p.ok()) return p.status();
    if (p->leader_id.empty()) return absl::UnavailableError("a replica knows no leader");
    if (!leader_uuid.empty() && p->leader_id != leader_uuid) {
      return absl::UnavailableError("replicas disagree on the leader");
    }
    leader_uuid = p->leader_id;
  }
  for (int i = 0; i < num_members(); ++i) {
    if (uuids_[i] == leader_uuid) leader = i;
  }
  if (leader < 0) return absl::NotFoundError("the leader is not one of the three servers");
  return leader;
}

absl::Status KmendTarget::Kill(int i) { return cluster_->tserver(i)->KillNine(); }

absl::Status KmendTarget::Restart(int i) {
  absl::Status s = cluster_->tserver(i)->Restart();
  if (!s.ok()) return s;
  return testing::ExternalCluster::WaitFor([&] { return FindLeader().ok(); },
                                           std::chrono::seconds(30),
                                           "the restarted server to follow the leader");
}

}  // namespace kmend::bench
