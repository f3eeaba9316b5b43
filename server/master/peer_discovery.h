// Peer discovery's reading of another master's status (master_bootstrap.cc):
// whether that master runs an established catalog this master must join,
// has a catalog it has not opened yet (wait for it), or is as empty as this
// one (found a catalog together). Pure functions.
#ifndef KMEND_SERVER_MASTER_PEER_DISCOVERY_H_
#define KMEND_SERVER_MASTER_PEER_DISCOVERY_H_

#include <optional>
#include <string>

#include "proto/consensus_metadata.pb.h"
#include "proto/status.pb.h"

namespace kmend::master {

// The committed config of an established catalog (its replica has seen an
// election: term > 0) that does not list `self`: this master is new to a
// running catalog and joins it as a non-member (docs/design/server.md,
// "Adding a master"). Only the peers are kept, at op index -1: the config's
// op id names an entry this master's empty log does not hold; the leader's
// log or a catalog copy brings the real config.
std::optional<consensus::RaftConfigPB> EstablishedConfigWithout(
    const server::GetStatusResponsePB& status, const std::string& self);

// The master holds a catalog on disk but has not opened it (restarting:
// replaying its log, installing a copy). Until it does, an empty master must
// not take it for empty: with a second empty master they would be a
// majority of a fresh config and found an empty catalog beside the real one.
bool CatalogNotOpenYet(const server::GetStatusResponsePB& status);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_PEER_DISCOVERY_H_
