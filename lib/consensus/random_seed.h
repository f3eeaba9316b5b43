// The random seed a server gives a replica's Raft core (CoreOptions::
// random_seed), for the tablet server's replicas and the master's
// sys-catalog replica alike.
//
// The Raft core is deterministic given its seed: tests and the simulator
// pass fixed seeds to replay a run. A server wants the opposite: replicas of
// one tablet must draw different election timeouts (else they time out
// together and split the vote), and a restarted replica must not draw the
// same sequence again (the failover benchmark saw detections cluster by
// which server had restarted). So the seed mixes the replica's identity
// (server uuid and tablet id, FNV-1a) with fresh entropy from
// std::random_device: it differs per replica and per start, and is not
// reproducible; a test that needs a reproducible run sets the seed itself.
#ifndef KMEND_LIB_CONSENSUS_RANDOM_SEED_H_
#define KMEND_LIB_CONSENSUS_RANDOM_SEED_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace kmend::consensus_driver {

uint64_t ReplicaRandomSeed(absl::string_view server_uuid, absl::string_view tablet_id);

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_RANDOM_SEED_H_
