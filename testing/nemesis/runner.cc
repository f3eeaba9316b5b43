#include "testing/nemesis/runner.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "proto/master.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/tool_runner.h"
#include "testing/nemesis/nemesis_cluster.h"
#include "testing/nemesis/schedule.h"

namespace kmend::nemesis {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kTable[] = "nemesis";

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

absl::StatusOr<std::vector<std::string>> CreateTable(const std::string& master, int tablets) {
  auto stub = master::MasterService::NewStub(server::NewChannel(master));
  master::CreateTableRequestPB req = testing::KeyValueTableRequest(kTable, "v", tablets, 3);
  master::CreateTableResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, std::chrono::seconds(30));
  RETURN_IF_ERROR(server::FromGrpcStatus(stub->CreateTable(&ctx, req, &resp), "CreateTable"));
  return std::vector<std::string>(resp.tablet_ids().begin(), resp.tablet_ids().end());
}

bool KsckHealthy(const NemesisCluster& c, std::string* out) {
  testing::ToolResult r =
      testing::RunKmend(absl::StrCat("ksck --masters ", c.master_address(), " --timeout 2s"),
                        c.dir());
  *out = r.out + r.err;
  return r.exit_code == 0;
}

}  // namespace

std::string RunReport::Summary() const {
  std::vector<int64_t> f = failover_ms;
  std::sort(f.begin(), f.end());
  return absl::StrCat(
      "seed=", seed, " steps=", steps.size(), " acked=", check.acked_writes,
      " unknown=", check.unknown_writes, " rejected=", check.rejected_writes,
      " reads=", check.reads, " ack_lines=", check.ack_lines,
      " anomalies=", check.anomalies.size(), " failover_ms=[", absl::StrJoin(f, ","),
      "] heal_to_healthy_ms=", heal_to_healthy_ms);
}

absl::StatusOr<RunReport> RunNemesis(const RunOptions& options, std::ostream& log) {
  RunReport report;
  report.seed = options.seed;
  std::vector<FaultStep> schedule = MakeSchedule(options.seed, options.steps, options.num_tservers);
  log << "nemesis: SEED=" << options.seed << " (replay: KMEND_NEMESIS_SEED=" << options.seed
      << "), " << schedule.size() << " steps:\n";
  for (const auto& s : schedule) log << "  " << s.ToString() << "\n";
  log.flush();

  NemesisClusterOptions copts;
  copts.num_tservers = options.num_tservers;
  // Faults last seconds: re-replication would only add churn that the
  // checker does not need (and a tablet moving mid-run is its own test).
  copts.extra_master_flags = {"--rereplication_delay_ms=600000"};
  ASSIGN_OR_RETURN(std::unique_ptr<NemesisCluster> cluster, NemesisCluster::Start(copts));
  struct DumpOnError {
    NemesisCluster* c;
    std::ostream* log;
    bool armed = true;
    ~DumpOnError() {
      if (armed) c->DumpLogs(*log);
    }
  } dump{cluster.get(), &log};
  ASSIGN_OR_RETURN(std::vector<std::string> tablets,
                   CreateTable(cluster->master_address(), options.num_tablets));
  std::string ksck;
  RETURN_IF_ERROR(testing::ExternalCluster::WaitFor([&] { return KsckHealthy(*cluster, &ksck); },
                                                    std::chrono::seconds(60),
                                                    "ksck HEALTHY after creating the table"));
  WorkloadOptions wopts = options.workload;
  wopts.seed = options.seed;
  Workload workload(cluster->master_address(), kTable, wopts);
  workload.Start();
  std::this_thread::sleep_for(milliseconds(1000));

  NetLab* lab = cluster->lab();
  for (const FaultStep& step : schedule) {
    LeaderInfo leader = cluster->Leader(tablets[0]);
    std::string line = absl::StrCat("at ", NowMicros(), "us ", step.ToString());
    std::vector<int> killed, stopped;
    bool leader_cut = false;
    std::set<int> all;
    for (int i = 0; i < cluster->num_nodes(); ++i) all.insert(i);
    auto others = [&](const std::set<int>& a) {
      std::set<int> b;
      for (int i : all) {
        if (!a.count(i)) b.insert(i);
      }
      return b;
    };
    absl::Status s;
    switch (step.kind) {
      case FaultKind::kIsolateLeader:
      case FaultKind::kSplitLeader:
        if (leader.node < 0) {
          absl::StrAppend(&line, " (no leader: skipped)");
          break;
        }
        absl::StrAppend(&line, " leader=node", leader.node, " term=", leader.term);
        leader_cut = true;
        if (step.kind == FaultKind::kIsolateLeader) {
          s = lab->Isolate(leader.node);
        } else {
          // The leader keeps the master; its followers are alone.
          std::set<int> a = {leader.node};
          std::set<int> b = others(a);
          b.erase(0);
          s = lab->Partition(a, b);
        }
        break;
      case FaultKind::kIsolateNode:
        s = lab->Isolate(step.node);
        break;
      case FaultKind::kSplitMasterMinority: {
        std::set<int> a = {0, step.node};
        s = lab->Partition(a, others(a));
        break;
      }
      case FaultKind::kSplitMasterMajority: {
        std::set<int> a = {step.node, step.node2};
        s = lab->Partition(a, others(a));
        break;
      }
      case FaultKind::kOneWay:
        s = lab->Block(step.node, step.node2);
        break;
      case FaultKind::kLoss:
        s = lab->Loss(step.node, step.percent);
        break;
      case FaultKind::kSlow:
        s = lab->Slow(step.node);
        break;
      case FaultKind::kKill9:
        s = cluster->server(step.node)->KillNine();
        killed.push_back(step.node);
        break;
      case FaultKind::kStopCont:
        s = cluster->server(step.node)->Stop();
        stopped.push_back(step.node);
        break;
      case FaultKind::kRestart:
        s = cluster->server(step.node)->Restart();
        break;
    }
    if (!s.ok()) return s;
    auto start = Clock::now();
    if (leader_cut) {
      int64_t ms = -1;
      while (MsSince(start) < 20000) {
        LeaderInfo now = cluster->Leader(tablets[0], {leader.node});
        if (now.node >= 0 && now.term > leader.term) {
          ms = MsSince(start);
          absl::StrAppend(&line, " -> new leader node", now.node, " term=", now.term, " after ",
                          ms, "ms");
          break;
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
      if (ms < 0) absl::StrAppend(&line, " -> no new leader within 20 s");
      report.failover_ms.push_back(ms);
    }
    int64_t left = step.hold_ms - MsSince(start);
    if (left > 0) std::this_thread::sleep_for(milliseconds(left));
    RETURN_IF_ERROR(lab->HealAll());
    for (int n : stopped) RETURN_IF_ERROR(cluster->server(n)->Continue());
    for (int n : killed) RETURN_IF_ERROR(cluster->server(n)->Start());
    absl::StrAppend(&line, " acked so far ", workload.acked_so_far());
    log << "nemesis: " << line << "\n";
    log.flush();
    report.steps.push_back(line);
    std::this_thread::sleep_for(milliseconds(step.rest_ms));
  }

  // Healed: the cluster must become healthy with the writers still running.
  auto heal = Clock::now();
  if (testing::ExternalCluster::WaitFor([&] { return KsckHealthy(*cluster, &ksck); },
                                        std::chrono::seconds(60), "HEALTHY")
          .ok()) {
    report.heal_to_healthy_ms = MsSince(heal);
  } else {
    report.last_ksck = ksck;
  }
  workload.Stop();
  ASSIGN_OR_RETURN(auto rows, Workload::ReadAll(cluster->master_address(), kTable,
                                                std::chrono::seconds(60)));
  std::vector<AckLine> acks;
  for (int n = 1; n < cluster->num_nodes(); ++n) {
    auto text = io::ReadFileToString(cluster->ack_log_path(n));
    if (!text.ok()) continue;  // a server that never acknowledged a write
    auto lines = ParseAckLog(*text, &report.bad_ack_lines);
    acks.insert(acks.end(), lines.begin(), lines.end());
  }
  report.check = Check(workload.writes(), workload.reads(), rows, acks);
  log << "nemesis: " << report.Summary() << "\n";
  for (const auto& a : report.check.anomalies) log << "nemesis: ANOMALY (seed " << options.seed
                                                   << "): " << a << "\n";
  dump.armed = !report.check.ok() || report.heal_to_healthy_ms < 0;
  return report;
}

}  // namespace kmend::nemesis
