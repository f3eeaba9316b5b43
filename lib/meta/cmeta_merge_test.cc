// The one rule for consensus metadata after a copy (cmeta_merge.h).
#include "lib/meta/cmeta_merge.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"

namespace kmend::meta {
namespace {

consensus::ConsensusStatePB Source(int64_t term) {
  consensus::ConsensusStatePB s;
  s.set_current_term(term);
  s.set_leader_uuid("L");
  auto* p = s.mutable_committed_config()->add_peers();
  p->set_permanent_uuid("L");
  p->set_member_type(consensus::RaftPeerPB::VOTER);
  s.mutable_committed_config()->set_opid_index(7);
  return s;
}

consensus::ConsensusMetadataPB Local(int64_t term, const std::string& vote) {
  consensus::ConsensusMetadataPB m;
  m.set_current_term(term);
  if (!vote.empty()) m.set_voted_for(vote);
  auto* p = m.mutable_committed_config()->add_peers();
  p->set_permanent_uuid("old");
  p->set_member_type(consensus::RaftPeerPB::VOTER);
  return m;
}

TEST(MergeCopiedConsensusMetaTest, WithoutALocalFileTheSourcesTermAndConfigAreTaken) {
  auto m = MergeCopiedConsensusMeta(Source(5), absl::NotFoundError("none"), "p");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->current_term(), 5);
  EXPECT_FALSE(m->has_voted_for());
  EXPECT_EQ(m->committed_config().peers(0).permanent_uuid(), "L");
  EXPECT_EQ(m->committed_config().opid_index(), 7);
}

TEST(MergeCopiedConsensusMetaTest, AHigherLocalTermAndItsVoteAreKept) {
  auto m = MergeCopiedConsensusMeta(Source(5), Local(9, "G"), "p");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->current_term(), 9);
  EXPECT_EQ(m->voted_for(), "G");
  EXPECT_EQ(m->committed_config().peers(0).permanent_uuid(), "L");  // config: the source's
}

TEST(MergeCopiedConsensusMetaTest, TheLocalVoteIsKeptInTheSameTerm) {
  auto m = MergeCopiedConsensusMeta(Source(5), Local(5, "G"), "p");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->current_term(), 5);
  EXPECT_EQ(m->voted_for(), "G");
}

TEST(MergeCopiedConsensusMetaTest, AVoteInALowerTermIsDropped) {
  auto m = MergeCopiedConsensusMeta(Source(5), Local(3, "G"), "p");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->current_term(), 5);
  EXPECT_FALSE(m->has_voted_for());
}

TEST(MergeCopiedConsensusMetaTest, ADamagedLocalFileIsRefusedNotOverwritten) {
  auto m = MergeCopiedConsensusMeta(Source(5), absl::DataLossError("crc mismatch"), "/x/cmeta");
  ASSERT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  EXPECT_NE(m.status().message().find("/x/cmeta"), std::string::npos) << m.status();
  EXPECT_NE(m.status().message().find("crc mismatch"), std::string::npos) << m.status();
}

TEST(MergeCopiedConsensusMetaTest, ARebuildReplacesADamagedLocalFileAtLeastAtItsTermFloor) {
  auto low = MergeCopiedConsensusMeta(Source(5), absl::DataLossError("crc"), "p", 3);
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->current_term(), 5);
  EXPECT_FALSE(low->has_voted_for());
  auto high = MergeCopiedConsensusMeta(Source(5), absl::DataLossError("crc"), "p", 7);
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(high->current_term(), 7);
  EXPECT_FALSE(high->has_voted_for());
  // Only damage is replaced: an I/O error still refuses.
  EXPECT_EQ(MergeCopiedConsensusMeta(Source(5), absl::InternalError("EIO"), "p", 3).status().code(),
            absl::StatusCode::kInternal);
}

TEST(MergeCopiedConsensusMetaTest, LoadsTheLocalFileByPath) {
  const std::string dir = ::testing::TempDir() + "/cmeta_merge";
  ASSERT_TRUE(io::CreateDirs(dir).ok());
  const std::string path = dir + "/t";
  ::unlink(path.c_str());
  auto none = MergeCopiedConsensusMeta(Source(5), path);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->current_term(), 5);
  ASSERT_TRUE(StoreConsensusMeta(path, Local(8, "G")).ok());
  auto kept = MergeCopiedConsensusMeta(Source(5), path);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->current_term(), 8);
  EXPECT_EQ(kept->voted_for(), "G");
  ASSERT_TRUE(io::WriteFileAtomically(path, "not a container").ok());
  EXPECT_EQ(MergeCopiedConsensusMeta(Source(5), path).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kmend::meta
