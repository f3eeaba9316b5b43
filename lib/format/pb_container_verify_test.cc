#include "lib/format/pb_container_verify.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::pbc {
namespace {

using ::kmend::consensus::ConsensusMetadataPB;
using ::testing::HasSubstr;
using State = VerifyResult::State;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(base ? base : "/tmp", "/verify.XXXXXX");
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
    ConsensusMetadataPB m;
    m.set_current_term(3);
    m.mutable_committed_config()->add_peers()->set_permanent_uuid("p1");
    good_ = *EncodeSingleMessageFile(m);
    record_offset_ = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor()).size();
  }
  std::string Write(const std::string& bytes) {
    std::string path = io::JoinPath(dir_, "f");
    EXPECT_TRUE(io::WriteFileAtomically(path, bytes).ok());
    return path;
  }
  std::string dir_, good_;
  uint64_t record_offset_ = 0;
};

TEST_F(VerifyTest, Ok) {
  auto r = VerifyFile(Write(good_));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State::kOk);
  EXPECT_EQ(r->records, 1u);
  EXPECT_EQ(r->version, 2u);
  EXPECT_EQ(r->pb_type, "kmend.consensus.ConsensusMetadataPB");
}

TEST_F(VerifyTest, TornTailHasOffset) {
  auto r = VerifyFile(Write(good_.substr(0, good_.size() - 2)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kTornTail);
  EXPECT_EQ(r->problem_offset, record_offset_);
  EXPECT_EQ(r->records, 0u);
}

TEST_F(VerifyTest, CorruptRecordHasOffset) {
  std::string bad = good_;
  bad[bad.size() - 6] ^= 0x10;
  auto r = VerifyFile(Write(bad));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kCorrupt);
  EXPECT_EQ(r->problem_offset, record_offset_);
  EXPECT_THAT(r->message, HasSubstr("crc mismatch"));
}

TEST_F(VerifyTest, CorruptHeaderAndSupHeader) {
  std::string bad = good_;
  bad[3] = 'X';
  auto r = VerifyFile(Write(bad));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kCorrupt);
  EXPECT_EQ(r->problem_offset, 0u);
  bad = good_;
  bad[40] ^= 1;  // inside the supplemental header's data
  r = VerifyFile(Write(bad));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kCorrupt);
  EXPECT_EQ(r->problem_offset, 16u);
}

TEST_F(VerifyTest, UnparseableRecordIsCorrupt) {
  ConsensusMetadataPB partial;
  partial.set_current_term(1);
  std::string bytes = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor()) +
                      EncodeRecord(kVersion2, partial.SerializePartialAsString());
  auto r = VerifyFile(Write(bytes));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kCorrupt);
  EXPECT_THAT(r->message, HasSubstr("committed_config"));
  r = VerifyFile(Write(bytes), /*parse_records=*/false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kOk);
}

TEST_F(VerifyTest, MissingFileIsAnError) {
  EXPECT_EQ(VerifyFile(io::JoinPath(dir_, "nope")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kmend::pbc
