#include "lib/format/pb_container.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/format/testdata/order_d.pb.h"
#include "lib/io/file.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::pbc {
namespace {

using ::kmend::consensus::ConsensusMetadataPB;
using ::testing::HasSubstr;

ConsensusMetadataPB SampleCmeta(int64_t term) {
  ConsensusMetadataPB cmeta;
  cmeta.set_current_term(term);
  cmeta.set_voted_for("a1b2c3d4e5f60718293a4b5c6d7e8f90");
  auto* config = cmeta.mutable_committed_config();
  config->set_opid_index(7);
  for (int i = 0; i < 3; ++i) {
    auto* peer = config->add_peers();
    peer->set_permanent_uuid(absl::StrCat("peer", i));
    peer->set_member_type(consensus::RaftPeerPB::VOTER);
    peer->mutable_last_known_addr()->set_host("127.0.0.1");
    peer->mutable_last_known_addr()->set_port(7050 + i);
  }
  return cmeta;
}

class PbContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string t = absl::StrCat(base ? base : "/tmp", "/pbc_test.XXXXXX");
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
  }
  void TearDown() override {
    auto names = io::ListDir(dir_);
    if (names.ok()) {
      for (const auto& n : *names) ::unlink(io::JoinPath(dir_, n).c_str());
    }
    ::rmdir(dir_.c_str());
  }
  std::string Path(const std::string& name) { return io::JoinPath(dir_, name); }

  // A v1 or v2 container of three cmeta records, built with the Writer.
  std::string ThreeRecordFile(uint32_t version) {
    std::string path = Path(absl::StrCat("three.v", version));
    ::unlink(path.c_str());
    auto w = Writer::Create(path, ConsensusMetadataPB(), version);
    EXPECT_TRUE(w.ok()) << w.status();
    for (int i = 1; i <= 3; ++i) EXPECT_TRUE((*w)->Append(SampleCmeta(i)).ok());
    EXPECT_TRUE((*w)->Close().ok());
    auto bytes = io::ReadFileToString(path);
    EXPECT_TRUE(bytes.ok());
    return *bytes;
  }

  std::string dir_;
};

// How reading a whole (possibly damaged) buffer ended.
struct Outcome {
  bool open_failed = false;
  absl::Status error;  // open or read error
  int records = 0;
  Reader::Next last = Reader::Next::kEnd;
  uint64_t last_offset = 0;
};

Outcome ReadAll(const std::string& bytes) {
  Outcome out;
  auto r = Reader::OpenBuffer("buf", bytes);
  if (!r.ok()) {
    out.open_failed = true;
    out.error = r.status();
    return out;
  }
  std::string data;
  while (true) {
    auto next = (*r)->ReadNext(&data);
    if (!next.ok()) {
      out.error = next.status();
      return out;
    }
    out.last = *next;
    out.last_offset = (*r)->record_offset();
    if (*next != Reader::Next::kRecord) return out;
    ++out.records;
  }
}

TEST(PbContainerFormatTest, V2HeaderBytesAreKudus) {
  std::string start = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor());
  EXPECT_EQ(absl::BytesToHexString(start.substr(0, 16)), "6b756475636e7472020000005f082bb5");
  std::string v1 = EncodeFileStart(kVersion1, ConsensusMetadataPB::descriptor());
  EXPECT_EQ(absl::BytesToHexString(v1.substr(0, 12)), "6b756475636e747201000000");
}

TEST(PbContainerFormatTest, RecordFramingV1AndV2) {
  std::string v2 = EncodeRecord(kVersion2, "abc");
  ASSERT_EQ(v2.size(), 4u + 4 + 3 + 4);
  EXPECT_EQ(v2.substr(0, 4), std::string("\x03\0\0\0", 4));
  uint32_t len_crc = crc32c::Value(v2.data(), 4);
  EXPECT_EQ(v2.substr(4, 4), std::string(reinterpret_cast<const char*>(&len_crc), 4));
  uint32_t data_crc = crc32c::Value("abc", 3);
  EXPECT_EQ(v2.substr(11, 4), std::string(reinterpret_cast<const char*>(&data_crc), 4));

  std::string v1 = EncodeRecord(kVersion1, "abc");
  ASSERT_EQ(v1.size(), 4u + 3 + 4);
  uint32_t v1_crc = crc32c::Value(v1.data(), 7);  // length ‖ data
  EXPECT_EQ(v1.substr(7, 4), std::string(reinterpret_cast<const char*>(&v1_crc), 4));
}

// The worked example of docs/formats/pb_container.md: OpId{term: 1, index: 5}.
TEST(PbContainerFormatTest, DocWorkedExample) {
  std::string opid("\x08\x01\x10\x05", 4);
  EXPECT_EQ(absl::BytesToHexString(EncodeRecord(kVersion2, opid)),
            "04000000347a453308011005c25f5611");
  EXPECT_EQ(absl::BytesToHexString(EncodeRecord(kVersion1, opid)), "0400000008011005e22404f4");
}

TEST_F(PbContainerTest, RoundTripV1AndV2) {
  for (uint32_t version : {kVersion1, kVersion2}) {
    SCOPED_TRACE(version);
    std::string bytes = ThreeRecordFile(version);
    std::string path = Path(absl::StrCat("three.v", version));
    auto r = Reader::Open(path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)->version(), version);
    EXPECT_EQ((*r)->pb_type(), "kmend.consensus.ConsensusMetadataPB");
    for (int i = 1; i <= 3; ++i) {
      ConsensusMetadataPB got;
      auto next = (*r)->ReadNextMessage(&got);
      ASSERT_TRUE(next.ok()) << next.status();
      ASSERT_EQ(*next, Reader::Next::kRecord);
      EXPECT_EQ(got.SerializeAsString(), SampleCmeta(i).SerializeAsString());
    }
    std::string data;
    auto end = (*r)->ReadNext(&data);
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(*end, Reader::Next::kEnd);
    EXPECT_EQ((*r)->valid_end(), bytes.size());
  }
}

TEST_F(PbContainerTest, SingleMessageFileRoundTripAndNoTempFile) {
  std::string path = Path("cmeta");
  ASSERT_TRUE(WriteSingleMessageFile(path, SampleCmeta(5)).ok());
  ASSERT_TRUE(WriteSingleMessageFile(path, SampleCmeta(6)).ok());  // replaces
  ConsensusMetadataPB got;
  ASSERT_TRUE(ReadSingleMessageFile(path, &got).ok());
  EXPECT_EQ(got.current_term(), 6);
  auto names = io::ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"cmeta"});
}

TEST_F(PbContainerTest, WriteRefusesMissingRequiredField) {
  ConsensusMetadataPB partial;
  partial.set_current_term(1);  // committed_config missing
  absl::Status s = WriteSingleMessageFile(Path("x"), partial);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("committed_config"));
  EXPECT_FALSE(io::FileExists(Path("x")));
}

TEST_F(PbContainerTest, ParseFailureNamesMissingField) {
  ConsensusMetadataPB partial = SampleCmeta(3);
  partial.clear_current_term();
  std::string bytes = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor()) +
                      EncodeRecord(kVersion2, partial.SerializePartialAsString());
  ASSERT_TRUE(io::WriteFileAtomically(Path("cmeta"), bytes).ok());
  ConsensusMetadataPB got;
  absl::Status s = ReadSingleMessageFile(Path("cmeta"), &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("current_term"));
  EXPECT_THAT(s.message(), HasSubstr(Path("cmeta")));
}

TEST_F(PbContainerTest, CrcMismatchNamesPathOffsetAndBothCrcs) {
  std::string bytes = *EncodeSingleMessageFile(SampleCmeta(2));
  bytes[bytes.size() - 10] ^= 0x40;  // inside the last record's data
  ASSERT_TRUE(io::WriteFileAtomically(Path("cmeta"), bytes).ok());
  ConsensusMetadataPB got;
  absl::Status s = ReadSingleMessageFile(Path("cmeta"), &got);
  ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  std::string record_start =
      absl::StrCat(EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor()).size());
  EXPECT_THAT(s.message(), HasSubstr(Path("cmeta")));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("offset ", record_start)));
  EXPECT_THAT(s.message(), HasSubstr("stored 0x"));
  EXPECT_THAT(s.message(), HasSubstr("computed 0x"));
}

TEST(PbContainerFormatTest, DescriptorOrderIsKudus) {
  google::protobuf::FileDescriptorSet set = DescriptorSetFor(kmend::testing::D::descriptor());
  std::vector<std::string> names;
  for (const auto& f : set.file()) names.push_back(f.name());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "google/protobuf/descriptor.proto",
                       "lib/format/testdata/order_c.proto",
                       "lib/format/testdata/order_a.proto",
                       "lib/format/testdata/order_b.proto",
                       "lib/format/testdata/order_d.proto",
                   }));
  std::vector<std::string> cmeta;
  google::protobuf::FileDescriptorSet cmeta_set =
      DescriptorSetFor(ConsensusMetadataPB::descriptor());
  for (const auto& f : cmeta_set.file()) {
    cmeta.push_back(f.name());
  }
  EXPECT_EQ(cmeta, (std::vector<std::string>{"proto/common.proto",
                                             "proto/consensus_metadata.proto"}));
}

TEST(PbContainerFormatTest, EmbeddedMessageDecodesWithoutCompiledTypes) {
  // order_d's set is not topologically sorted; the reader must cope.
  kmend::testing::D d;
  d.set_name("dee");
  d.mutable_b()->mutable_a()->set_a(42);
  d.mutable_c()->mutable_f()->set_name("x.proto");
  auto bytes = EncodeSingleMessageFile(d);
  ASSERT_TRUE(bytes.ok());
  auto r = Reader::OpenBuffer("d", *bytes);
  ASSERT_TRUE(r.ok()) << r.status();
  auto msg = (*r)->NewEmbeddedMessage();
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_NE((*msg)->GetDescriptor(), kmend::testing::D::descriptor());
  auto next = (*r)->ReadNextMessage(msg->get());
  ASSERT_TRUE(next.ok()) << next.status();
  std::string text;
  google::protobuf::TextFormat::PrintToString(**msg, &text);
  std::string want;
  google::protobuf::TextFormat::PrintToString(d, &want);
  EXPECT_EQ(text, want);
}

TEST_F(PbContainerTest, EverySingleByteFlipIsDetected) {
  for (uint32_t version : {kVersion1, kVersion2}) {
    const std::string good = ThreeRecordFile(version);
    ASSERT_EQ(ReadAll(good).records, 3);
    // v2: every possible new value of every byte; v1 (no header CRC, CRC over
    // length ‖ data) a few masks.
    std::vector<int> masks;
    for (int m = 1; m < 256; ++m) {
      if (version == kVersion2 || m == 0x01 || m == 0x80 || m == 0xff) masks.push_back(m);
    }
    for (size_t i = 0; i < good.size(); ++i) {
      for (int mask : masks) {
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        Outcome o = ReadAll(bad);
        bool detected = !o.error.ok() || o.last == Reader::Next::kTornTail;
        ASSERT_TRUE(detected) << "v" << version << " offset " << i << " mask " << mask
                              << " read " << o.records << " records cleanly";
        if (!o.error.ok()) {
          EXPECT_TRUE(o.error.code() == absl::StatusCode::kDataLoss ||
                      o.error.code() == absl::StatusCode::kUnimplemented)
              << o.error;
        }
      }
    }
  }
}

TEST_F(PbContainerTest, TruncationAtEveryOffset) {
  const std::string good = ThreeRecordFile(kVersion2);
  // Record boundaries: the end of the supplemental header and of each record.
  std::vector<uint64_t> ends;
  {
    auto r = Reader::OpenBuffer("good", good);
    ASSERT_TRUE(r.ok());
    ends.push_back((*r)->valid_end());
    std::string data;
    while (*(*r)->ReadNext(&data) == Reader::Next::kRecord) ends.push_back((*r)->valid_end());
  }
  ASSERT_EQ(ends.size(), 4u);
  for (size_t k = 0; k <= good.size(); ++k) {
    Outcome o = ReadAll(good.substr(0, k));
    if (k < ends[0]) {
      ASSERT_TRUE(o.open_failed) << k;
      EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss) << k << " " << o.error;
      continue;
    }
    ASSERT_TRUE(o.error.ok()) << k << " " << o.error;
    int complete = 0;
    while (complete + 1 < static_cast<int>(ends.size()) && ends[complete + 1] <= k) ++complete;
    EXPECT_EQ(o.records, complete) << k;
    if (k == ends[complete]) {
      EXPECT_EQ(o.last, Reader::Next::kEnd) << k;
    } else {
      EXPECT_EQ(o.last, Reader::Next::kTornTail) << k;
      EXPECT_EQ(o.last_offset, ends[complete]) << k;
    }
  }
}

TEST_F(PbContainerTest, V1TruncationIsCorruption) {
  const std::string good = ThreeRecordFile(kVersion1);
  Outcome o = ReadAll(good.substr(0, good.size() - 3));
  EXPECT_EQ(o.records, 2);
  EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(o.error.message(), HasSubstr("incomplete"));
}

TEST_F(PbContainerTest, ZeroFilledTailIsTornKudu2260) {
  const std::string good = ThreeRecordFile(kVersion2);
  Outcome o = ReadAll(good + std::string(4096, '\0'));
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.records, 3);
  EXPECT_EQ(o.last, Reader::Next::kTornTail);
  EXPECT_EQ(o.last_offset, good.size());

  // Zeros followed by anything else are not preallocation: corruption.
  o = ReadAll(good + std::string(100, '\0') + "x");
  EXPECT_EQ(o.records, 3);
  EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss);
}

// One mutation per corruption reason, each checked for its message and offset.
TEST_F(PbContainerTest, EachCorruptionReasonIsNamed) {
  const std::string good = *EncodeSingleMessageFile(SampleCmeta(1));
  const uint64_t rec = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor()).size();
  struct Case {
    size_t offset;
    const char* want;
    uint64_t want_offset;
  } cases[] = {
      {0, "expected magic", 0},
      {12, "file header: crc mismatch", 0},
      {16, "record length: crc mismatch", 16},           // sup header length
      {20, "record length: crc mismatch", 16},           // sup header length CRC
      {30, "record data", 16},                           // sup header data
      {rec, "record length: crc mismatch", rec},         // record length
      {rec + 5, "record length: crc mismatch", rec},     // record length CRC
      {rec + 8, "record data", rec},                     // record data
      {good.size() - 1, "record data", rec},             // record data CRC
  };
  for (const Case& c : cases) {
    std::string bad = good;
    bad[c.offset] ^= 0x20;
    Outcome o = ReadAll(bad);
    ASSERT_EQ(o.error.code(), absl::StatusCode::kDataLoss) << c.offset;
    EXPECT_THAT(o.error.message(), HasSubstr(c.want)) << c.offset;
    EXPECT_EQ(ErrorOffset(o.error).value_or(~0ull), c.want_offset) << c.offset;
  }
}

TEST_F(PbContainerTest, OversizedRecordIsCorruption) {
  std::string bytes = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor());
  std::string len;
  uint32_t n = kMaxRecordBytes + 1;
  len.append(reinterpret_cast<const char*>(&n), 4);
  uint32_t crc = crc32c::Value(len);
  len.append(reinterpret_cast<const char*>(&crc), 4);
  Outcome o = ReadAll(bytes + len + "tail");
  EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(o.error.message(), HasSubstr("exceeds"));
}

TEST_F(PbContainerTest, NotAContainer) {
  Outcome o = ReadAll("");
  EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(o.error.message(), HasSubstr("only 0 bytes"));
  o = ReadAll("hello, world, this is not it");
  EXPECT_TRUE(o.open_failed);
  EXPECT_EQ(o.error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(o.error.message(), HasSubstr("magic"));
  o = ReadAll(std::string("kuduenc\x02", 8) + std::string(56, '\0'));
  EXPECT_EQ(o.error.code(), absl::StatusCode::kUnimplemented);
  std::string v3 = EncodeFileStart(kVersion2, ConsensusMetadataPB::descriptor());
  v3[8] = 3;
  o = ReadAll(v3);
  EXPECT_EQ(o.error.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(o.error.message(), HasSubstr("version 3"));
}

TEST_F(PbContainerTest, AppendAfterReopenTruncatesTornTail) {
  std::string path = Path("log");
  {
    auto w = Writer::Create(path, ConsensusMetadataPB());
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->Append(SampleCmeta(1)).ok());
    ASSERT_TRUE((*w)->Append(SampleCmeta(2)).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  uint64_t good_size = *io::FileSize(path);
  // A crash mid-append: the first 11 bytes of a third record.
  std::string partial = EncodeRecord(kVersion2, SampleCmeta(3).SerializeAsString()).substr(0, 11);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(io::WriteFully(fd, path, partial).ok());
  ::close(fd);

  auto w = Writer::OpenForAppend(path);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->offset(), good_size);
  EXPECT_EQ(*io::FileSize(path), good_size);
  ASSERT_TRUE((*w)->Append(SampleCmeta(4)).ok());
  ASSERT_TRUE((*w)->Close().ok());

  auto r = Reader::Open(path);
  ASSERT_TRUE(r.ok());
  std::vector<int64_t> terms;
  ConsensusMetadataPB m;
  while (true) {
    auto next = (*r)->ReadNextMessage(&m);
    ASSERT_TRUE(next.ok()) << next.status();
    if (*next != Reader::Next::kRecord) {
      EXPECT_EQ(*next, Reader::Next::kEnd);
      break;
    }
    terms.push_back(m.current_term());
  }
  EXPECT_EQ(terms, (std::vector<int64_t>{1, 2, 4}));
}

// The file reader serves small records from a read-ahead window and large ones
// directly; records straddling window edges and a torn tail must read the same.
TEST_F(PbContainerTest, FileReaderAcrossWindowEdges) {
  std::string path = Path("big");
  std::vector<std::string> values;
  std::vector<uint64_t> starts;
  {
    auto w = Writer::Create(path, ConsensusMetadataPB());
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 1500; ++i) {
      ConsensusMetadataPB m = SampleCmeta(i);
      size_t n = (i % 97 == 0) ? (600 << 10) : (i * 7919) % 3000;
      m.set_voted_for(std::string(n, static_cast<char>('a' + i % 26)));
      starts.push_back((*w)->offset());
      values.push_back(m.SerializeAsString());
      ASSERT_TRUE((*w)->Append(m).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  uint64_t size = *io::FileSize(path);
  ASSERT_GT(size, 4u << 20);
  // Cut inside record 1000: 1000 records, then a torn tail at its start.
  ASSERT_EQ(::truncate(path.c_str(), starts[1000] + 5), 0);
  auto r = Reader::Open(path);
  ASSERT_TRUE(r.ok());
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    auto next = (*r)->ReadNext(&data);
    ASSERT_TRUE(next.ok()) << next.status();
    ASSERT_EQ(*next, Reader::Next::kRecord) << i;
    ASSERT_EQ((*r)->record_offset(), starts[i]);
    ASSERT_EQ(data, values[i]) << i;
  }
  auto next = (*r)->ReadNext(&data);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, Reader::Next::kTornTail);
  EXPECT_EQ((*r)->record_offset(), starts[1000]);
}

TEST_F(PbContainerTest, AppendRefusesCorruptFileAndWrongType) {
  std::string path = Path("log");
  {
    auto w = Writer::Create(path, ConsensusMetadataPB());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(SampleCmeta(1)).ok());
    kmend::testing::D d;
    d.set_name("x");
    EXPECT_EQ((*w)->Append(d).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Writer::Create(path, ConsensusMetadataPB()).status().code(),
            absl::StatusCode::kAlreadyExists);
  std::string bytes = *io::ReadFileToString(path);
  bytes[bytes.size() - 1] ^= 1;
  ASSERT_TRUE(io::WriteFileAtomically(path, bytes).ok());
  auto w = Writer::OpenForAppend(path);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*io::ReadFileToString(path), bytes);  // untouched
}

}  // namespace
}  // namespace kmend::pbc
