// The heartbeat report: built once per interval for every master thread, and
// the incremental report against an acknowledged one (issue 15).
#include "server/tserver/heartbeat_report.h"

#include <stdlib.h>

#include "gtest/gtest.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"

namespace kmend::tserver {
namespace {

class HeartbeatReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/hb.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    auto info = fs::Format(tmpl);
    ASSERT_TRUE(info.ok()) << info.status();
    uuid_ = info->uuid;
    manager_ = std::make_unique<TabletManager>(fs::Layout(tmpl), uuid_);
    ASSERT_TRUE(manager_->Open().ok());
  }
  void Create(const std::string& id) {
    CreateTabletRequestPB req;
    req.set_tablet_id(id);
    req.set_table_id("tableid");
    req.set_table_name("t");
    auto* c = req.mutable_schema()->add_columns();
    c->set_name("id");
    c->set_type(INT64);
    c->set_is_key(true);
    auto* config = req.mutable_initial_config();
    config->set_opid_index(-1);
    auto* p = config->add_peers();
    p->set_permanent_uuid(uuid_);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    ASSERT_TRUE(manager_->CreateTablet(req).ok());
  }
  static std::vector<std::string> Ids(const master::HeartbeatRequestPB& req) {
    std::vector<std::string> out;
    for (const auto& r : req.replicas()) out.push_back(r.tablet_id());
    return out;
  }
  std::string uuid_;
  std::unique_ptr<TabletManager> manager_;
};

const std::string kA = "0123456789abcdef0123456789abcdea";
const std::string kB = "0123456789abcdef0123456789abcdeb";
const std::string kC = "0123456789abcdef0123456789abcdec";

TEST_F(HeartbeatReportTest, AReportYoungerThanItsMaxAgeIsSharedNotBuiltAgain) {
  Create(kA);
  HeartbeatReportBuilder builder(manager_.get(), absl::Hours(1));
  auto first = builder.Get();
  auto second = builder.Get();  // another master's thread, same interval
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(builder.builds(), 1);
  EXPECT_EQ(first->replicas->size(), 1u);
}

TEST_F(HeartbeatReportTest, OnlyChangedAddedAndRemovedReplicasGoInAnIncrementalReport) {
  Create(kA);
  Create(kB);
  HeartbeatReportBuilder builder(manager_.get(), absl::ZeroDuration());
  auto acked = builder.Get();

  master::HeartbeatRequestPB full;
  FillReport(*acked, nullptr, -1, &full);
  EXPECT_TRUE(full.is_full_report());
  EXPECT_EQ(Ids(full), (std::vector<std::string>{kA, kB}));

  // Nothing changed: an empty incremental report on base 7.
  auto same = builder.Get();
  EXPECT_EQ(builder.builds(), 2);
  // Their keys did not change: no status computed again.
  EXPECT_EQ(builder.statuses_computed(), 2);
  EXPECT_EQ(same->replicas->at(kA).get(), acked->replicas->at(kA).get());
  EXPECT_EQ(same->replicas, acked->replicas);  // the very same map
  master::HeartbeatRequestPB idle;
  FillReport(*same, acked.get(), 7, &idle);
  EXPECT_FALSE(idle.is_full_report());
  EXPECT_EQ(idle.base_sequence_number(), 7);
  EXPECT_EQ(idle.replicas_size(), 0);
  EXPECT_EQ(idle.removed_tablet_ids_size(), 0);

  // kA tombstoned (changed), kB deleted (removed), kC created (added).
  ASSERT_TRUE(manager_->DeleteTablet(kA, /*tombstone=*/true, "test", std::nullopt).ok());
  ASSERT_TRUE(manager_->DeleteTablet(kB, /*tombstone=*/false, "test", std::nullopt).ok());
  Create(kC);
  auto now = builder.Get();
  master::HeartbeatRequestPB delta;
  FillReport(*now, acked.get(), 7, &delta);
  EXPECT_FALSE(delta.is_full_report());
  EXPECT_EQ(Ids(delta), (std::vector<std::string>{kA, kC}));
  EXPECT_EQ(delta.replicas(0).data_state(), server::TABLET_DATA_TOMBSTONED);
  ASSERT_EQ(delta.removed_tablet_ids_size(), 1);
  EXPECT_EQ(delta.removed_tablet_ids(0), kB);
  // Only the changed and the new replica were computed.
  EXPECT_EQ(builder.statuses_computed(), 4);
}

// A replica created between two others (ids ascend) is the only status
// computed: the others are paired with their previous entries by id, not by
// position. Paired by position, every replica after a new one counted as
// changed: while a table of 1,000 tablets was created, nearly every report
// recomputed most statuses (issue 15).
TEST_F(HeartbeatReportTest, AReplicaCreatedInTheMiddleIsTheOnlyStatusComputed) {
  Create(kA);
  Create(kC);
  HeartbeatReportBuilder builder(manager_.get(), absl::ZeroDuration());
  auto before = builder.Get();
  EXPECT_EQ(builder.statuses_computed(), 2);
  Create(kB);
  auto after = builder.Get();
  EXPECT_EQ(builder.statuses_computed(), 3);
  ASSERT_EQ(after->replicas->size(), 3u);
  EXPECT_EQ(after->replicas->at(kA).get(), before->replicas->at(kA).get());
  EXPECT_EQ(after->replicas->at(kC).get(), before->replicas->at(kC).get());
  // And removed from the middle: nothing computed at all.
  ASSERT_TRUE(manager_->DeleteTablet(kB, /*tombstone=*/false, "test", std::nullopt).ok());
  auto removed = builder.Get();
  EXPECT_EQ(builder.statuses_computed(), 3);
  EXPECT_EQ(removed->replicas->size(), 2u);
  EXPECT_EQ(removed->replicas->at(kC).get(), before->replicas->at(kC).get());
}

// The periodic full refresh computes every status again, key or not (a
// bound on a change the key would miss), and keeps unchanged entries shared.
TEST_F(HeartbeatReportTest, AFullRefreshComputesEveryStatusAgain) {
  Create(kA);
  Create(kB);
  HeartbeatReportBuilder builder(manager_.get(), absl::ZeroDuration(),
                                 /*full_refresh=*/absl::ZeroDuration());
  auto first = builder.Get();
  auto second = builder.Get();
  EXPECT_EQ(builder.statuses_computed(), 4);
  EXPECT_EQ(second->replicas->at(kA).get(), first->replicas->at(kA).get());
}

}  // namespace
}  // namespace kmend::tserver
