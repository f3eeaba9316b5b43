// Hash partitioning of rows into N tablets, and the stable 64-bit hash used by
// the replica checksum.
//
// Both must give the same answer in every process, on every machine and in
// every version of kmend (the master, clients and all replicas compute them
// independently), so they are written out here rather than taken from
// std::hash or absl::Hash, which are seeded per process.
//
// Hash64 is MurmurHash64A (Austin Appleby's public-domain MurmurHash2,
// 64-bit variant for 64-bit platforms), with little-endian reads so the
// result does not depend on the host. Test vectors are in partition_test.cc.
//
// Thread safety: pure functions.
#ifndef KMEND_LIB_TABLET_PARTITION_H_
#define KMEND_LIB_TABLET_PARTITION_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace kmend::tablet {

uint64_t Hash64(absl::string_view data, uint64_t seed = 0);

// The bucket (0 .. num_buckets-1) of a row, from its encoded primary key
// (EncodeKey): Hash64(encoded_key, seed) % num_buckets. num_buckets >= 1.
int HashBucket(absl::string_view encoded_key, int num_buckets, uint64_t seed = 0);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_PARTITION_H_
