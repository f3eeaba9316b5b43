// Re-replication end to end on real processes: 4 tablet servers, a table of
// 2 tablets x 3 replicas, rows written through each leader; kill -9 a server
// holding replicas and wait until every tablet is back to 3 voters on live
// servers, each new replica READY with the leader's row checksum; then
// restart the killed server and wait until its replaced replicas are
// TOMBSTONED (the master says so in heartbeat answers).
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;

class RereplicationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  // Tablet id -> server uuid -> replica, over the servers not in `down_`.
  std::map<std::string, std::map<std::string, server::ReplicaStatusPB>> Replicas() {
    std::map<std::string, std::map<std::string, server::ReplicaStatusPB>> out;
    for (int i = 0; i < cluster_->num_tservers(); ++i) {
      if (down_.count(i)) continue;
      auto st = cluster_->GetStatus(cluster_->tserver(i), seconds(2));
      if (!st.ok()) continue;
      for (const auto& r : st->replicas()) out[r.tablet_id()][uuids_[i]] = r;
    }
    return out;
  }

  // uuid -> index of the tablet server.
  int IndexOf(const std::string& uuid) const {
    for (const auto& [i, u] : uuids_) {
      if (u == uuid) return i;
    }
    return -1;
  }

  // The live leader of `tablet_id` with the highest term, or -1.
  int Leader(const std::map<std::string, server::ReplicaStatusPB>& reps) {
    int best = -1;
    int64_t term = -1;
    for (const auto& [uuid, r] : reps) {
      if (r.role() == consensus::RaftPeerPB::LEADER &&
          r.consensus_state().current_term() > term) {
        term = r.consensus_state().current_term();
        best = IndexOf(uuid);
      }
    }
    return best;
  }

  absl::StatusOr<tserver::ChecksumResponsePB> Checksum(int ts, const std::string& tablet_id) {
    tserver::ChecksumRequestPB req;
    req.set_tablet_id(tablet_id);
    tserver::ChecksumResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(5));
    absl::Status s = server::FromGrpcStatus(cluster_->TServerStub(ts)->Checksum(&ctx, req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  absl::Status Write(int ts, const std::string& tablet_id, int first, int n) {
    tserver::WriteRequestPB req;
    req.set_tablet_id(tablet_id);
    for (int i = first; i < first + n; ++i) {
      RowOpPB* op = req.mutable_ops()->add_ops();
      op->set_type(RowOpPB::UPSERT);
      op->add_cells()->set_int64_value(i);
      op->add_cells()->set_string_value(absl::StrCat("row ", i));
    }
    tserver::WriteResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(10));
    return server::FromGrpcStatus(cluster_->TServerStub(ts)->Write(&ctx, req, &resp));
  }

  std::unique_ptr<ExternalCluster> cluster_;
  std::map<int, std::string> uuids_;
  std::set<int> down_;
};

TEST_F(RereplicationTest, DeadServerReplicasAreReplacedAndTombstonedWhenItReturns) {
  ClusterOptions opts;
  opts.num_tservers = 4;
  opts.tserver_unresponsive_timeout_ms = 1500;
  opts.extra_master_flags = {"--rereplication_delay_ms=2000", "--tserver_rpc_timeout_ms=5000"};
  cluster_ = std::make_unique<ExternalCluster>(opts);
  ASSERT_TRUE(cluster_->Start().ok());
  for (int i = 0; i < 4; ++i) {
    auto u = cluster_->TServerUuid(i);
    ASSERT_TRUE(u.ok()) << u.status();
    uuids_[i] = *u;
  }

  master::CreateTableRequestPB req;
  req.set_name("rr");
  auto* c = req.mutable_schema()->add_columns();
  c->set_name("id");
  c->set_type(INT64);
  c->set_is_key(true);
  c = req.mutable_schema()->add_columns();
  c->set_name("name");
  c->set_type(STRING);
  c->set_is_nullable(true);
  req.set_num_tablets(2);
  req.set_num_replicas(3);
  master::CreateTableResponsePB created;
  {
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(30));
    ASSERT_TRUE(server::FromGrpcStatus(cluster_->MasterStub()->CreateTable(&ctx, req, &created))
                    .ok());
  }
  ASSERT_EQ(created.tablet_ids_size(), 2);

  // Rows in each tablet, through its leader (retried until one is elected).
  // Upserts keyed apart per tablet; each tablet keeps what it is sent, so
  // the checksum comparison below only needs replicas of one tablet to agree.
  for (int t = 0; t < 2; ++t) {
    const std::string& id = created.tablet_ids(t);
    ASSERT_TRUE(ExternalCluster::WaitFor(
                    [&] {
                      int leader = Leader(Replicas()[id]);
                      return leader >= 0 && Write(leader, id, t * 1000, 20).ok();
                    },
                    seconds(20), "a write through the leader of " + id)
                    .ok());
  }

  // The victim: a server holding replicas of both tablets if any, else one.
  auto before = Replicas();
  int victim = -1;
  for (int i = 0; i < 4 && victim < 0; ++i) {
    int n = 0;
    for (const auto& [id, reps] : before) n += reps.count(uuids_[i]);
    if (n == 2) victim = i;
  }
  ASSERT_GE(victim, 0);
  const std::string victim_uuid = uuids_[victim];
  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  down_.insert(victim);

  // Every tablet: a leader whose committed config has 3 voters, none on the
  // victim, every voter on a live server, READY, with the leader's checksum.
  std::string last;
  absl::Status healed = ExternalCluster::WaitFor(
      [&] {
        auto now = Replicas();
        for (const std::string& id : created.tablet_ids()) {
          auto& reps = now[id];
          int leader = Leader(reps);
          if (leader < 0) return (last = "no leader of " + id, false);
          const auto& config = reps[uuids_[leader]].consensus_state().committed_config();
          int voters = 0;
          for (const auto& p : config.peers()) {
            if (p.member_type() != consensus::RaftPeerPB::VOTER) {
              return (last = absl::StrCat(id, ": non-voter ", p.permanent_uuid()), false);
            }
            ++voters;
            if (p.permanent_uuid() == victim_uuid) return (last = id + ": victim still voter", false);
            auto r = reps.find(p.permanent_uuid());
            if (r == reps.end() || r->second.data_state() != server::TABLET_DATA_READY) {
              return (last = absl::StrCat(id, ": ", p.permanent_uuid(), " not READY"), false);
            }
          }
          if (voters != 3) return (last = absl::StrCat(id, ": ", voters, " voters"), false);
          auto want = Checksum(leader, id);
          if (!want.ok()) return (last = std::string(want.status().message()), false);
          if (want->row_count() != 20) return (last = "leader row count", false);
          for (const auto& p : config.peers()) {
            auto got = Checksum(IndexOf(p.permanent_uuid()), id);
            if (!got.ok() || got->digest() != want->digest() ||
                got->row_count() != want->row_count()) {
              return (last = absl::StrCat(id, ": checksum of ", p.permanent_uuid()), false);
            }
          }
        }
        return true;
      },
      seconds(45), "every tablet back to 3 voters with equal checksums");
  ASSERT_TRUE(healed.ok()) << healed << " (last: " << last << ")";

  // The killed server returns: its replaced replicas get tombstoned.
  ASSERT_TRUE(cluster_->tserver(victim)->Restart().ok());
  down_.erase(victim);
  absl::Status tombstoned = ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(cluster_->tserver(victim), seconds(2));
        if (!st.ok()) return false;
        int n = 0;
        for (const auto& r : st->replicas()) {
          if (r.data_state() != server::TABLET_DATA_TOMBSTONED) return (last = r.tablet_id(), false);
          ++n;
        }
        return n == 2;
      },
      seconds(20), "the returning server's replicas TOMBSTONED");
  ASSERT_TRUE(tombstoned.ok()) << tombstoned << " (last: " << last << ")";
}

}  // namespace
}  // namespace kmend::testing
