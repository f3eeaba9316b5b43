#include "lib/check/remote_collector.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "lib/check/status_facts.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"

namespace kmend::check {

namespace {

using check::ClusterSnapshot;
using check::ToReplicaFacts;

// Runs fn(i) for i in [0, n) on up to `concurrency` threads.
void ParallelFor(int n, int concurrency, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  int threads = std::max(1, std::min(concurrency, n));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& th : pool) th.join();
}

bool Unauthorized(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
         s.error_code() == grpc::StatusCode::UNAUTHENTICATED;
}

std::string Reason(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "deadline exceeded";
    case grpc::StatusCode::UNAVAILABLE:
      return absl::StrCat("unavailable: ", s.error_message());
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat("not authorized: ", s.error_message());
    default:
      return s.error_message();
  }
}

void CollectMasters(const CollectOptions& opt, ClusterSnapshot* snap) {
  snap->masters.resize(opt.masters.size());
  ParallelFor(static_cast<int>(opt.masters.size()), opt.concurrency, [&](int i) {
    check::MasterFacts& m = snap->masters[i];
    m.address = opt.masters[i];
    auto stub = server::StatusService::NewStub(rpc::NewChannel(m.address));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, opt.timeout);
    server::GetStatusRequestPB req;
    req.set_include_replicas(false);
    server::GetStatusResponsePB resp;
    grpc::Status s = stub->GetStatus(&ctx, req, &resp);
    if (!s.ok()) {
      m.unreachable_reason = Reason(s);
      m.unauthorized = Unauthorized(s);
      return;
    }
    m.reachable = true;
    m.uuid = resp.server().uuid();
    m.version = resp.server().version();
    if (resp.has_master()) {
      m.is_leader = resp.master().is_leader();
      if (resp.master().has_catalog_consensus_state()) {
        const auto& cs = resp.master().catalog_consensus_state();
        m.catalog_config = cs.committed_config();
        m.catalog_term = cs.current_term();
        m.catalog_leader_uuid = cs.leader_uuid();
      }
      if (resp.master().has_catalog_version()) {
        m.catalog_version = resp.master().catalog_version();
      }
    }
  });
}

absl::Status CollectCatalog(const CollectOptions& opt, const std::string& master,
                            ClusterSnapshot* snap) {
  auto stub = master::MasterService::NewStub(rpc::NewChannel(master));
  {
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, opt.timeout);
    master::ListTabletServersResponsePB resp;
    grpc::Status s = stub->ListTabletServers(&ctx, {}, &resp);
    if (!s.ok()) return rpc::FromGrpcStatus(s, absl::StrCat(master, ": ListTabletServers"));
    for (const auto& e : resp.servers()) {
      check::TabletServerFacts ts;
      ts.uuid = e.registration().permanent_uuid();
      ts.address = net::HostPortToString(e.registration().rpc_address());
      ts.live_per_master = e.live();
      ts.in_maintenance = e.in_maintenance();
      snap->tablet_servers.push_back(ts);
    }
  }
  master::ListTablesResponsePB tables;
  {
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, opt.timeout);
    grpc::Status s = stub->ListTables(&ctx, {}, &tables);
    if (!s.ok()) return rpc::FromGrpcStatus(s, absl::StrCat(master, ": ListTables"));
  }
  std::set<std::string> want_tables(opt.tables.begin(), opt.tables.end());
  std::set<std::string> want_tablets(opt.tablets.begin(), opt.tablets.end());
  std::vector<const master::TableInfoPB*> wanted;
  for (const auto& t : tables.tables()) {
    if (t.state() != master::RUNNING) continue;
    if (!want_tables.empty() && !want_tables.count(t.name())) continue;
    wanted.push_back(&t);
  }
  // One DescribeTable per table, in parallel (a cluster of thousands of
  // tablets is several tables of at most 1,000); kept in ListTables' order.
  std::vector<check::TableFacts> described(wanted.size());
  std::vector<absl::Status> failed(wanted.size());
  ParallelFor(static_cast<int>(wanted.size()), opt.concurrency, [&](int i) {
    const master::TableInfoPB& t = *wanted[i];
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, opt.timeout);
    master::DescribeTableRequestPB req;
    req.set_table_id(t.table_id());
    master::DescribeTableResponsePB resp;
    grpc::Status s = stub->DescribeTable(&ctx, req, &resp);
    if (!s.ok()) {
      failed[i] = rpc::FromGrpcStatus(s, absl::StrCat(master, ": DescribeTable ", t.name()));
      return;
    }
    check::TableFacts& table = described[i];
    table.name = t.name();
    table.id = t.table_id();
    table.replication_factor = t.num_replicas();
    for (const auto& loc : resp.tablets()) {
      if (!want_tablets.empty() && !want_tablets.count(loc.tablet_id())) continue;
      check::TabletFacts tablet;
      tablet.tablet_id = loc.tablet_id();
      tablet.table_name = t.name();
      tablet.master_config = loc.config();
      table.tablets.push_back(tablet);
    }
  });
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!failed[i].ok()) return failed[i];
    snap->tables.push_back(std::move(described[i]));
  }
  snap->catalog_read = true;
  return absl::OkStatus();
}

void CollectTabletServers(const CollectOptions& opt, ClusterSnapshot* snap) {
  std::mutex mu;
  ParallelFor(static_cast<int>(snap->tablet_servers.size()), opt.concurrency, [&](int i) {
    check::TabletServerFacts& ts = snap->tablet_servers[i];
    auto stub = server::StatusService::NewStub(rpc::NewChannel(ts.address));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, opt.timeout);
    server::GetStatusRequestPB req;
    for (const std::string& id : opt.tablets) req.add_tablet_ids(id);
    server::GetStatusResponsePB resp;
    grpc::Status s = stub->GetStatus(&ctx, req, &resp);
    if (!s.ok()) {
      ts.unreachable_reason = Reason(s);
      ts.unauthorized = Unauthorized(s);
      return;
    }
    ts.reachable = true;
    ts.reported_uuid = resp.server().uuid();
    ts.version = resp.server().version();
    for (const auto& d : resp.server().data_dirs()) ts.data_dirs.push_back(ToDataDirFacts(d));
    std::map<std::string, check::ReplicaFacts> replicas;
    for (const auto& r : resp.replicas()) replicas[r.tablet_id()] = ToReplicaFacts(r);
    std::lock_guard<std::mutex> lock(mu);
    snap->replicas[ts.uuid] = std::move(replicas);
  });
}

// Every replica's checksum at one op index: the leader's latest applied index
// (asked first), then the others at that index. A follower that has not
// applied that far yet is asked again until the deadline.
void CollectChecksums(const CollectOptions& opt, ClusterSnapshot* snap) {
  struct Job {
    std::string tablet_id;
    std::string leader_uuid;
    std::vector<std::string> replica_uuids;
  };
  std::map<std::string, std::string> address;
  for (const auto& ts : snap->tablet_servers) {
    if (ts.reachable) address[ts.uuid] = ts.address;
  }
  std::vector<Job> jobs;
  for (const auto& table : snap->tables) {
    for (const auto& tablet : table.tablets) {
      Job job{tablet.tablet_id, "", {}};
      for (const auto& p : tablet.master_config.peers()) {
        job.replica_uuids.push_back(p.permanent_uuid());
        auto by_ts = snap->replicas.find(p.permanent_uuid());
        if (by_ts == snap->replicas.end()) continue;
        auto r = by_ts->second.find(tablet.tablet_id);
        if (r != by_ts->second.end() && r->second.role == check::Role::kLeader) {
          job.leader_uuid = p.permanent_uuid();
        }
      }
      jobs.push_back(job);
    }
  }
  std::mutex mu;
  ParallelFor(static_cast<int>(jobs.size()), opt.concurrency, [&](int j) {
    const Job& job = jobs[j];
    std::map<std::string, check::ChecksumFacts> out;
    auto ask = [&](const std::string& uuid, int64_t op_index) {
      check::ChecksumFacts f;
      auto addr = address.find(uuid);
      if (addr == address.end()) {
        f.reason = "tablet server not reachable";
        return f;
      }
      auto stub = tserver::TabletServerService::NewStub(rpc::NewChannel(addr->second));
      auto deadline = std::chrono::steady_clock::now() + opt.timeout;
      while (true) {
        grpc::ClientContext ctx;
        rpc::SetDeadline(&ctx, opt.timeout);
        tserver::ChecksumRequestPB req;
        req.set_tablet_id(job.tablet_id);
        if (op_index >= 0) req.set_op_index(op_index);
        tserver::ChecksumResponsePB resp;
        grpc::Status s = stub->Checksum(&ctx, req, &resp);
        if (s.ok()) {
          f.ok = true;
          f.digest = resp.digest();
          f.op_index = resp.op_index();
          f.row_count = resp.row_count();
          return f;
        }
        if (s.error_code() != grpc::StatusCode::FAILED_PRECONDITION ||
            std::chrono::steady_clock::now() + std::chrono::milliseconds(50) > deadline) {
          f.reason = Reason(s);
          return f;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    };
    int64_t op_index = -1;
    if (job.leader_uuid.empty()) {
      for (const std::string& uuid : job.replica_uuids) {
        out[uuid].reason = "no leader to pick the op index to compare at";
      }
    } else {
      out[job.leader_uuid] = ask(job.leader_uuid, -1);
      if (out[job.leader_uuid].ok) op_index = out[job.leader_uuid].op_index;
      for (const std::string& uuid : job.replica_uuids) {
        if (uuid == job.leader_uuid) continue;
        if (op_index < 0) {
          out[uuid].reason = "the leader's checksum failed";
        } else {
          out[uuid] = ask(uuid, op_index);
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    snap->checksums[job.tablet_id] = std::move(out);
  });
}

}  // namespace

absl::StatusOr<check::ClusterSnapshot> CollectRemote(const CollectOptions& opt) {
  if (opt.masters.empty()) return absl::InvalidArgumentError("no master address given (--masters)");
  ClusterSnapshot snap;
  CollectMasters(opt, &snap);

  // The catalog comes from the leader; without one, any reachable master.
  std::vector<const check::MasterFacts*> order;
  for (const auto& m : snap.masters) {
    if (m.reachable && m.is_leader) order.push_back(&m);
  }
  for (const auto& m : snap.masters) {
    if (m.reachable && !m.is_leader) order.push_back(&m);
  }
  const bool any_refused = std::any_of(snap.masters.begin(), snap.masters.end(),
                                      [](const check::MasterFacts& m) { return m.unauthorized; });
  // A master that refused ksck's identity is up: the cluster's state is
  // unknown to this caller, which is a finding (exit 1), not a failure to
  // run (exit 2).
  if (order.empty() && any_refused) {
    snap.catalog_unauthorized = true;
    snap.catalog_error =
        "not authorized: no master let this identity read its status (grant it the read role "
        "in the servers' --roles_file, or run ksck with a certificate or --token_file that "
        "has it)";
    return snap;
  }
  if (order.empty()) {
    std::vector<std::string> why;
    for (const auto& m : snap.masters)
      why.push_back(absl::StrCat(m.address, ": ", m.unreachable_reason));
    return absl::UnavailableError(
        absl::StrCat("no master reachable (", absl::StrJoin(why, "; "), ")"));
  }
  absl::Status catalog;
  for (const check::MasterFacts* m : order) {
    ClusterSnapshot attempt = snap;
    catalog = CollectCatalog(opt, m->address, &attempt);
    if (catalog.ok()) {
      snap = std::move(attempt);
      break;
    }
  }
  if (catalog.code() == absl::StatusCode::kPermissionDenied ||
      catalog.code() == absl::StatusCode::kUnauthenticated) {
    snap.catalog_unauthorized = true;
    snap.catalog_error = std::string(catalog.message());
    return snap;
  }
  if (!catalog.ok()) return catalog;

  CollectTabletServers(opt, &snap);
  if (opt.checksum_scan) CollectChecksums(opt, &snap);
  return snap;
}

}  // namespace kmend::check
