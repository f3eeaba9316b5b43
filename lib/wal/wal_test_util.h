// Helpers for WAL tests: entries with deterministic payloads, and segment
// files built byte by byte (so tests can cut and damage them).
#ifndef KMEND_LIB_WAL_WAL_TEST_UTIL_H_
#define KMEND_LIB_WAL_WAL_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/common.pb.h"
#include "proto/consensus.pb.h"
#include "proto/wal.pb.h"

namespace kmend::wal::testing {

// A NO_OP entry term.index whose payload (payload_bytes long) is a function
// of the index, so a reader can check it is intact.
consensus::ReplicateMsg MakeEntry(int64_t term, int64_t index, size_t payload_bytes = 100);
// True when `msg` is exactly what MakeEntry(term, index, its size) makes.
bool EntryIntact(const consensus::ReplicateMsg& msg);

// A fresh empty directory under $TEST_TMPDIR (or /tmp).
std::string FreshDir(const std::string& name);

// A segment built in memory.
struct BuiltSegment {
  std::string bytes;
  std::vector<uint64_t> batch_offsets;  // start of each batch header
  std::vector<uint64_t> batch_ends;     // end of each batch
};

// Segment `seq` holding one batch per element of `batches` (each a list of
// REPLICATE entries), in `codec`, with a footer if `footer`.
BuiltSegment BuildSegment(uint64_t seq, kmend::CompressionType codec,
                          const std::vector<std::vector<consensus::ReplicateMsg>>& batches,
                          bool footer);

// `count` batches of `per_batch` entries starting at `first_index`, term 1.
std::vector<std::vector<consensus::ReplicateMsg>> MakeBatches(int64_t first_index, int count,
                                                              int per_batch,
                                                              size_t payload_bytes = 100);

// The indexes of every entry of the WAL in `dir`, read by a fresh reader
// (Replay); each entry is checked intact (gtest failures otherwise).
std::vector<int64_t> ReplayIndexes(const std::string& dir);

void WriteFile(const std::string& path, const std::string& bytes);
std::string ReadFile(const std::string& path);

}  // namespace kmend::wal::testing

#endif  // KMEND_LIB_WAL_WAL_TEST_UTIL_H_
