// libFuzzer target for the WAL segment reader (lib/wal/segment_reader.h): any
// bytes as a segment file must give a clean end, a torn tail, DataLoss or
// Unimplemented, never a crash, hang, leak or an allocation the input's
// length claims but does not hold (ASan's allocation limit catches those).
// Every error must name the file (a repair tool reports one segment among
// thousands), and a DataLoss from Next() the offset too: an error that does
// not is reported as a finding (abort).
//
// Each input is read twice: as given, and with every v2 batch's header and
// payload CRC recomputed, so mutations also reach decompression and
// LogEntryBatchPB parsing behind the checksums.
//
//   bazel build --config=fuzz //fuzz:wal_segment_fuzzer
//   bazel-out/k8-dbg/bin/fuzz/wal_segment_fuzzer -max_total_time=120 CORPUS_DIR
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_file.h"
#include "google/protobuf/stubs/logging.h"
#include "lib/format/crc32c.h"
#include "lib/wal/format.h"
#include "lib/wal/segment_reader.h"

namespace {

void SilentLogHandler(google::protobuf::LogLevel, const char*, int, const std::string&) {}

uint32_t GetU32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}
void PutU32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

// Recomputes the CRCs of every v2 batch header and payload after the
// segment header (docs/formats/wal.md), stopping at the first batch that
// does not fit.
void FixCrcs(std::string* s) {
  using namespace kmend;  // NOLINT
  if (s->size() < wal::kSegmentHeaderPrefixBytes) return;
  const uint64_t header_len = GetU32(*s, 8);
  uint64_t off = wal::kSegmentHeaderPrefixBytes + header_len;
  while (off + wal::kBatchHeaderBytesV2 <= s->size()) {
    const uint32_t len = GetU32(*s, off);
    if (len == 0 || s->size() - off - wal::kBatchHeaderBytesV2 < len) return;
    PutU32(s, off + 8, crc32c::Value(s->data() + off + wal::kBatchHeaderBytesV2, len));
    PutU32(s, off + 12, crc32c::Value(s->data() + off, 12));
    off += wal::kBatchHeaderBytesV2 + len;
  }
}

// Aborts (a finding) when `s` is an error whose message does not contain
// `must_name` (the path, or "offset").
void ExpectNamed(const absl::Status& s, const std::string& must_name, const char* call) {
  if (s.ok() || s.message().find(must_name) != absl::string_view::npos) return;
  std::fprintf(stderr, "%s: error does not name '%s': %s\n", call, must_name.c_str(),
               s.ToString().c_str());
  std::abort();
}

void ReadAll(const std::string& bytes) {
  const std::string& path = kmend::fuzz::WriteScratch(bytes);
  auto reader = kmend::wal::SegmentReader::Open(path);
  ExpectNamed(reader.status(), path, "Open");
  if (!reader.ok()) return;
  kmend::wal::Batch batch;
  // Bounded: each Next() moves past at least one batch header or ends; the
  // cap guards against a reader bug turning into a hang instead of a report.
  for (int i = 0; i < 100000; ++i) {
    absl::Status s = (*reader)->Next(&batch);
    if (s.code() == absl::StatusCode::kOutOfRange) break;  // the end, not an error
    ExpectNamed(s, path, "Next");
    if (s.code() == absl::StatusCode::kDataLoss) ExpectNamed(s, "offset", "Next");
    if (!s.ok() && s.code() != absl::StatusCode::kDataLoss) break;
  }
  absl::Status at = (*reader)->ReadBatchAt((*reader)->first_batch_offset(), &batch);
  if (at.code() != absl::StatusCode::kOutOfRange) ExpectNamed(at, path, "ReadBatchAt");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(&SilentLogHandler);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ReadAll(bytes);
  FixCrcs(&bytes);
  ReadAll(bytes);
  return 0;
}
