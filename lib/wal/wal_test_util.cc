#include "lib/wal/wal_test_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/wal/format.h"
#include "lib/wal/log_reader.h"

namespace kmend::wal::testing {

consensus::ReplicateMsg MakeEntry(int64_t term, int64_t index, size_t payload_bytes) {
  consensus::ReplicateMsg m;
  m.mutable_id()->set_term(term);
  m.mutable_id()->set_index(index);
  m.set_timestamp(static_cast<uint64_t>(index) * 1000);
  m.set_op_type(consensus::NO_OP);
  std::string payload(payload_bytes, '\0');
  uint64_t x = static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < payload_bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    payload[i] = static_cast<char>(x);
  }
  m.mutable_noop_request()->set_payload_for_tests(payload);
  return m;
}

bool EntryIntact(const consensus::ReplicateMsg& msg) {
  consensus::ReplicateMsg want =
      MakeEntry(msg.id().term(), msg.id().index(), msg.noop_request().payload_for_tests().size());
  return want.SerializeAsString() == msg.SerializeAsString();
}

std::string FreshDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = io::JoinPath(base != nullptr ? base : "/tmp", name);
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error(cmd);
  if (!io::CreateDirs(dir).ok()) throw std::runtime_error("mkdir " + dir);
  return dir;
}

BuiltSegment BuildSegment(uint64_t seq, kmend::CompressionType codec,
                          const std::vector<std::vector<consensus::ReplicateMsg>>& batches,
                          bool footer) {
  log::LogSegmentHeaderPB header;
  header.set_tablet_id("0123456789abcdef0123456789abcdef");
  header.set_sequence_number(seq);
  header.mutable_schema();
  header.set_compression_codec(codec);
  BuiltSegment out;
  out.bytes = *EncodeSegmentHeader(header);
  log::LogSegmentFooterPB facts;
  facts.set_num_entries(0);
  for (const auto& batch : batches) {
    log::LogEntryBatchPB pb;
    for (const auto& m : batch) {
      log::LogEntryPB* e = pb.add_entry();
      e->set_type(log::REPLICATE);
      *e->mutable_replicate() = m;
      facts.set_num_entries(facts.num_entries() + 1);
      if (facts.min_replicate_index() < 0) facts.set_min_replicate_index(m.id().index());
      facts.set_max_replicate_index(m.id().index());
    }
    std::string plain = pb.SerializeAsString(), stored;
    if (!Compress(codec, 1, plain, &stored).ok()) throw std::runtime_error("compress");
    out.batch_offsets.push_back(out.bytes.size());
    AppendBatch(stored, static_cast<uint32_t>(plain.size()), &out.bytes);
    out.batch_ends.push_back(out.bytes.size());
  }
  if (footer) out.bytes += EncodeFooter(facts);
  return out;
}

std::vector<std::vector<consensus::ReplicateMsg>> MakeBatches(int64_t first_index, int count,
                                                              int per_batch,
                                                              size_t payload_bytes) {
  std::vector<std::vector<consensus::ReplicateMsg>> out;
  int64_t index = first_index;
  for (int b = 0; b < count; ++b) {
    out.emplace_back();
    for (int i = 0; i < per_batch; ++i) out.back().push_back(MakeEntry(1, index++, payload_bytes));
  }
  return out;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<int64_t> ReplayIndexes(const std::string& dir) {
  std::vector<int64_t> out;
  auto r = Replay(dir, 0, [&](const log::LogEntryPB& e) {
    EXPECT_TRUE(EntryIntact(e.replicate()));
    out.push_back(e.replicate().id().index());
    return absl::OkStatus();
  });
  EXPECT_TRUE(r.ok()) << r.status();
  return out;
}

}  // namespace kmend::wal::testing
