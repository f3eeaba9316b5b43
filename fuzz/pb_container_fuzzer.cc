// libFuzzer target for the PB container reader (lib/format/pb_container.h):
// any bytes must yield a clean read, a torn tail or an error status, never a
// crash, hang or leak. Exercises the header, supplemental header, embedded
// descriptor pool (DynamicMessage) and record parsing.
//
// Random mutations almost never keep a CRC32C valid, so each input is read
// twice: as given (framing and checksum checks), and with every checksum of
// its v1/v2 framing recomputed (what lies behind the checks: descriptor sets,
// record parsing).
//
//   bazel build --config=fuzz //fuzz:pb_container_fuzzer
//   bazel-bin/fuzz/pb_container_fuzzer -max_total_time=120 testdata/fuzz/pb_container
//
// Without --config=fuzz the same target links standalone_main.cc and runs the
// files named on its command line once each (a regression check).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "fuzz/pbc_crc.h"
#include "lib/format/pb_container.h"

namespace {

// Protobuf logs descriptor-pool complaints about hostile descriptors; the
// reader turns them into statuses, so the log is noise here.
void SilentLogHandler(google::protobuf::LogLevel, const char*, int, const std::string&) {}

void ReadAll(std::string bytes) {
  auto reader = kmend::pbc::Reader::OpenBuffer("fuzz", std::move(bytes));
  if (!reader.ok()) return;
  auto msg = (*reader)->NewEmbeddedMessage();
  std::string record;
  // Bounded: every record consumes at least 8 bytes of the input.
  while (true) {
    auto next = (*reader)->ReadNext(&record);
    if (!next.ok() || *next != kmend::pbc::Reader::Next::kRecord) break;
    if (msg.ok()) {
      if (kmend::pbc::ParseRecord("fuzz", (*reader)->record_offset(), record, msg->get())
              .ok()) {
        std::string text;
        google::protobuf::TextFormat::PrintToString(**msg, &text);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(&SilentLogHandler);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ReadAll(bytes);
  kmend::fuzz::FixPbContainerCrcs(&bytes);
  ReadAll(std::move(bytes));
  return 0;
}
