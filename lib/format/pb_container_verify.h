// Whole-file verification of a PB container: framing, every CRC, and (by
// default) that every record parses as the file's embedded type. Used by
// `kmend pbc verify`, `kmend cmeta verify` and fsck-style checks.
//
// Damage is a result, not an error: VerifyFile returns an error status only
// when the file cannot be examined at all (missing, unreadable, encrypted,
// unsupported version), which tools report as "could not run" (exit 2).
//
// Thread safety: VerifyFile is a free function with no shared state.
#ifndef KMEND_LIB_FORMAT_PB_CONTAINER_VERIFY_H_
#define KMEND_LIB_FORMAT_PB_CONTAINER_VERIFY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kmend::pbc {

struct VerifyResult {
  enum class State { kOk, kTornTail, kCorrupt };

  std::string path;
  State state = State::kOk;
  uint32_t version = 0;    // 0 if the header is unreadable
  std::string pb_type;     // empty if the supplemental header is unreadable
  uint64_t file_size = 0;
  uint64_t records = 0;    // complete, verified records after the supplemental header
  // kTornTail: where the incomplete record starts (truncate there to repair).
  // kCorrupt: where the damage was found.
  uint64_t problem_offset = 0;
  std::string message;     // what is wrong (empty when kOk)
};

const char* StateName(VerifyResult::State state);  // "ok", "torn_tail", "corrupt"

// Reads all of `path`. With parse_records, each record is also decoded with
// the embedded descriptors (a record that passes its CRC but does not parse,
// e.g. a missing required field, is kCorrupt).
absl::StatusOr<VerifyResult> VerifyFile(const std::string& path, bool parse_records = true);

}  // namespace kmend::pbc

#endif  // KMEND_LIB_FORMAT_PB_CONTAINER_VERIFY_H_
