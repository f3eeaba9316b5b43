// libFuzzer target for the names a copy request brings to the filesystem
// (lib/fs/safe_name.h), as tablet copy (BeginTabletCopySession's tablet_id,
// FetchData's data id) and catalog copy (an item's name) use them. The
// input is a serialized request (tried as each request type) and also a raw
// name. The properties, checked on every input (abort = finding):
//   - ValidateId accepts exactly 32 lowercase hex characters;
//   - ValidateFileName never accepts '/', NUL, "", ".", "..", a leading '.'
//     or more than 255 bytes;
//   - ResolveUnder never returns a path outside the root, also through the
//     symlinks planted in the scratch root (one to "/", one to "..").
//
//   bazel build --config=fuzz //fuzz:copy_names_fuzzer
//   bazel-out/k8-dbg/bin/fuzz/copy_names_fuzzer -max_total_time=120 CORPUS_DIR
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "lib/fs/safe_name.h"
#include "lib/tablet_copy/data_id.h"
#include "proto/master.pb.h"
#include "proto/tablet_copy.pb.h"

namespace {

void SilentLogHandler(google::protobuf::LogLevel, const char*, int, const std::string&) {}

// <tmp>/kmend-copy-names-<pid>/root with root/wals/, root/escape -> "/" and
// root/up -> "..": a replica root with planted escapes. Returns the
// resolved root.
const std::string& Root() {
  static const std::string* root = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    if (dir == nullptr) dir = std::getenv("TMPDIR");
    if (dir == nullptr) dir = "/tmp";
    const std::string base = std::string(dir) + "/kmend-copy-names-" + std::to_string(::getpid());
    ::mkdir(base.c_str(), 0700);
    const std::string r = base + "/root";
    ::mkdir(r.c_str(), 0700);
    ::mkdir((r + "/wals").c_str(), 0700);
    ::mkdir((r + "/tablet-meta").c_str(), 0700);
    // The planted escapes: without them the properties would test nothing.
    auto plant = [](const char* target, const std::string& link) {
      if (::symlink(target, link.c_str()) != 0 && errno != EEXIST) std::abort();
    };
    plant("/", r + "/escape");
    plant("..", r + "/up");
    plant("/etc", r + "/wals/etc");
    char buf[PATH_MAX];
    if (::realpath(r.c_str(), buf) == nullptr) std::abort();
    return new std::string(buf);
  }();
  return *root;
}

bool IsId(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckName(absl::string_view name) {
  const bool id_ok = kmend::fs::ValidateId(name, "fuzz").ok();
  if (id_ok != IsId(name)) std::abort();
  if (kmend::fs::ValidateFileName(name, "fuzz").ok()) {
    if (name.empty() || name.size() > 255 || name == "." || name == ".." || name[0] == '.' ||
        absl::StrContains(name, '/') || absl::StrContains(name, '\0')) {
      std::abort();
    }
  }
  for (const std::string& rel :
       {std::string(name), "wals/" + std::string(name), "tablet-meta/" + std::string(name)}) {
    auto resolved = kmend::fs::ResolveUnder(Root(), rel, "fuzz");
    if (!resolved.ok()) continue;
    if (!absl::StartsWith(*resolved, Root() + "/") && *resolved != Root()) std::abort();
    // The deepest existing ancestor must resolve inside the root too.
    std::string probe = *resolved;
    char buf[PATH_MAX];
    while (!probe.empty() && ::realpath(probe.c_str(), buf) == nullptr) {
      probe = probe.substr(0, probe.rfind('/'));
    }
    if (!probe.empty()) {
      const std::string real(buf);
      if (real != Root() && !absl::StartsWith(real, Root() + "/")) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(&SilentLogHandler);
  (void)Root();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // A name of reasonable length as such (paths longer than PATH_MAX are
  // refused by the OS before our checks matter).
  if (bytes.size() <= 512) CheckName(bytes);
  kmend::tserver::BeginTabletCopySessionRequestPB begin;
  if (begin.ParseFromString(bytes)) CheckName(begin.tablet_id());
  kmend::tserver::FetchDataRequestPB fetch;
  if (fetch.ParsePartialFromString(bytes) && fetch.has_data_id()) {
    (void)kmend::tablet_copy::DataIdName(fetch.data_id());
  }
  kmend::master::CatalogCopyItemPB item;
  if (item.ParseFromString(bytes)) CheckName(item.name());
  return 0;
}
