// Commits per second of a 3-replica Raft group in one process over the
// in-memory network: (a) in-memory logs, (b) real WALs with fdatasync.
// "outstanding" is how many proposals are in flight before waiting for the
// last one to be applied on the leader (1: one commit round trip at a time;
// 64/512: pipelined, batched into shared fsyncs).
//   bazel test //bench/raft:raft_bench --test_tag_filters=benchmark --test_output=all
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/consensus/raft_driver.h"
#include "lib/io/file.h"

namespace kmend::consensus_driver {
namespace {

class BenchGroup {
 public:
  BenchGroup(bool wal, const std::string& root) {
    consensus::RaftConfigPB config;
    config.set_opid_index(-1);
    for (const char* u : {"A", "B", "C"}) {
      auto* p = config.add_peers();
      p->set_permanent_uuid(u);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
    }
    for (const char* u : {"A", "B", "C"}) {
      DriverOptions o;
      o.core.tablet_id = "bench";
      o.core.self_uuid = u;
      o.core.election_ticks = 20;
      o.core.heartbeat_ticks = 2;
      o.core.max_entries_per_message = 1024;
      o.core.random_seed = u[0];
      o.tick_interval = absl::Milliseconds(50);
      o.bootstrap_config = config;
      if (wal) {
        o.wal_dir = io::JoinPath(root, absl::StrCat("wal-", u));
        o.cmeta_path = io::JoinPath(root, absl::StrCat("cmeta-", u));
        o.wal_options.sync = true;
        o.wal_options.compression = kmend::NO_COMPRESSION;
      }
      transports_[u] = net_.TransportFor(u);
      auto d = RaftDriver::Open(o, transports_[u].get());
      if (!d.ok()) {
        std::fprintf(stderr, "open %s: %s\n", u, d.status().ToString().c_str());
        std::abort();
      }
      drivers_[u] = std::move(*d);
      RaftDriver* p = drivers_[u].get();
      net_.Register(u, [p](const consensus::RaftMessagePB& m) { (void)p->Receive(m); });
    }
    (void)drivers_["A"]->Campaign();
    while (drivers_["A"]->GetStatus().role != raft::Role::kLeader) {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  ~BenchGroup() {
    for (auto& [u, d] : drivers_) net_.Unregister(u);
    drivers_.clear();
  }
  RaftDriver* leader() { return drivers_["A"].get(); }

 private:
  InMemoryNetwork net_;
  std::map<std::string, std::unique_ptr<Transport>> transports_;
  std::map<std::string, std::unique_ptr<RaftDriver>> drivers_;
};

void BM_Commits(benchmark::State& state) {
  const bool wal = state.range(0) != 0;
  const int outstanding = static_cast<int>(state.range(1));
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string root = io::JoinPath(tmp ? tmp : "/tmp",
                                  absl::StrCat("raft_bench_", wal, "_", outstanding));
  (void)io::CreateDirs(root);
  auto group = std::make_unique<BenchGroup>(wal, root);
  consensus::ReplicateMsg msg;
  msg.set_op_type(consensus::NO_OP);
  msg.mutable_noop_request()->set_payload_for_tests(std::string(100, 'x'));
  for (auto _ : state) {
    consensus::OpId last;
    for (int i = 0; i < outstanding; ++i) {
      absl::StatusOr<consensus::OpId> id = group->leader()->Propose(msg);
      if (!id.ok()) {
        state.SkipWithError(std::string(id.status().message()).c_str());
        return;
      }
      last = *id;
    }
    absl::Status s = group->leader()->WaitForApplied(last, absl::Seconds(60));
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * outstanding);
  state.counters["commits_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * outstanding), benchmark::Counter::kIsRate);
  group.reset();
}

BENCHMARK(BM_Commits)
    ->ArgNames({"wal", "outstanding"})
    ->Args({0, 1})
    ->Args({0, 64})
    ->Args({0, 512})
    ->Args({1, 1})
    ->Args({1, 64})
    ->Args({1, 512})
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kmend::consensus_driver

BENCHMARK_MAIN();
