// FNV-1a, 64-bit: a hash that is the same on every server, build and run.
//
// absl::Hash is seeded per process, so it cannot be used where two servers
// must compute the same number without talking (the Raft successor order,
// lib/raft/core_quiesce.cc), or where a value must be reproducible (the
// simulator's log fingerprints). FNV-1a is short, stable and good enough to
// spread identifiers; it is not a defence against chosen input.
#ifndef KMEND_LIB_UTIL_FNV1A_H_
#define KMEND_LIB_UTIL_FNV1A_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace kmend {

// The hash of no bytes (the FNV "offset basis"); start a hash here.
// Before this header, three copies of the loop began at 1469598103934665603,
// the basis with its last digit lost: a stable hash still, but not FNV-1a
// (lib/util/fnv1a_test.cc checks the published vectors). The Raft successor
// order keeps that start on purpose (lib/raft/core_quiesce.cc).
inline constexpr uint64_t kFnv1aOffset = 14695981039346656037ULL;

// Continues hash `h` over `bytes`. Fnv1aAdd(Fnv1aAdd(kFnv1aOffset, a), b) is
// the hash of a followed by b: callers that hash several fields and need
// ("ab","c") to differ from ("a","bc") add a separator themselves.
inline uint64_t Fnv1aAdd(uint64_t h, absl::string_view bytes) {
  constexpr uint64_t kPrime = 1099511628211ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kPrime;
  }
  return h;
}

}  // namespace kmend

#endif  // KMEND_LIB_UTIL_FNV1A_H_
