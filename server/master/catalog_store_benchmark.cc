// Latency of one catalog change through RaftCatalogStore::Save: one master
// (one-voter config) vs three (in-process drivers over InMemoryNetwork),
// each with a real WAL (fdatasync) and the snapshot file in a temp dir, for a
// small and a large catalog (whole catalog per entry).
//
//   bazel run -c opt //server/master:catalog_store_benchmark
//
// Args: {masters, tablets in the catalog}.
#include <stdlib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/io/file.h"
#include "server/master/raft_catalog_store.h"

namespace kmend::master {
namespace {

struct Replica {
  std::unique_ptr<RaftCatalogStore> store;
  std::unique_ptr<consensus_driver::Transport> transport;
  std::unique_ptr<consensus_driver::RaftDriver> driver;
};

SysCatalogPB CatalogWithTablets(int tablets) {
  SysCatalogPB c;
  auto* t = c.add_tables();
  t->mutable_info()->set_name("bench");
  t->mutable_info()->set_table_id(std::string(32, 'a'));
  for (int i = 0; i < tablets; ++i) {
    SysTabletPB* tab = c.add_tablets();
    tab->set_tablet_id(absl::StrCat(std::string(24, 'b'), 10000000 + i));
    tab->set_table_id(std::string(32, 'a'));
    for (int p = 0; p < 3; ++p) {
      auto* peer = tab->mutable_config()->add_peers();
      peer->set_permanent_uuid(absl::StrCat(std::string(31, 'c'), p));
      peer->mutable_last_known_addr()->set_host("127.0.0.1");
      peer->mutable_last_known_addr()->set_port(7050 + p);
    }
    t->add_tablet_ids(tab->tablet_id());
  }
  return c;
}

void BM_CatalogSave(benchmark::State& state) {
  const int masters = static_cast<int>(state.range(0));
  const int tablets = static_cast<int>(state.range(1));
  const char* tmp = getenv("TEST_TMPDIR");
  std::string root = std::string(tmp != nullptr ? tmp : "/tmp") + "/catalog-bench.XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  consensus::RaftConfigPB config;
  config.set_opid_index(-1);
  std::vector<std::string> uuids;
  for (int i = 0; i < masters; ++i) {
    uuids.push_back(absl::StrCat("m", i));
    auto* p = config.add_peers();
    p->set_permanent_uuid(uuids.back());
    p->set_member_type(consensus::RaftPeerPB::VOTER);
  }
  consensus_driver::InMemoryNetwork net;
  std::map<std::string, Replica> replicas;
  for (const std::string& u : uuids) {
    Replica& r = replicas[u];
    r.store = *RaftCatalogStore::Open(io::JoinPath(root, u + "-master-catalog"));
    consensus_driver::DriverOptions o;
    o.core.tablet_id = kSysCatalogTabletId;
    o.core.self_uuid = u;
    o.core.random_seed = std::hash<std::string>()(u);
    o.tick_interval = absl::Milliseconds(20);
    o.wal_dir = io::JoinPath(root, "wal-" + u);
    o.cmeta_path = io::JoinPath(root, "cmeta-" + u);
    o.bootstrap_config = config;
    RaftCatalogStore* s = r.store.get();
    o.apply = [s](const consensus::ReplicateMsg& m) { s->Apply(m); };
    r.transport = net.TransportFor(u);
    r.driver = *consensus_driver::RaftDriver::Open(std::move(o), r.transport.get());
    r.store->SetDriver(r.driver.get());
    consensus_driver::RaftDriver* d = r.driver.get();
    net.Register(u, [d](const consensus::RaftMessagePB& m) { (void)d->Receive(m); });
  }
  (void)replicas["m0"].driver->Campaign();
  RaftCatalogStore* leader = nullptr;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (leader == nullptr && absl::Now() < deadline) {
    raft::RaftStatus st = replicas["m0"].driver->GetStatus();
    if (st.role == raft::Role::kLeader && st.committed.term() == st.term) {
      leader = replicas["m0"].store.get();
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (leader == nullptr) {
    state.SkipWithError("no leader");
  } else {
    SysCatalogPB catalog = CatalogWithTablets(tablets);
    int64_t version = 0;
    for (auto _ : state) {
      catalog.set_version(++version);
      absl::Status s = leader->Save(catalog);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        break;
      }
    }
    state.counters["entry_bytes"] = static_cast<double>(catalog.ByteSizeLong());
  }
  for (auto& [u, r] : replicas) {
    net.Unregister(u);
    r.driver.reset();
  }
}
BENCHMARK(BM_CatalogSave)
    ->ArgNames({"masters", "tablets"})
    ->Args({1, 10})
    ->Args({3, 10})
    ->Args({1, 1000})
    ->Args({3, 1000})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kmend::master
