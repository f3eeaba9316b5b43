#include "lib/raft/config.h"

#include <algorithm>

#include <set>

#include "absl/strings/str_cat.h"

namespace kmend::raft {

using consensus::RaftConfigPB;
using consensus::RaftPeerPB;

const char* ChangeTypeName(ChangeType type) {
  switch (type) {
    case ChangeType::kAddVoter: return "ADD_VOTER";
    case ChangeType::kAddNonVoter: return "ADD_NON_VOTER";
    case ChangeType::kRemovePeer: return "REMOVE_PEER";
    case ChangeType::kPromote: return "PROMOTE";
  }
  return "UNKNOWN";
}

const RaftPeerPB* FindPeer(const RaftConfigPB& config, const std::string& uuid) {
  for (const RaftPeerPB& p : config.peers()) {
    if (p.permanent_uuid() == uuid) return &p;
  }
  return nullptr;
}

bool IsMember(const RaftConfigPB& config, const std::string& uuid) {
  return FindPeer(config, uuid) != nullptr;
}

bool IsVoter(const RaftConfigPB& config, const std::string& uuid) {
  const RaftPeerPB* p = FindPeer(config, uuid);
  return p != nullptr && p->member_type() == RaftPeerPB::VOTER;
}

std::vector<std::string> VoterUuids(const RaftConfigPB& config) {
  std::vector<std::string> out;
  for (const RaftPeerPB& p : config.peers()) {
    if (p.member_type() == RaftPeerPB::VOTER) out.push_back(p.permanent_uuid());
  }
  return out;
}

int VoterCount(const RaftConfigPB& config) {
  return static_cast<int>(VoterUuids(config).size());
}

int MajoritySize(int voters) { return voters / 2 + 1; }

absl::Status ValidateConfig(const RaftConfigPB& config) {
  std::set<std::string> seen;
  for (int i = 0; i < config.peers_size(); ++i) {
    const RaftPeerPB& p = config.peers(i);
    if (p.permanent_uuid().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: peers[", i, "]: permanent_uuid is empty"));
    }
    if (!seen.insert(p.permanent_uuid()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: peers[", i, "]: duplicate permanent_uuid ", p.permanent_uuid()));
    }
    if (p.member_type() != RaftPeerPB::VOTER && p.member_type() != RaftPeerPB::NON_VOTER) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: peer ", p.permanent_uuid(),
                       ": member_type must be VOTER or NON_VOTER, found ",
                       RaftPeerPB::MemberType_Name(p.member_type())));
    }
  }
  if (VoterCount(config) == 0) {
    return absl::InvalidArgumentError("config: no VOTER peer");
  }
  return absl::OkStatus();
}

absl::StatusOr<RaftConfigPB> ApplyChange(const RaftConfigPB& active,
                                         const ConfigChange& change) {
  if (change.uuid.empty()) return absl::InvalidArgumentError("config change: empty uuid");
  RaftConfigPB out = active;
  out.clear_unsafe_config_change();
  const RaftPeerPB* existing = FindPeer(active, change.uuid);
  switch (change.type) {
    case ChangeType::kAddVoter:
    case ChangeType::kAddNonVoter: {
      if (existing != nullptr) {
        return absl::AlreadyExistsError(
            absl::StrCat("config change ", ChangeTypeName(change.type), ": peer ",
                         change.uuid, " is already in the config"));
      }
      RaftPeerPB* p = out.add_peers();
      *p = change.peer_template;
      p->set_permanent_uuid(change.uuid);
      p->set_member_type(change.type == ChangeType::kAddVoter ? RaftPeerPB::VOTER
                                                              : RaftPeerPB::NON_VOTER);
      p->clear_health_report();
      break;
    }
    case ChangeType::kRemovePeer: {
      if (existing == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("config change REMOVE_PEER: peer ", change.uuid, " not in the config"));
      }
      out.clear_peers();
      for (const RaftPeerPB& p : active.peers()) {
        if (p.permanent_uuid() != change.uuid) *out.add_peers() = p;
      }
      break;
    }
    case ChangeType::kPromote: {
      if (existing == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("config change PROMOTE: peer ", change.uuid, " not in the config"));
      }
      if (existing->member_type() != RaftPeerPB::NON_VOTER) {
        return absl::FailedPreconditionError(absl::StrCat(
            "config change PROMOTE: peer ", change.uuid, " is not a NON_VOTER"));
      }
      for (RaftPeerPB& p : *out.mutable_peers()) {
        if (p.permanent_uuid() == change.uuid) {
          p.set_member_type(RaftPeerPB::VOTER);
          p.mutable_attrs()->set_promote(false);
        }
      }
      break;
    }
  }
  absl::Status s = ValidateConfig(out);
  if (!s.ok()) return s;
  return out;
}

absl::Status CheckUnsafeConfig(const RaftConfigPB& committed, const RaftConfigPB& new_config,
                               const std::string& self_uuid) {
  absl::Status s = ValidateConfig(new_config);
  if (!s.ok()) return s;
  for (const RaftPeerPB& p : new_config.peers()) {
    if (!IsMember(committed, p.permanent_uuid())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unsafe config change: peer ", p.permanent_uuid(),
          " is not in the committed config (", ConfigSummary(committed),
          "): the new config must be a subset of it"));
    }
  }
  if (!IsVoter(new_config, self_uuid)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsafe config change: the local replica ", self_uuid,
        " must be a VOTER in the new config (", ConfigSummary(new_config), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RaftConfigPB> MakeForcedConfig(const RaftConfigPB& committed,
                                              const std::vector<std::string>& keep) {
  for (const std::string& uuid : keep) {
    if (!IsMember(committed, uuid)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unsafe config change: ", uuid, " is not in the committed config (",
          ConfigSummary(committed), ")"));
    }
  }
  RaftConfigPB forced;
  for (const RaftPeerPB& p : committed.peers()) {
    if (std::find(keep.begin(), keep.end(), p.permanent_uuid()) == keep.end()) continue;
    RaftPeerPB* kept = forced.add_peers();
    *kept = p;
    kept->set_member_type(RaftPeerPB::VOTER);
    kept->clear_attrs();
    kept->clear_health_report();
  }
  return forced;
}

ConfigVersion ConfigVersionOf(const RaftConfigPB& config) {
  ConfigVersion v;
  v.term = config.opid_term();  // 0 when absent
  v.index = config.has_opid_index() ? config.opid_index() : -1;
  return v;
}

std::string ConfigSummary(const RaftConfigPB& config) {
  std::string out;
  for (const RaftPeerPB& p : config.peers()) {
    if (!out.empty()) out += ",";
    absl::StrAppend(&out, p.permanent_uuid(), ":",
                    p.member_type() == RaftPeerPB::VOTER ? "V" : "N");
  }
  absl::StrAppend(&out, "@", config.has_opid_index() ? config.opid_index() : -1);
  if (config.unsafe_config_change()) out += "(unsafe)";
  return out;
}

}  // namespace kmend::raft
