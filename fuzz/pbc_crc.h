// Recomputes every CRC of a PB container's framing (docs/formats/
// pb_container.md, v1 and v2) so that fuzz mutations reach what lies behind
// the checksums (descriptor sets, record parsing). Shared by the fuzz
// targets that read PB containers (pb_container_fuzzer, cmeta_fuzzer).
#ifndef KMEND_FUZZ_PBC_CRC_H_
#define KMEND_FUZZ_PBC_CRC_H_

#include <cstdint>
#include <string>

#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"

namespace kmend::fuzz {

inline void PutU32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}

// Rewrites every CRC of the container framing in `s` to match its bytes;
// stops at the first record that does not fit.
inline void FixPbContainerCrcs(std::string* s) {
  if (s->size() < pbc::kHeaderSizeV1) return;
  uint32_t version = GetU32(*s, 8);
  size_t off;
  if (version == pbc::kVersion2 && s->size() >= pbc::kHeaderSizeV2) {
    PutU32(s, 12, crc32c::Value(s->data(), 12));
    off = pbc::kHeaderSizeV2;
  } else if (version == pbc::kVersion1) {
    off = pbc::kHeaderSizeV1;
  } else {
    return;
  }
  const size_t len_size = version == pbc::kVersion2 ? 8 : 4;
  while (s->size() - off >= len_size) {
    uint32_t len = GetU32(*s, off);
    if (version == pbc::kVersion2) PutU32(s, off + 4, crc32c::Value(s->data() + off, 4));
    if (s->size() - off - len_size < uint64_t{len} + 4) return;
    uint32_t crc = version == pbc::kVersion2 ? 0 : crc32c::Value(s->data() + off, 4);
    crc = crc32c::Extend(crc, s->data() + off + len_size, len);
    PutU32(s, off + len_size + len, crc);
    off += len_size + len + 4;
  }
}

}  // namespace kmend::fuzz

#endif  // KMEND_FUZZ_PBC_CRC_H_
