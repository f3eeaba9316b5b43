#include "lib/consensus/random_seed.h"

#include <random>

#include "lib/util/fnv1a.h"

namespace kmend::consensus_driver {

uint64_t ReplicaRandomSeed(absl::string_view server_uuid, absl::string_view tablet_id) {
  // The identity's hash: uuid then tablet id, no separator (changing the
  // bytes would change every replica's seed for no gain).
  const uint64_t h = Fnv1aAdd(Fnv1aAdd(kFnv1aOffset, server_uuid), tablet_id);
  std::random_device entropy;
  return h ^ ((static_cast<uint64_t>(entropy()) << 32) | entropy());
}

}  // namespace kmend::consensus_driver
