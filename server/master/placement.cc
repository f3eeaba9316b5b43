#include "server/master/placement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::master {

absl::StatusOr<std::vector<std::vector<std::string>>> PlaceReplicas(int num_tablets,
                                                                    int num_replicas,
                                                                    ServerLoad* load) {
  if (num_replicas < 1 || num_tablets < 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot place ", num_tablets,
                                                   " tablets with ", num_replicas,
                                                   " replicas each"));
  }
  if (static_cast<int64_t>(load->size()) < num_replicas) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication factor ", num_replicas, " needs ", num_replicas,
        " live tablet servers; ", load->size(), " live"));
  }
  std::vector<std::vector<std::string>> plan;
  plan.reserve(num_tablets);
  for (int t = 0; t < num_tablets; ++t) {
    std::vector<std::pair<int64_t, std::string>> order;
    order.reserve(load->size());
    for (const auto& [uuid, n] : *load) order.emplace_back(n, uuid);
    std::sort(order.begin(), order.end());
    std::vector<std::string> chosen;
    for (int r = 0; r < num_replicas; ++r) {
      chosen.push_back(order[r].second);
      ++(*load)[order[r].second];
    }
    plan.push_back(std::move(chosen));
  }
  return plan;
}

}  // namespace kmend::master
