#include "lib/check/fake_cluster.h"

#include <condition_variable>
#include <map>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/rpc/grpc_util.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::check {

struct FakeCluster::Impl {
  int num_tablets = 0;
  int rf = 0;
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::map<std::pair<int, int>, uint64_t> digests;  // (ts, tablet) -> digest
  std::mutex mu;
  std::condition_variable stopping_cv;
  bool stopping = false;

  static std::string TabletId(int k) { return absl::StrFormat("%032x", k + 1); }

  std::vector<int> Placement(int tablet, int servers) const {
    std::vector<int> ts;
    for (int r = 0; r < rf; ++r) ts.push_back((tablet + r) % servers);
    return ts;
  }

  consensus::RaftConfigPB Config(int tablet, const FakeCluster& c) const {
    consensus::RaftConfigPB config;
    config.set_opid_index(1);
    for (int ts : Placement(tablet, c.num_tservers())) {
      auto* p = config.add_peers();
      p->set_permanent_uuid(c.tservers_[ts]->uuid);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
    }
    return config;
  }
};

namespace {

class MasterStatus final : public server::StatusService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext*, const server::GetStatusRequestPB*,
                         server::GetStatusResponsePB* resp) override {
    resp->mutable_server()->set_uuid("fakemaster");
    resp->mutable_server()->set_role(server::MASTER);
    resp->mutable_server()->set_version("fake");
    resp->mutable_master()->set_is_leader(true);
    return grpc::Status::OK;
  }
};

class FakeMaster final : public master::MasterService::Service {
 public:
  FakeMaster(FakeCluster* c, FakeCluster::Impl* impl, std::vector<FakeTabletServer*> ts)
      : c_(c), impl_(impl), ts_(std::move(ts)) {}

  grpc::Status ListTabletServers(grpc::ServerContext*, const master::ListTabletServersRequestPB*,
                                 master::ListTabletServersResponsePB* resp) override {
    for (FakeTabletServer* ts : ts_) {
      auto* e = resp->add_servers();
      e->mutable_registration()->set_permanent_uuid(ts->uuid);
      auto* addr = e->mutable_registration()->mutable_rpc_address();
      addr->set_host("127.0.0.1");
      addr->set_port(std::stoi(ts->address.substr(ts->address.rfind(':') + 1)));
      e->set_live(ts->live_per_master);
    }
    return grpc::Status::OK;
  }

  grpc::Status ListTables(grpc::ServerContext*, const master::ListTablesRequestPB*,
                          master::ListTablesResponsePB* resp) override {
    auto* t = resp->add_tables();
    t->set_table_id("table0");
    t->set_name("t");
    t->set_num_tablets(impl_->num_tablets);
    t->set_num_replicas(impl_->rf);
    t->set_state(master::RUNNING);
    return grpc::Status::OK;
  }

  grpc::Status DescribeTable(grpc::ServerContext*, const master::DescribeTableRequestPB*,
                             master::DescribeTableResponsePB* resp) override {
    for (int k = 0; k < impl_->num_tablets; ++k) {
      auto* loc = resp->add_tablets();
      loc->set_tablet_id(FakeCluster::Impl::TabletId(k));
      loc->set_table_name("t");
      *loc->mutable_config() = impl_->Config(k, *c_);
    }
    return grpc::Status::OK;
  }

 private:
  FakeCluster* c_;
  FakeCluster::Impl* impl_;
  std::vector<FakeTabletServer*> ts_;
};

class TServerStatus final : public server::StatusService::Service {
 public:
  TServerStatus(FakeCluster* c, FakeCluster::Impl* impl, int index, FakeTabletServer* ts)
      : c_(c), impl_(impl), index_(index), ts_(ts) {}

  grpc::Status GetStatus(grpc::ServerContext*, const server::GetStatusRequestPB*,
                         server::GetStatusResponsePB* resp) override {
    ts_->status_calls++;
    if (ts_->hang) {
      std::unique_lock<std::mutex> lock(impl_->mu);
      impl_->stopping_cv.wait(lock, [&] { return impl_->stopping; });
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "stopping");
    }
    resp->mutable_server()->set_uuid(ts_->uuid);
    resp->mutable_server()->set_role(server::TABLET_SERVER);
    resp->mutable_server()->set_version("fake");
    for (int k = 0; k < impl_->num_tablets; ++k) {
      std::vector<int> placement = impl_->Placement(k, c_->num_tservers());
      for (size_t r = 0; r < placement.size(); ++r) {
        if (placement[r] != index_) continue;
        auto* rep = resp->add_replicas();
        rep->set_tablet_id(FakeCluster::Impl::TabletId(k));
        rep->set_table_name("t");
        rep->set_data_state(server::TABLET_DATA_READY);
        rep->set_role(r == 0 ? consensus::RaftPeerPB::LEADER : consensus::RaftPeerPB::FOLLOWER);
        auto* cs = rep->mutable_consensus_state();
        cs->set_current_term(1);
        cs->set_leader_uuid(c_->tserver(placement[0]).uuid);
        *cs->mutable_committed_config() = impl_->Config(k, *c_);
        for (auto* id : {rep->mutable_last_logged_opid(), rep->mutable_last_committed_opid(),
                         rep->mutable_last_applied_opid()}) {
          id->set_term(1);
          id->set_index(5);
        }
      }
    }
    return grpc::Status::OK;
  }

 private:
  FakeCluster* c_;
  FakeCluster::Impl* impl_;
  int index_;
  FakeTabletServer* ts_;
};

class TServerData final : public tserver::TabletServerService::Service {
 public:
  TServerData(FakeCluster::Impl* impl, int index) : impl_(impl), index_(index) {}
  grpc::Status Checksum(grpc::ServerContext*, const tserver::ChecksumRequestPB* req,
                        tserver::ChecksumResponsePB* resp) override {
    int tablet = std::stoi(req->tablet_id(), nullptr, 16) - 1;
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->digests.find({index_, tablet});
    resp->set_digest(it == impl_->digests.end() ? 0x1234 : it->second);
    resp->set_op_index(req->has_op_index() ? req->op_index() : 5);
    resp->set_row_count(10);
    return grpc::Status::OK;
  }

 private:
  FakeCluster::Impl* impl_;
  int index_;
};

// Starts a server with `services` on 127.0.0.1:0; returns its address.
absl::StatusOr<std::string> Serve(const std::vector<grpc::Service*>& services,
                                  std::vector<std::unique_ptr<grpc::Server>>* servers) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  rpc::AddServerKeepaliveArgs(&builder);  // as the real servers
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::UnavailableError("fake server failed to start");
  servers->push_back(std::move(server));
  return absl::StrCat("127.0.0.1:", port);
}

}  // namespace

FakeCluster::FakeCluster(int servers, int tablets, int rf) : impl_(std::make_unique<Impl>()) {
  impl_->num_tablets = tablets;
  impl_->rf = rf;
  for (int i = 0; i < servers; ++i) {
    auto ts = std::make_unique<FakeTabletServer>();
    ts->uuid = absl::StrFormat("%08d%024d", i, 0);
    tservers_.push_back(std::move(ts));
  }
}

FakeCluster::~FakeCluster() { Stop(); }

void FakeCluster::SetDigest(int ts, int tablet, uint64_t digest) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->digests[{ts, tablet}] = digest;
}

absl::Status FakeCluster::Start() {
  for (size_t i = 0; i < tservers_.size(); ++i) {
    FakeTabletServer* ts = tservers_[i].get();
    auto status = std::make_unique<TServerStatus>(this, impl_.get(), static_cast<int>(i), ts);
    auto data = std::make_unique<TServerData>(impl_.get(), static_cast<int>(i));
    absl::StatusOr<std::string> addr = Serve({status.get(), data.get()}, &impl_->servers);
    if (!addr.ok()) return addr.status();
    ts->address = *addr;
    if (!ts->running) impl_->servers.back()->Shutdown();  // the port now refuses
    impl_->services.push_back(std::move(status));
    impl_->services.push_back(std::move(data));
  }
  std::vector<FakeTabletServer*> ts;
  for (auto& t : tservers_) ts.push_back(t.get());
  auto status = std::make_unique<MasterStatus>();
  auto master = std::make_unique<FakeMaster>(this, impl_.get(), ts);
  absl::StatusOr<std::string> addr = Serve({status.get(), master.get()}, &impl_->servers);
  if (!addr.ok()) return addr.status();
  master_address_ = *addr;
  impl_->services.push_back(std::move(status));
  impl_->services.push_back(std::move(master));
  return absl::OkStatus();
}

void FakeCluster::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stopping_cv.notify_all();
  for (auto& s : impl_->servers) s->Shutdown(std::chrono::system_clock::now());
  impl_->servers.clear();
}

}  // namespace kmend::check
