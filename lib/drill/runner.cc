#include "lib/drill/runner.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/check/checker.h"
#include "lib/check/remote_collector.h"
#include "lib/client/table_locator.h"
#include "lib/client/table_writer.h"
#include "lib/drill/local_process.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"
#include "lib/tablet/partition.h"
#include "lib/tablet/row.h"
#include "proto/status.grpc.pb.h"

namespace kmend::drill {

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kKillLeader: return "kill-leader";
    case Fault::kKillTserver: return "kill-tserver";
    case Fault::kStopTserver: return "stop-tserver";
  }
  return "?";
}

bool ParseFault(const std::string& name, Fault* out) {
  for (Fault f : {Fault::kKillLeader, Fault::kKillTserver, Fault::kStopTserver}) {
    if (name == FaultName(f)) {
      *out = f;
      return true;
    }
  }
  return false;
}

std::string ExpandCommand(const std::string& tmpl, const FaultTarget& t) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%' || i + 1 == tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    char c = tmpl[++i];
    switch (c) {
      case 'a': out += t.address; break;
      case 'h': out += t.host; break;
      case 'p': out += std::to_string(t.port); break;
      case 'u': out += t.uuid; break;
      case 'i': out += std::to_string(t.pid); break;
      case 'r': out += t.fs_root; break;
      case '%': out += '%'; break;
      default: out += '%'; out += c;
    }
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point zero) {
  return std::chrono::duration<double, std::milli>(Clock::now() - zero).count();
}

// The table as the cluster reports it right now.
struct TableView {
  int replication_factor = 0;
  std::vector<std::string> tablet_ids;  // catalog order
  std::map<std::string, std::string> leader_of;    // tablet -> leader uuid
  std::map<std::string, int64_t> leader_term_of;   // tablet -> its term
  std::map<std::string, std::set<std::string>> hosts_of;  // tablet -> uuids
  std::map<std::string, std::string> address_of;   // uuid -> host:port
  std::vector<std::string> servers;                // uuids hosting the table, sorted
};

absl::StatusOr<TableView> ViewTable(const DrillOptions& o) {
  check::CollectOptions c;
  c.masters = o.masters;
  c.tables = {o.table};
  c.timeout = o.rpc_timeout;
  auto snap = check::CollectRemote(c);
  if (!snap.ok()) return snap.status();
  const check::TableFacts* table = nullptr;
  for (const auto& t : snap->tables) {
    if (t.name == o.table) table = &t;
  }
  if (table == nullptr) return absl::NotFoundError(absl::StrCat("no table '", o.table, "'"));
  TableView v;
  v.replication_factor = table->replication_factor;
  for (const auto& ts : snap->tablet_servers) v.address_of[ts.uuid] = ts.address;
  std::set<std::string> servers;
  for (const auto& tablet : table->tablets) {
    v.tablet_ids.push_back(tablet.tablet_id);
    for (const auto& peer : tablet.master_config.peers()) {
      v.hosts_of[tablet.tablet_id].insert(peer.permanent_uuid());
      servers.insert(peer.permanent_uuid());
    }
    int64_t best = -1;
    for (const auto& [uuid, reps] : snap->replicas) {
      auto it = reps.find(tablet.tablet_id);
      if (it == reps.end() || it->second.role != check::Role::kLeader) continue;
      if (it->second.term > best) {
        best = it->second.term;
        v.leader_of[tablet.tablet_id] = uuid;
        v.leader_term_of[tablet.tablet_id] = it->second.term;
      }
    }
  }
  v.servers.assign(servers.begin(), servers.end());
  return v;
}

absl::StatusOr<bool> ClusterHealthy(const DrillOptions& o) {
  check::CollectOptions c;
  c.masters = o.masters;
  c.timeout = o.rpc_timeout;
  auto snap = check::CollectRemote(c);
  if (!snap.ok()) return snap.status();
  return check::Check(*snap).healthy();
}

absl::Status WaitHealthy(const DrillOptions& o) {
  auto deadline = Clock::now() + o.healthy_timeout;
  while (true) {
    auto h = ClusterHealthy(o);
    if (h.ok() && *h) return absl::OkStatus();
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "ksck did not report HEALTHY within ", o.healthy_timeout.count(), " ms",
          h.ok() ? "" : absl::StrCat(" (last: ", h.status().message(), ")")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

absl::StatusOr<server::GetStatusResponsePB> ServerStatus(const std::string& address,
                                                        std::chrono::milliseconds timeout) {
  auto stub = server::StatusService::NewStub(rpc::NewChannel(address));
  server::GetStatusRequestPB req;
  req.set_include_replicas(false);
  server::GetStatusResponsePB resp;
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, timeout);
  absl::Status s = rpc::FromGrpcStatus(stub->GetStatus(&ctx, req, &resp), address);
  if (!s.ok()) return s;
  return resp;
}

absl::Status RunShell(const std::string& what, const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(what, " '", cmd, "' exited with status ", rc));
  }
  return absl::OkStatus();
}

// The steady load on one tablet: single-row UPSERTs at a fixed rate, keys
// that route to this tablet only (from 2^40 upward, away from demo rows).
class TabletLoad {
 public:
  TabletLoad(client::TableLocator* locator, int tablet_index, const DrillOptions& o,
             Clock::time_point zero, int64_t key_base)
      : locator_(locator), index_(tablet_index), o_(o), zero_(zero), next_key_(key_base) {}

  void Start() { thread_ = std::thread([this] { Loop(); }); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<WriteSample> Samples() {
    absl::MutexLock l(&mu_);
    return samples_;
  }
  // Whether a write was acknowledged after `ms`.
  bool AckedAfter(double ms) {
    absl::MutexLock l(&mu_);
    for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
      if (it->acked && it->end_ms > ms) return true;
      if (it->end_ms <= ms) break;
    }
    return false;
  }

 private:
  int64_t NextKey() {
    const int n = locator_->num_buckets();
    while (true) {
      int64_t k = next_key_++;
      tablet::Row row = client::GeneratedRow(locator_->schema(), k, 16);
      auto key = tablet::EncodeKey(locator_->schema(), row);
      if (!key.ok()) continue;
      auto t = locator_->TabletForBucket(tablet::HashBucket(*key, n, locator_->hash_seed()));
      if (t.ok() && *t == index_) return k;
    }
  }

  void Loop() {
    client::TableWriter writer(locator_, absl::FromChrono(o_.write_timeout));
    const auto period = std::chrono::duration<double>(1.0 / std::max(1.0, o_.rows_per_s));
    auto next = Clock::now();
    while (!stop_) {
      std::this_thread::sleep_until(next);
      next += std::chrono::duration_cast<Clock::duration>(period);
      WriteSample s;
      int64_t k = NextKey();
      std::vector<tablet::Row> rows = {client::GeneratedRow(locator_->schema(), k, 16)};
      s.start_ms = MsSince(zero_);
      auto r = writer.Write(rows, RowOpPB::UPSERT);
      s.end_ms = MsSince(zero_);
      s.acked = r.ok() && r->outcomes[0] == client::RowOutcome::kAcked;
      {
        absl::MutexLock l(&mu_);
        samples_.push_back(s);
      }
      if (Clock::now() > next) next = Clock::now();  // no burst after a stall
    }
  }

  client::TableLocator* locator_;
  const int index_;
  const DrillOptions& o_;
  const Clock::time_point zero_;
  int64_t next_key_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<WriteSample> samples_ ABSL_GUARDED_BY(mu_);
};

// Polls one surviving server for the faulted tablets' terms and leaders.
class ElectionWatch {
 public:
  ElectionWatch(std::string address, std::vector<std::string> tablets,
                std::map<std::string, int64_t> term_at_fault, std::string faulted_uuid,
                const DrillOptions& o, Clock::time_point zero)
      : tablets_(std::move(tablets)),
        term_at_fault_(std::move(term_at_fault)),
        faulted_uuid_(std::move(faulted_uuid)),
        o_(o),
        zero_(zero),
        stub_(server::StatusService::NewStub(rpc::NewChannel(address))) {}

  void Start() { thread_ = std::thread([this] { Loop(); }); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, double> election_seen() {
    absl::MutexLock l(&mu_);
    return election_seen_;
  }
  std::map<std::string, double> leader_seen() {
    absl::MutexLock l(&mu_);
    return leader_seen_;
  }

 private:
  void Loop() {
    server::GetStatusRequestPB req;
    for (const auto& t : tablets_) req.add_tablet_ids(t);
    while (!stop_) {
      auto next = Clock::now() + o_.poll_interval;
      server::GetStatusResponsePB resp;
      grpc::ClientContext ctx;
      rpc::SetDeadline(&ctx, std::chrono::milliseconds(200));
      if (stub_->GetStatus(&ctx, req, &resp).ok()) {
        double now = MsSince(zero_);
        absl::MutexLock l(&mu_);
        for (const auto& rep : resp.replicas()) {
          auto it = term_at_fault_.find(rep.tablet_id());
          if (it == term_at_fault_.end()) continue;
          int64_t term = rep.consensus_state().current_term();
          if (term <= it->second) continue;
          election_seen_.emplace(rep.tablet_id(), now);
          std::string leader = rep.role() == consensus::RaftPeerPB::LEADER
                                   ? std::string("self")
                                   : rep.consensus_state().leader_uuid();
          if (!leader.empty() && leader != faulted_uuid_) leader_seen_.emplace(rep.tablet_id(), now);
        }
      }
      std::this_thread::sleep_until(next);
    }
  }

  const std::vector<std::string> tablets_;
  const std::map<std::string, int64_t> term_at_fault_;
  const std::string faulted_uuid_;
  const DrillOptions& o_;
  const Clock::time_point zero_;
  std::unique_ptr<server::StatusService::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::map<std::string, double> election_seen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> leader_seen_ ABSL_GUARDED_BY(mu_);
};

void Progress(const DrillOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// One trial; fills *trace. An error ends the drill.
absl::Status RunTrial(const DrillOptions& o, int trial, client::TableLocator* locator,
                      TrialTrace* trace) {
  auto view = ViewTable(o);
  if (!view.ok()) return view.status();
  if (view->tablet_ids.empty()) return absl::FailedPreconditionError("the table has no tablets");

  // The target.
  std::string target_uuid;
  if (o.fault == Fault::kKillTserver) {
    target_uuid = view->servers[trial % view->servers.size()];
  } else {
    auto it = view->leader_of.find(view->tablet_ids[0]);
    if (it == view->leader_of.end()) {
      return absl::UnavailableError(absl::StrCat("tablet ", view->tablet_ids[0], " has no leader"));
    }
    target_uuid = it->second;
  }
  FaultTarget target;
  target.uuid = target_uuid;
  target.address = view->address_of[target_uuid];
  auto status = ServerStatus(target.address, o.rpc_timeout);
  if (!status.ok()) return status.status();
  target.pid = status->server().pid();
  target.fs_root = status->server().fs_root();
  auto hp = net::ParseHostPort(target.address);
  if (hp.ok()) {
    target.host = hp->host();
    target.port = static_cast<int>(hp->port());
  }
  int bound_port = status->server().rpc_address().port();

  ProcessImage image;
  const bool local = o.fault_cmd.empty();
  if (local) {
    auto img = CaptureProcess(target.pid, target.fs_root);
    if (!img.ok()) return img.status();
    image = *img;
  }

  trace->trial = trial;
  trace->fault = FaultName(o.fault);
  trace->target_uuid = target.uuid;
  trace->target_address = target.address;

  // Which tablets lose their leader, and their terms now.
  std::vector<std::string> faulted;
  std::map<std::string, int64_t> term_at_fault;
  for (const auto& id : view->tablet_ids) {
    auto it = view->leader_of.find(id);
    if (it != view->leader_of.end() && it->second == target_uuid) {
      faulted.push_back(id);
      term_at_fault[id] = view->leader_term_of[id];
    }
  }
  std::set<std::string> survivors;
  for (const auto& id : faulted) {
    for (const auto& u : view->hosts_of[id]) {
      if (u != target_uuid) survivors.insert(u);
    }
  }

  const Clock::time_point zero = Clock::now();
  std::vector<std::unique_ptr<TabletLoad>> loads;
  for (int i = 0; i < locator->num_tablets(); ++i) {
    loads.push_back(std::make_unique<TabletLoad>(locator, i, o, zero,
                                                 (int64_t{1} << 40) + trial * 100000000LL));
    loads.back()->Start();
  }
  std::vector<std::unique_ptr<ElectionWatch>> watches;
  for (const auto& u : survivors) {
    watches.push_back(std::make_unique<ElectionWatch>(view->address_of[u], faulted,
                                                      term_at_fault, target_uuid, o, zero));
    watches.back()->Start();
  }
  auto stop_all = [&] {
    for (auto& l : loads) l->Stop();
    for (auto& w : watches) w->Stop();
  };

  std::this_thread::sleep_for(o.warmup);
  Progress(o, absl::StrCat("trial ", trial, ": ", FaultName(o.fault), " ", target.address,
                           " (pid ", target.pid, ", leads ", faulted.size(), " of ",
                           view->tablet_ids.size(), " tablets)"));
  trace->fault_ms = MsSince(zero);
  absl::Status fs;
  if (!local) {
    fs = RunShell("--fault_cmd", ExpandCommand(o.fault_cmd, target));
  } else if (o.fault == Fault::kStopTserver) {
    fs = SignalProcess(target.pid, SIGSTOP);
  } else {
    fs = SignalProcess(target.pid, SIGKILL);
  }
  if (!fs.ok()) {
    stop_all();
    return fs;
  }

  // Wait for every faulted tablet to be written again after its election.
  absl::Status recovery;
  auto give_up = Clock::now() + o.give_up;
  while (true) {
    bool all = true;
    std::map<std::string, double> seen;
    for (auto& w : watches) {
      for (const auto& [tablet, ms] : w->election_seen()) {
        auto it = seen.find(tablet);
        if (it == seen.end() || ms < it->second) seen[tablet] = ms;
      }
    }
    for (int i = 0; i < locator->num_tablets(); ++i) {
      const std::string id = locator->route(i).tablet_id;
      if (term_at_fault.count(id) == 0) continue;
      auto it = seen.find(id);
      all &= it != seen.end() && loads[i]->AckedAfter(it->second);
    }
    if (all) break;
    if (Clock::now() > give_up) {
      recovery = absl::DeadlineExceededError(absl::StrCat(
          "trial ", trial, ": a faulted tablet was not written again within ", o.give_up.count(),
          " ms of the fault"));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(o.hold);

  // Undo the fault while the load runs (a restarted or resumed server
  // rejoining is part of what the load sees).
  trace->restore_ms = MsSince(zero);
  absl::Status rs;
  if (!local) {
    if (!o.restore_cmd.empty()) rs = RunShell("--restore_cmd", ExpandCommand(o.restore_cmd, target));
  } else if (o.fault == Fault::kStopTserver) {
    rs = SignalProcess(target.pid, SIGCONT);
  } else {
    rs = WaitExited(target.pid, std::chrono::seconds(10));
    if (rs.ok()) {
      auto pid = Respawn(image, PinRpcBindPort(image.argv, bound_port));
      rs = pid.status();
      if (pid.ok()) {
        Progress(o, absl::StrCat("trial ", trial, ": restarted ", target.address, " as pid ",
                                 *pid));
      }
    }
  }
  std::this_thread::sleep_for(o.hold);
  trace->load_end_ms = MsSince(zero);
  stop_all();

  for (int i = 0; i < locator->num_tablets(); ++i) {
    TabletTrace t;
    t.tablet_id = locator->route(i).tablet_id;
    auto tf = term_at_fault.find(t.tablet_id);
    t.leader_faulted = tf != term_at_fault.end();
    if (t.leader_faulted) t.term_at_fault = tf->second;
    for (auto& w : watches) {
      auto e = w->election_seen();
      auto it = e.find(t.tablet_id);
      if (it != e.end() && (!t.election_seen_ms || it->second < *t.election_seen_ms)) {
        t.election_seen_ms = it->second;
      }
      auto l = w->leader_seen();
      auto jt = l.find(t.tablet_id);
      if (jt != l.end() && (!t.new_leader_seen_ms || jt->second < *t.new_leader_seen_ms)) {
        t.new_leader_seen_ms = jt->second;
      }
    }
    t.writes = loads[i]->Samples();
    trace->tablets.push_back(std::move(t));
  }
  if (!rs.ok()) return rs;

  Progress(o, absl::StrCat("trial ", trial, ": waiting for ksck HEALTHY"));
  absl::Status hs = WaitHealthy(o);
  trace->healthy_ms = MsSince(zero);
  if (!hs.ok()) return hs;
  return recovery;
}

}  // namespace

absl::StatusOr<DrillReport> RunDrill(const DrillOptions& o) {
  if (!o.confirmed_test_cluster) {
    return absl::FailedPreconditionError(
        "refusing to inject faults: this kills tablet servers; pass "
        "--yes-this-is-a-test-cluster if this cluster is a test cluster");
  }
  if (!o.fault_cmd.empty() && o.restore_cmd.empty()) {
    return absl::InvalidArgumentError(
        "--fault_cmd needs --restore_cmd (the drill undoes every fault before the next trial)");
  }
  std::string masters;
  for (const auto& m : o.masters) masters += (masters.empty() ? "" : ",") + m;
  // Each tablet RPC of the load gets at most a third of a write's deadline:
  // a stopped (SIGSTOP) leader still accepts connections and never answers
  // (measured before the client bounded its attempts: ~19 s to reach the
  // new leader). The client now bounds each attempt itself
  // (lib/client/table_locator.h, AttemptTimeout); the drill's short write
  // deadlines keep this tighter bound.
  auto load_rpc_timeout = std::max(std::chrono::milliseconds(50), o.write_timeout / 3);
  auto locator = client::TableLocator::Open(masters, o.table,
                                            std::min(o.rpc_timeout, load_rpc_timeout));
  if (!locator.ok()) return locator.status();
  auto view = ViewTable(o);
  if (!view.ok()) return view.status();

  DrillReport report;
  report.table = o.table;
  report.replication_factor = view->replication_factor;
  report.num_tablets = static_cast<int>(view->tablet_ids.size());
  report.fault = FaultName(o.fault);
  report.trials_requested = o.trials;
  report.rows_per_s = o.rows_per_s;
  report.unwritable_gap_ms = o.analyze.unwritable_gap_ms;

  auto healthy = ClusterHealthy(o);
  if (!healthy.ok()) return healthy.status();
  if (!*healthy) {
    return absl::FailedPreconditionError(
        "ksck does not report the cluster HEALTHY: the drill starts only from a healthy "
        "cluster (run kmend ksck)");
  }
  for (int trial = 0; trial < o.trials; ++trial) {
    TrialTrace trace;
    absl::Status s = RunTrial(o, trial, locator->get(), &trace);
    if (!trace.tablets.empty()) {
      report.traces.push_back(trace);
      report.figures.push_back(AnalyzeTrial(trace, o.analyze));
    }
    if (!s.ok()) {
      report.stopped_reason = std::string(s.message());
      break;
    }
  }
  report.summary = Summarize(report.figures);
  return report;
}

}  // namespace kmend::drill
