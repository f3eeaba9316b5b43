// CRC32C (Castagnoli): the checksum of every kmend and Kudu on-disk record.
//
// Reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR
// 0xFFFFFFFF: the standard CRC-32C ("123456789" -> 0xE3069283). Computed by
// ISA-L's crc32_iscsi (Debian's libisal-dev), which picks the fastest kernel
// for the CPU at run time.
#ifndef KMEND_LIB_FORMAT_CRC32C_H_
#define KMEND_LIB_FORMAT_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace kmend::crc32c {

// Returns the CRC32C of data[0, n) continued from `crc`, the CRC32C of
// everything before it (0 for a fresh start). Extend(Extend(0, a), b) ==
// Value(a ‖ b).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(absl::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace kmend::crc32c

#endif  // KMEND_LIB_FORMAT_CRC32C_H_
