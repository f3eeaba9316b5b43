// Test-only: the largest single heap allocation made since the last Reset,
// so a test can prove that a header claiming 4 GiB was refused *before*
// anything of that size was allocated (not merely that it failed later).
//
// Linking this library replaces the global operator new/delete of the whole
// test binary; never link it into a server or tool. Thread-safe (atomics).
#ifndef KMEND_LIB_UTIL_ALLOC_PROBE_H_
#define KMEND_LIB_UTIL_ALLOC_PROBE_H_

#include <cstddef>

namespace kmend::alloc_probe {

void Reset();
size_t LargestAllocationBytes();
void Note(size_t n);  // for operator new

}  // namespace kmend::alloc_probe

#endif  // KMEND_LIB_UTIL_ALLOC_PROBE_H_
