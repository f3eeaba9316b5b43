#include "lib/tablet/partition.h"

#include <cstring>

namespace kmend::tablet {

namespace {

uint64_t LoadLe64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// MurmurHash64A, byte-for-byte Appleby's reference except that 8-byte words
// are read little-endian explicitly (the reference reads native order; on
// little-endian hosts the results are identical).
uint64_t Hash64(absl::string_view data, uint64_t seed) {
  const uint64_t m = 0xc6a4a7935bd1e995ULL;
  const int r = 47;
  const size_t len = data.size();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  uint64_t h = seed ^ (len * m);
  const size_t nblocks = len / 8;
  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k = LoadLe64(p + 8 * i);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  const unsigned char* tail = p + 8 * nblocks;
  switch (len & 7) {
    case 7: h ^= uint64_t{tail[6]} << 48; [[fallthrough]];
    case 6: h ^= uint64_t{tail[5]} << 40; [[fallthrough]];
    case 5: h ^= uint64_t{tail[4]} << 32; [[fallthrough]];
    case 4: h ^= uint64_t{tail[3]} << 24; [[fallthrough]];
    case 3: h ^= uint64_t{tail[2]} << 16; [[fallthrough]];
    case 2: h ^= uint64_t{tail[1]} << 8; [[fallthrough]];
    case 1:
      h ^= uint64_t{tail[0]};
      h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

int HashBucket(absl::string_view encoded_key, int num_buckets, uint64_t seed) {
  if (num_buckets <= 1) return 0;
  return static_cast<int>(Hash64(encoded_key, seed) % static_cast<uint64_t>(num_buckets));
}

}  // namespace kmend::tablet
