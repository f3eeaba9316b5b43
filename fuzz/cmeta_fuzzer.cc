// libFuzzer target for consensus metadata reads (lib/meta/cmeta.h): any
// bytes as a cmeta file must load or fail with a status, verify with
// problems listed, never crash, hang or leak; a file that loads must also
// pass through the content checks and a store/load round trip unchanged.
// An error must name the file it is about: one that does not is reported as
// a finding (abort).
// Each input is read as given and with its PB container CRCs recomputed
// (fuzz/pbc_crc.h), so mutations reach the ConsensusMetadataPB parse and
// CheckConsensusMeta.
//
//   bazel build --config=fuzz //fuzz:cmeta_fuzzer
//   bazel-out/k8-dbg/bin/fuzz/cmeta_fuzzer -max_total_time=120 CORPUS_DIR
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_file.h"
#include "fuzz/pbc_crc.h"
#include "google/protobuf/stubs/logging.h"
#include "lib/meta/cmeta.h"

namespace {

void SilentLogHandler(google::protobuf::LogLevel, const char*, int, const std::string&) {}

void ExpectNamesFile(const absl::Status& s, const std::string& path, const char* call) {
  if (s.ok() || s.message().find(path) != absl::string_view::npos) return;
  std::fprintf(stderr, "%s: error does not name the file %s: %s\n", call, path.c_str(),
               s.ToString().c_str());
  std::abort();
}

void ReadAll(const std::string& bytes) {
  const std::string& path = kmend::fuzz::WriteScratch(bytes);
  auto loaded = kmend::meta::LoadConsensusMeta(path);
  ExpectNamesFile(loaded.status(), path, "LoadConsensusMeta");
  (void)kmend::meta::VerifyConsensusMeta(path);
  if (!loaded.ok()) return;
  (void)kmend::meta::CheckConsensusMeta(*loaded);
  // What loads must store and load back the same (the round trip the
  // offline tools rely on when they rewrite a cmeta).
  const std::string out = path + ".rt";
  if (kmend::meta::StoreConsensusMeta(out, *loaded).ok()) {
    auto again = kmend::meta::LoadConsensusMeta(out);
    if (!again.ok()) {
      std::fprintf(stderr, "round trip: %s\n", again.status().ToString().c_str());
      std::abort();
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
  ReadAll(bytes);
  return 0;
}
