#include "lib/client/table_locator.h"

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"
#include "lib/rpc/status_payloads.h"

namespace kmend::client {
namespace {

bool Retryable(const absl::Status& s) {
  return absl::IsFailedPrecondition(s) || absl::IsUnavailable(s) ||
         absl::IsDeadlineExceeded(s) || absl::IsNotFound(s) || absl::IsAborted(s);
}

}  // namespace

absl::Duration AttemptTimeout(absl::Duration budget, absl::Duration rpc_timeout) {
  absl::Duration t = std::clamp(budget / kAttemptBudgetDivisor, kAttemptTimeoutMin,
                                kAttemptTimeoutMax);
  return std::min(t, rpc_timeout);
}

namespace {

}  // namespace

absl::StatusOr<std::unique_ptr<TableLocator>> TableLocator::Open(
    const std::string& masters, const std::string& table, std::chrono::milliseconds rpc_timeout) {
  auto hps = net::ParseHostPorts(masters);
  if (!hps.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--masters: ", hps.status().message()));
  }
  std::vector<std::string> addrs;
  for (const auto& hp : *hps) addrs.push_back(net::HostPortToString(hp));
  std::unique_ptr<TableLocator> loc(new TableLocator(std::move(addrs), table, rpc_timeout));
  auto resp = loc->Describe();
  if (!resp.ok()) return resp.status();
  auto schema = tablet::Schema::FromPB(resp->table().schema());
  if (!schema.ok()) {
    return absl::DataLossError(absl::StrCat("table ", table, ": the master's schema is invalid: ",
                                            schema.status().message()));
  }
  loc->schema_ = *schema;
  loc->table_id_ = resp->table().table_id();
  const auto& ps = resp->table().partition_schema();
  if (ps.hash_schema_size() != 1) {
    return absl::UnimplementedError(absl::StrCat("table ", table, " has ", ps.hash_schema_size(),
                                                 " hash dimensions; only 1 is supported"));
  }
  loc->num_buckets_ = ps.hash_schema(0).num_buckets();
  loc->hash_seed_ = ps.hash_schema(0).seed();
  if (loc->num_buckets_ < 1) {
    return absl::DataLossError(absl::StrCat("table ", table, ": num_buckets ", loc->num_buckets_));
  }
  absl::Status s = loc->Refresh();
  if (!s.ok()) return s;
  return loc;
}

absl::StatusOr<master::DescribeTableResponsePB> TableLocator::Describe() {
  master::DescribeTableRequestPB req;
  if (table_id_.empty()) {
    req.set_name(table_);
  } else {
    req.set_table_id(table_id_);
  }
  std::vector<std::string> errors;
  for (const std::string& addr : masters_) {
    auto stub = master::MasterService::NewStub(rpc::NewChannel(addr));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, rpc_timeout_);
    master::DescribeTableResponsePB resp;
    absl::Status s = rpc::FromGrpcStatus(stub->DescribeTable(&ctx, req, &resp),
                                            absl::StrCat("DescribeTable at master ", addr));
    if (s.ok()) return resp;
    if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return s;
    errors.push_back(std::string(s.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("no master reachable: ", absl::StrJoin(errors, "; ")));
}

absl::Status TableLocator::Refresh() {
  absl::MutexLock master_lock(&master_mu_);
  auto resp = Describe();
  if (!resp.ok()) return resp.status();
  std::vector<TabletRoute> routes;
  std::map<int, int> buckets;
  for (const auto& tl : resp->tablets()) {
    TabletRoute r;
    r.tablet_id = tl.tablet_id();
    r.leader_uuid = tl.leader_uuid();
    if (tl.partition().hash_buckets_size() != 1) {
      return absl::DataLossError(absl::StrCat("tablet ", tl.tablet_id(), " has ",
                                              tl.partition().hash_buckets_size(),
                                              " hash buckets; expected 1"));
    }
    r.hash_bucket = tl.partition().hash_buckets(0);
    for (const auto& rep : tl.replicas()) {
      r.replicas.push_back({rep.ts_uuid(), net::HostPortToString(rep.rpc_address())});
    }
    buckets[r.hash_bucket] = static_cast<int>(routes.size());
    routes.push_back(std::move(r));
  }
  for (int b = 0; b < num_buckets_; ++b) {
    if (!buckets.count(b)) {
      return absl::DataLossError(
          absl::StrCat("table ", table_, ": no tablet serves hash bucket ", b));
    }
  }
  absl::MutexLock lock(&mu_);
  if (!routes_.empty() && routes.size() != routes_.size()) {
    return absl::FailedPreconditionError(absl::StrCat("table ", table_, " changed its tablets"));
  }
  routes_ = std::move(routes);
  bucket_to_tablet_ = std::move(buckets);
  return absl::OkStatus();
}

int TableLocator::num_tablets() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(routes_.size());
}

absl::StatusOr<int> TableLocator::TabletForBucket(int bucket) const {
  absl::MutexLock lock(&mu_);
  auto it = bucket_to_tablet_.find(bucket);
  if (it == bucket_to_tablet_.end()) {
    return absl::NotFoundError(absl::StrCat("no tablet for hash bucket ", bucket));
  }
  return it->second;
}

void TableLocator::NoteLeader(int tablet_index, const std::string& tablet_id,
                              const std::string& leader_uuid) {
  absl::MutexLock lock(&mu_);
  // A refresh may have replaced the routes meanwhile: only the same tablet.
  if (tablet_index < static_cast<int>(routes_.size()) &&
      routes_[tablet_index].tablet_id == tablet_id) {
    routes_[tablet_index].leader_uuid = leader_uuid;
  }
}

TabletRoute TableLocator::route(int tablet_index) const {
  absl::MutexLock lock(&mu_);
  return routes_.at(tablet_index);
}

std::shared_ptr<tserver::TabletServerService::Stub> TableLocator::StubFor(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) stub = tserver::TabletServerService::NewStub(rpc::NewChannel(address));
  return stub;
}

absl::Status TableLocator::CallLeader(int tablet_index, const std::string& what,
                                      absl::Time deadline, const TabletCall& call,
                                      RetryStats* stats) {
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Status last = absl::DeadlineExceededError("no attempt made");
  const absl::Duration attempt_timeout =
      AttemptTimeout(deadline - absl::Now(), absl::FromChrono(rpc_timeout_));
  // Replicas whose attempt ran out of time in this call: tried after the
  // others from then on, so a leader that accepts connections but never
  // answers (SIGSTOP, a one-way cut) is not first in line every round while
  // another replica may already lead.
  std::set<std::string> timed_out;
  // The last leader a replica named; kept across answers that name none.
  std::string hint;
  for (int round = 0;; ++round) {
    TabletRoute r = route(tablet_index);
    // Order: the hinted leader, the reported leader, then the rest.
    std::vector<ReplicaAddr> order;
    auto take = [&](const std::string& uuid) {
      for (const auto& rep : r.replicas) {
        if (rep.uuid == uuid &&
            std::none_of(order.begin(), order.end(),
                         [&](const ReplicaAddr& o) { return o.uuid == uuid; })) {
          order.push_back(rep);
        }
      }
    };
    auto fresh = [&](const std::string& uuid) { return !uuid.empty() && !timed_out.count(uuid); };
    if (fresh(hint)) take(hint);
    if (fresh(r.leader_uuid)) take(r.leader_uuid);
    for (const auto& rep : r.replicas) {
      if (fresh(rep.uuid)) take(rep.uuid);
    }
    if (!hint.empty()) take(hint);
    if (!r.leader_uuid.empty()) take(r.leader_uuid);
    for (const auto& rep : r.replicas) take(rep.uuid);
    for (size_t i = 0; i < order.size(); ++i) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, " tablet ", r.tablet_id, ": gave up at the deadline after ",
                         round, " rounds; last error: ", last.message()));
      }
      auto timeout = absl::ToChronoMilliseconds(std::min(attempt_timeout, left));
      grpc::ClientContext ctx;
      rpc::SetDeadline(&ctx, std::max(timeout, std::chrono::milliseconds(1)));
      if (stats != nullptr) ++stats->rpcs;
      absl::Status s = rpc::FromGrpcStatus(
          call(StubFor(order[i].address).get(), &ctx),
          absl::StrCat(what, " tablet ", r.tablet_id, " at ", order[i].uuid, " (",
                       order[i].address, ")"));
      if (s.ok()) {
        // Remember who answered: a leader learned from a redirect would
        // otherwise be forgotten with this call, and every later call would
        // go to the stale leader first (an RPC and a refusal per write, for
        // as long as no whole round fails and refreshes the route).
        if (order[i].uuid != r.leader_uuid) NoteLeader(tablet_index, r.tablet_id, order[i].uuid);
        return s;
      }
      if (!Retryable(s)) return s;
      if (stats != nullptr) ++stats->redirects;
      last = s;
      if (absl::IsDeadlineExceeded(s)) timed_out.insert(order[i].uuid);
      std::string h = rpc::LeaderHint(s).value_or("");
      if (!h.empty() && h != order[i].uuid &&
          std::none_of(order.begin() + i + 1, order.end(),
                       [&](const ReplicaAddr& o) { return o.uuid == h; })) {
        // A leader we already tried this round: try it again next.
        for (const auto& rep : r.replicas) {
          if (rep.uuid == h) order.insert(order.begin() + i + 1, rep);
        }
        if (order.size() > r.replicas.size() * 2) order.resize(r.replicas.size() * 2);
      }
      if (!h.empty()) hint = h;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, " tablet ", r.tablet_id, ": gave up at the deadline after ",
                       round + 1, " rounds; last error: ", last.message()));
    }
    absl::SleepFor(std::min(backoff, left));
    backoff = std::min(backoff * 2, absl::Seconds(1));
    if (stats != nullptr) ++stats->master_lookups;
    absl::Status rs = Refresh();
    if (!rs.ok() && !absl::IsUnavailable(rs) && !absl::IsDeadlineExceeded(rs)) return rs;
  }
}

}  // namespace kmend::client
