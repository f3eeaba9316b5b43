#include "server/master/peer_discovery.h"

namespace kmend::master {

std::optional<consensus::RaftConfigPB> EstablishedConfigWithout(
    const server::GetStatusResponsePB& status, const std::string& self) {
  if (!status.master().has_catalog_consensus_state()) return std::nullopt;
  const consensus::ConsensusStatePB& c = status.master().catalog_consensus_state();
  if (c.current_term() <= 0) return std::nullopt;
  for (const auto& p : c.committed_config().peers()) {
    if (p.permanent_uuid() == self) return std::nullopt;
  }
  consensus::RaftConfigPB config;
  config.set_opid_index(-1);
  *config.mutable_peers() = c.committed_config().peers();
  return config;
}

bool CatalogNotOpenYet(const server::GetStatusResponsePB& status) {
  return status.master().catalog_on_disk() && !status.master().has_catalog_consensus_state();
}

}  // namespace kmend::master
