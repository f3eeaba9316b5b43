// Offline consensus surgery: the pure edits, and EditConsensusMeta's rules
// (lock refused, dry run writes nothing, backup first, atomic replace).
#include "lib/recover/offline.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/dir_lock.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/audit/audit_log.h"
#include "lib/recover/cmeta_edit.h"

namespace kmend::recover {
namespace {

using consensus::ConsensusMetadataPB;
using consensus::RaftPeerPB;
using ::testing::HasSubstr;

ConsensusMetadataPB ThreeVoters(int64_t term) {
  ConsensusMetadataPB c;
  c.set_current_term(term);
  c.set_voted_for("a");
  for (const char* u : {"a", "b", "c"}) {
    RaftPeerPB* p = c.mutable_committed_config()->add_peers();
    p->set_permanent_uuid(u);
    p->set_member_type(RaftPeerPB::VOTER);
    p->mutable_last_known_addr()->set_host("127.0.0.1");
    p->mutable_last_known_addr()->set_port(7100);
  }
  c.mutable_committed_config()->set_opid_index(5);
  c.mutable_committed_config()->set_opid_term(1);
  return c;
}

TEST(CmetaEditTest, PeerSpecsParseUuidHostPort) {
  auto p = ParsePeerSpec("abc:[::1]:7050");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->permanent_uuid(), "abc");
  EXPECT_EQ(p->last_known_addr().host(), "::1");
  EXPECT_EQ(p->last_known_addr().port(), 7050);
  EXPECT_EQ(p->member_type(), RaftPeerPB::VOTER);
  EXPECT_FALSE(ParsePeerSpec("abc").ok());
  EXPECT_FALSE(ParsePeerSpec(":h:1").ok());
  EXPECT_THAT(std::string(ParsePeerSpec("abc:h:99999").status().message()),
              HasSubstr("abc:h:99999"));
}

TEST(CmetaEditTest, RewriteKeepsTheConfigPositionAndRefusesAnInvalidConfig) {
  auto p = ParsePeerSpec("c:127.0.0.1:7102");
  ASSERT_TRUE(p.ok());
  auto out = RewriteRaftConfig(ThreeVoters(3), {*p});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->committed_config().peers_size(), 1);
  EXPECT_EQ(out->committed_config().opid_index(), 5);
  EXPECT_EQ(out->current_term(), 3);
  EXPECT_FALSE(RewriteRaftConfig(ThreeVoters(3), {*p, *p}).ok());  // duplicate uuid
  EXPECT_FALSE(RewriteRaftConfig(ThreeVoters(3), {}).ok());        // no voter
}

TEST(CmetaEditTest, SetTermOnlyGoesUpAndDropsTheVote) {
  auto up = SetTerm(ThreeVoters(3), 7);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->current_term(), 7);
  EXPECT_FALSE(up->has_voted_for());
  EXPECT_EQ(SetTerm(ThreeVoters(3), 3).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SetTerm(ThreeVoters(3), 2).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CmetaEditTest, OfflineForceWritesWhatAnOnlineForceLeaves) {
  PlanEntry e;
  e.survivor_uuid = "c";
  e.new_voters = {"c"};
  e.forced_term_floor = 3;
  auto out = OfflineForce(ThreeVoters(3), e, 12);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->current_term(), 4);
  EXPECT_FALSE(out->has_voted_for());
  const auto& c = out->committed_config();
  ASSERT_EQ(c.peers_size(), 1);
  EXPECT_EQ(c.peers(0).permanent_uuid(), "c");
  EXPECT_EQ(c.peers(0).last_known_addr().port(), 7100);
  EXPECT_EQ(c.opid_term(), 4);
  EXPECT_EQ(c.opid_index(), 12);
  EXPECT_TRUE(c.unsafe_config_change());
  EXPECT_TRUE(CarriesForce(*out, e));
  EXPECT_FALSE(CarriesForce(ThreeVoters(3), e));
  // The replica's term passed the plan's floor: it moved on.
  EXPECT_EQ(OfflineForce(ThreeVoters(4), e, 12).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

class EditConsensusMetaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = io::JoinPath(::testing::TempDir(), name + "_root");
    backups_ = io::JoinPath(::testing::TempDir(), name + "_backups");
    ASSERT_TRUE(io::CreateDirs(io::JoinPath(root_, fs::kConsensusMetaDirName)).ok());
    ASSERT_TRUE(meta::StoreConsensusMeta(meta::ConsensusMetaPath(root_, "t1"), ThreeVoters(3)).ok());
  }
  CmetaEditFn SetTermTo(int64_t term) {
    return [term](const ConsensusMetadataPB& c) { return SetTerm(c, term); };
  }
  std::string root_, backups_;
};

TEST_F(EditConsensusMetaTest, ADryRunWritesNothing) {
  auto change = EditConsensusMeta(root_, "t1", /*dry_run=*/true, backups_, SetTermTo(9), "set_term", "test");
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->after.current_term(), 9);
  EXPECT_TRUE(change->backup.empty());
  EXPECT_EQ(meta::LoadConsensusMeta(change->path)->current_term(), 3);
  EXPECT_EQ(audit::ReadAudit(root_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EditConsensusMetaTest, TheOldFileIsBackedUpBeforeItIsReplaced) {
  const std::string path = meta::ConsensusMetaPath(root_, "t1");
  const std::string old_bytes = *io::ReadFileToString(path);
  auto change = EditConsensusMeta(root_, "t1", /*dry_run=*/false, backups_, SetTermTo(9), "set_term", "test");
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(meta::LoadConsensusMeta(path)->current_term(), 9);
  ASSERT_FALSE(change->backup.empty());
  EXPECT_EQ(*io::ReadFileToString(change->backup), old_bytes);
  EXPECT_EQ(meta::LoadConsensusMeta(change->backup)->current_term(), 3);
  // And the change is in the directory's audit log, with who made it.
  auto audit = audit::ReadAudit(root_);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].tablet_id, "t1");
  EXPECT_EQ((*audit)[0].action, "set_term");
  EXPECT_EQ((*audit)[0].caller, "test");
  EXPECT_THAT((*audit)[0].identity, HasSubstr("local:"));
  EXPECT_EQ((*audit)[0].outcome, "OK");
  EXPECT_THAT((*audit)[0].detail, HasSubstr("term 3, config"));
  EXPECT_THAT((*audit)[0].detail, HasSubstr("-> term 9"));
}

TEST_F(EditConsensusMetaTest, ALockedDirectoryIsRefused) {
  auto lock = io::DirLock::Acquire(root_);
  ASSERT_TRUE(lock.ok());
  auto change = EditConsensusMeta(root_, "t1", /*dry_run=*/false, backups_, SetTermTo(9), "set_term", "test");
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(meta::LoadConsensusMeta(meta::ConsensusMetaPath(root_, "t1"))->current_term(), 3);
}

TEST_F(EditConsensusMetaTest, ARefusedEditNamesTheFileAndChangesNothing) {
  auto change = EditConsensusMeta(root_, "t1", /*dry_run=*/false, backups_, SetTermTo(1), "set_term", "test");
  ASSERT_FALSE(change.ok());
  EXPECT_THAT(std::string(change.status().message()),
              HasSubstr(meta::ConsensusMetaPath(root_, "t1") + ": new term 1"));
  EXPECT_FALSE(io::ListDir(backups_).ok() && !io::ListDir(backups_)->empty());
}

}  // namespace
}  // namespace kmend::recover
