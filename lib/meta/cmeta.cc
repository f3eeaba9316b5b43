#include "lib/meta/cmeta.h"

#include "lib/net/host_port.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/net/host_port.h"
#include "lib/util/status_macros.h"

namespace kmend::meta {

using consensus::ConsensusMetadataPB;
using consensus::RaftConfigPB;
using consensus::RaftPeerPB;

std::string ConsensusMetaPath(absl::string_view root, absl::string_view tablet_id) {
  return io::JoinPath(io::JoinPath(root, fs::kConsensusMetaDirName), tablet_id);
}

absl::StatusOr<ConsensusMetadataPB> LoadConsensusMeta(const std::string& path) {
  ConsensusMetadataPB cmeta;
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(path, &cmeta));
  return cmeta;
}

absl::Status StoreConsensusMeta(const std::string& path, const ConsensusMetadataPB& cmeta) {
  ConsensusMetadataPB copy = cmeta;
  for (RaftPeerPB& peer : *copy.mutable_committed_config()->mutable_peers()) {
    peer.clear_health_report();
  }
  return pbc::WriteSingleMessageFile(path, copy);
}

std::vector<std::string> CheckConsensusMeta(const ConsensusMetadataPB& cmeta) {
  std::vector<std::string> problems;
  if (cmeta.current_term() < 0) {
    problems.push_back(absl::StrCat("current_term is negative (", cmeta.current_term(), ")"));
  }
  std::set<std::string> uuids;
  int voters = 0;
  const RaftConfigPB& config = cmeta.committed_config();
  for (int i = 0; i < config.peers_size(); ++i) {
    const RaftPeerPB& peer = config.peers(i);
    if (peer.permanent_uuid().empty()) {
      problems.push_back(absl::StrCat("committed_config.peers[", i, "] has no permanent_uuid"));
    } else if (!uuids.insert(peer.permanent_uuid()).second) {
      problems.push_back(absl::StrCat("committed_config.peers[", i, "]: duplicate uuid ",
                                      peer.permanent_uuid()));
    }
    if (peer.member_type() == RaftPeerPB::VOTER) ++voters;
  }
  if (voters == 0) problems.push_back("committed_config has no VOTER peer");
  return problems;
}

absl::StatusOr<CmetaVerifyResult> VerifyConsensusMeta(const std::string& path) {
  CmetaVerifyResult result;
  ASSIGN_OR_RETURN(result.file, pbc::VerifyFile(path));
  if (result.file.state != pbc::VerifyResult::State::kOk) return result;
  // Kudu's files say kudu.consensus.ConsensusMetadataPB, ours kmend.consensus.
  if (!absl::EndsWith(result.file.pb_type, ".ConsensusMetadataPB")) {
    result.problems.push_back(absl::StrCat("pb_type is ", result.file.pb_type,
                                           ", not ConsensusMetadataPB"));
    return result;
  }
  if (result.file.records != 1) {
    result.problems.push_back(absl::StrCat("holds ", result.file.records,
                                           " records; exactly 1 expected (readers use the first)"));
  }
  if (result.file.records == 0) return result;
  auto cmeta = LoadConsensusMeta(path);
  if (!cmeta.ok()) {
    result.problems.push_back(std::string(cmeta.status().message()));
    return result;
  }
  for (std::string& p : CheckConsensusMeta(*cmeta)) result.problems.push_back(std::move(p));
  return result;
}

absl::StatusOr<RaftConfigPB> ParsePeerList(absl::string_view spec) {
  RaftConfigPB config;
  config.set_opid_index(-1);  // no log entry committed this config
  std::set<std::string> uuids;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer \"", item, "\": ", why, " (expected uuid@host:port)"));
    };
    size_t at = item.find('@');
    if (at == absl::string_view::npos) return bad("malformed");
    absl::string_view uuid = item.substr(0, at);
    if (uuid.empty()) return bad("empty uuid");
    absl::StatusOr<HostPortPB> addr = net::ParseHostPort(item.substr(at + 1));
    if (!addr.ok()) return bad(addr.status().message());
    if (addr->port() == 0) return bad("port must be 1..65535");
    if (!uuids.insert(std::string(uuid)).second) return bad("duplicate uuid");
    RaftPeerPB* peer = config.add_peers();
    peer->set_permanent_uuid(std::string(uuid));
    peer->set_member_type(RaftPeerPB::VOTER);
    *peer->mutable_last_known_addr() = *addr;
  }
  if (config.peers_size() == 0) return absl::InvalidArgumentError("no peers given");
  return config;
}

}  // namespace kmend::meta
