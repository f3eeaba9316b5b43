#include "lib/meta/cmeta.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/meta/testdata/kudu_metadata.pb.h"

namespace kmend::meta {
namespace {

using consensus::ConsensusMetadataPB;
using consensus::RaftPeerPB;
using ::testing::HasSubstr;

class CmetaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(base ? base : "/tmp", "/cmeta.XXXXXX");
    ASSERT_NE(::mkdtemp(root_.data()), nullptr);
    ASSERT_TRUE(io::CreateDirs(io::JoinPath(root_, fs::kConsensusMetaDirName)).ok());
    path_ = ConsensusMetaPath(root_, "0123456789abcdef0123456789abcdef");
  }
  ConsensusMetadataPB Sample() {
    ConsensusMetadataPB c;
    c.set_current_term(4);
    c.set_voted_for("a");
    *c.mutable_committed_config() = *ParsePeerList("a@h1:7050,b@h2:7051,c@h3:7052");
    return c;
  }
  std::string root_, path_;
};

TEST_F(CmetaTest, PathHelper) {
  EXPECT_EQ(ConsensusMetaPath("/data/ts1", "t1"), "/data/ts1/consensus-meta/t1");
  EXPECT_EQ(ConsensusMetaPath("/data/ts1/", "t1"), "/data/ts1/consensus-meta/t1");
}

TEST_F(CmetaTest, StoreLoadRoundTripDropsHealthReports) {
  ConsensusMetadataPB c = Sample();
  c.mutable_committed_config()->mutable_peers(0)->mutable_health_report()->set_overall_health(
      consensus::HealthReportPB::HEALTHY);
  ASSERT_TRUE(StoreConsensusMeta(path_, c).ok());
  auto got = LoadConsensusMeta(path_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->current_term(), 4);
  EXPECT_EQ(got->voted_for(), "a");
  ASSERT_EQ(got->committed_config().peers_size(), 3);
  EXPECT_FALSE(got->committed_config().peers(0).has_health_report());
  EXPECT_EQ(got->committed_config().peers(2).last_known_addr().port(), 7052u);
  // Overwrite.
  c.set_current_term(5);
  ASSERT_TRUE(StoreConsensusMeta(path_, c).ok());
  EXPECT_EQ(LoadConsensusMeta(path_)->current_term(), 5);
  auto v = VerifyConsensusMeta(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->file.message;
}

TEST_F(CmetaTest, LoadMissingAndCorrupt) {
  EXPECT_EQ(LoadConsensusMeta(path_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(StoreConsensusMeta(path_, Sample()).ok());
  std::string bytes = *io::ReadFileToString(path_);
  bytes[bytes.size() - 8] ^= 0x01;
  ASSERT_TRUE(io::WriteFileAtomically(path_, bytes).ok());
  auto got = LoadConsensusMeta(path_);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(got.status().message(), HasSubstr(path_));
  EXPECT_THAT(got.status().message(), HasSubstr("crc mismatch"));

  auto v = VerifyConsensusMeta(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok());
  EXPECT_EQ(v->file.state, pbc::VerifyResult::State::kCorrupt);
  EXPECT_GT(v->file.problem_offset, 16u);
}

TEST_F(CmetaTest, VerifyFindsContentProblems) {
  ConsensusMetadataPB c = Sample();
  c.mutable_committed_config()->mutable_peers(1)->set_permanent_uuid("a");
  ASSERT_TRUE(StoreConsensusMeta(path_, c).ok());
  auto v = VerifyConsensusMeta(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->file.state, pbc::VerifyResult::State::kOk);
  ASSERT_EQ(v->problems.size(), 1u);
  EXPECT_THAT(v->problems[0], HasSubstr("duplicate uuid a"));

  c = Sample();
  for (auto& p : *c.mutable_committed_config()->mutable_peers()) {
    p.set_member_type(RaftPeerPB::NON_VOTER);
  }
  c.set_current_term(-1);
  EXPECT_EQ(CheckConsensusMeta(c).size(), 2u);
}

// A file written by Kudu names kudu.consensus.ConsensusMetadataPB and embeds
// Kudu's descriptors; it must load into kmend's type and verify clean.
TEST_F(CmetaTest, KuduNamedFileLoads) {
  kudu::consensus::ConsensusMetadataPB k;
  k.set_current_term(9);
  k.set_voted_for("b");
  auto* peer = k.mutable_committed_config()->add_peers();
  peer->set_permanent_uuid("b");
  peer->set_member_type(kudu::consensus::RaftPeerPB::VOTER);
  peer->mutable_last_known_addr()->set_host("kudu-ts-2");
  peer->mutable_last_known_addr()->set_port(7050);
  k.mutable_committed_config()->set_opid_index(12);
  ASSERT_TRUE(pbc::WriteSingleMessageFile(path_, k).ok());

  auto got = LoadConsensusMeta(path_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->current_term(), 9);
  EXPECT_EQ(got->voted_for(), "b");
  EXPECT_EQ(got->committed_config().opid_index(), 12);
  EXPECT_EQ(got->committed_config().peers(0).last_known_addr().host(), "kudu-ts-2");
  EXPECT_EQ(got->committed_config().peers(0).member_type(), RaftPeerPB::VOTER);
  auto v = VerifyConsensusMeta(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->file.message;
  EXPECT_EQ(v->file.pb_type, "kudu.consensus.ConsensusMetadataPB");
}

TEST(ParsePeerListTest, GoodAndBad) {
  auto config = ParsePeerList("u1@127.0.0.1:7050, u2@[::1]:7051");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->peers_size(), 2);
  // The brackets are syntax (lib/net): the stored host is the bare literal.
  EXPECT_EQ(config->peers(1).last_known_addr().host(), "::1");
  EXPECT_EQ(config->peers(1).member_type(), RaftPeerPB::VOTER);
  for (const char* bad : {"", "u1", "u1@host", "@h:1", "u1@:1", "u1@h:0", "u1@h:70000",
                          "u1@h:1,u1@h:2", "u1@h:x"}) {
    EXPECT_EQ(ParsePeerList(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace kmend::meta
