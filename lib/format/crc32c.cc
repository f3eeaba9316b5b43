#include "lib/format/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>

namespace kmend::crc32c {

uint32_t Extend(uint32_t crc, const void* data, size_t n) {
  // crc32_iscsi neither pre- nor post-inverts: feeding it the inverted running
  // CRC and inverting its result gives the standard CRC-32C, and makes the
  // running value chain across calls. Its length is an int, so huge buffers
  // go in 1 GiB steps.
  constexpr size_t kMaxStep = size_t{1} << 30;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  do {
    size_t step = std::min(n, kMaxStep);
    state = crc32_iscsi(p, static_cast<int>(step), state);
    p += step;
    n -= step;
  } while (n > 0);
  return ~state;
}

}  // namespace kmend::crc32c
