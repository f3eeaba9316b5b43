#include "lib/rpc/status_payloads.h"

#include "absl/strings/cord.h"

namespace kmend::rpc {
namespace {
constexpr char kLeaderUrl[] = "type.kmend.io/leader_uuid";
constexpr char kSimulatedCrashUrl[] = "type.kmend.io/simulated_crash";
}  // namespace

void SetLeaderHint(absl::Status* status, const std::string& leader_uuid) {
  if (status->ok() || leader_uuid.empty()) return;
  status->SetPayload(kLeaderUrl, absl::Cord(leader_uuid));
}

std::optional<std::string> LeaderHint(const absl::Status& status) {
  auto p = status.GetPayload(kLeaderUrl);  // absl::optional in Debian's Abseil
  if (!p || p->empty()) return std::nullopt;
  return std::string(*p);
}

absl::Status SimulatedCrashError(const std::string& message) {
  absl::Status s = absl::AbortedError(message);
  s.SetPayload(kSimulatedCrashUrl, absl::Cord("1"));
  return s;
}

bool IsSimulatedCrash(const absl::Status& status) {
  return status.GetPayload(kSimulatedCrashUrl).has_value();
}

}  // namespace kmend::rpc
