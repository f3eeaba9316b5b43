#include "lib/consensus/random_seed.h"

#include <random>

namespace kmend::consensus_driver {

uint64_t ReplicaRandomSeed(absl::string_view server_uuid, absl::string_view tablet_id) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the identity
  for (absl::string_view part : {server_uuid, tablet_id}) {
    for (char c : part) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  std::random_device entropy;
  return h ^ ((static_cast<uint64_t>(entropy()) << 32) | entropy());
}

}  // namespace kmend::consensus_driver
