// A PB container whose record header claims an absurd length (up to 4 GiB)
// is refused before anything of that size is allocated: the claim is checked
// against the record limit and the file size first.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/util/alloc_probe.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::pbc {
namespace {

using ::kmend::consensus::ConsensusMetadataPB;
using ::testing::HasSubstr;

constexpr size_t kSmallBytes = 1 << 20;  // anything allocated stays below this

std::string U32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// One record header claiming `len` bytes, then a short tail.
std::string ContainerClaiming(uint32_t version, uint32_t len) {
  std::string bytes = EncodeFileStart(version, ConsensusMetadataPB::descriptor());
  std::string header = U32(len);
  if (version >= kVersion2) header += U32(crc32c::Value(header));
  return bytes + header + "only a few bytes follow";
}

absl::Status ReadFirst(const std::string& bytes) {
  // From a real file, as the servers and tools read.
  const std::string path = std::string(::testing::TempDir()) + "/claim.pbc";
  absl::Status w = io::WriteFileAtomically(path, bytes);
  if (!w.ok()) return w;
  alloc_probe::Reset();
  auto reader = Reader::Open(path);
  if (!reader.ok()) return reader.status();
  std::string data;
  auto next = (*reader)->ReadNext(&data);
  if (!next.ok()) return next.status();
  return *next == Reader::Next::kRecord ? absl::OkStatus()
                                        : absl::OutOfRangeError("torn tail (no record)");
}

TEST(HostileLengthTest, FourGiBRecordClaimIsRefusedWithoutAllocating) {
  for (uint32_t version : {kVersion1, kVersion2}) {
    absl::Status s = ReadFirst(ContainerClaiming(version, 0xFFFFFFFFu));
    EXPECT_FALSE(s.ok()) << "version " << version;
    EXPECT_THAT(std::string(s.message()), HasSubstr("4294967295")) << s;
    EXPECT_LT(alloc_probe::LargestAllocationBytes(), kSmallBytes) << "version " << version;
  }
}

TEST(HostileLengthTest, ClaimUnderTheLimitButPastTheFileIsNotAllocatedEither) {
  // Below kMaxRecordBytes: the file size is what refuses it.
  absl::Status s = ReadFirst(ContainerClaiming(kVersion2, kMaxRecordBytes - 1));
  EXPECT_FALSE(s.ok());
  EXPECT_LT(alloc_probe::LargestAllocationBytes(), kSmallBytes);
}

}  // namespace
}  // namespace kmend::pbc
