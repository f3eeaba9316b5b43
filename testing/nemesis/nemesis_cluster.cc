#include "testing/nemesis/nemesis_cluster.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "proto/master.grpc.pb.h"
#include "lib/util/status_macros.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::nemesis {
namespace {
constexpr int kPort = 7051;
}  // namespace

absl::StatusOr<std::unique_ptr<NemesisCluster>> NemesisCluster::Start(
    NemesisClusterOptions options) {
  std::unique_ptr<NemesisCluster> c(new NemesisCluster());
  std::string binary = testing::RunfilePath("server/kmend-server");
  if (binary.empty() || !io::FileExists(binary)) {
    const char* env = getenv("KMEND_SERVER_BIN");
    if (env != nullptr) binary = env;
  }
  if (!io::FileExists(binary)) return absl::NotFoundError("kmend-server binary not found");
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/kmend-nemesis.XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  c->dir_ = tmpl;
  ASSIGN_OR_RETURN(c->lab_, NetLab::Create(1 + options.num_tservers));
  const std::string master = absl::StrCat(c->lab_->ip(0), ":", kPort);
  for (int node = 0; node <= options.num_tservers; ++node) {
    std::vector<std::string> args;
    std::string name;
    if (node == 0) {
      name = "master";
      args = {"master", "--tserver_unresponsive_timeout_ms=1500"};
      args.insert(args.end(), options.extra_master_flags.begin(),
                  options.extra_master_flags.end());
    } else {
      name = absl::StrCat("ts", node);
      args = {"tserver", "--master_addrs=" + master, "--heartbeat_interval_ms=100",
              "--ack_log_file=" + c->ack_log_path(node)};
      args.insert(args.end(), options.extra_tserver_flags.begin(),
                  options.extra_tserver_flags.end());
    }
    // Addresses inside the test's own namespaces (10.x), not loopback: the
    // servers refuse plaintext there unless told (issue 18's bind check).
    args.push_back("--insecure_allow_plaintext");
    auto p = std::make_unique<testing::ServerProcess>(name, binary, std::move(args),
                                                      io::JoinPath(c->dir_, name));
    p->set_host(c->lab_->ip(node));
    p->set_port(kPort);
    p->set_exec_prefix(c->lab_->ExecPrefix(node));
    c->servers_.push_back(std::move(p));
    RETURN_IF_ERROR(c->servers_.back()->Start());
  }
  // Every tablet server live at the master.
  auto stub = master::MasterService::NewStub(server::NewChannel(master));
  RETURN_IF_ERROR(testing::ExternalCluster::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        server::SetDeadline(&ctx, std::chrono::seconds(2));
        master::ListTabletServersResponsePB resp;
        if (!stub->ListTabletServers(&ctx, {}, &resp).ok()) return false;
        int live = 0;
        for (const auto& s : resp.servers()) live += s.live();
        return live == options.num_tservers;
      },
      std::chrono::seconds(30), "every tablet server live at the master"));
  return c;
}

NemesisCluster::~NemesisCluster() {
  for (auto& s : servers_) {
    if (s->running()) (void)s->Continue();
  }
  servers_.clear();
  lab_.reset();
  if (!dir_.empty() && getenv("KMEND_NEMESIS_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string NemesisCluster::ack_log_path(int node) const {
  return io::JoinPath(dir_, absl::StrCat("ts", node, ".ack.log"));
}

absl::StatusOr<server::GetStatusResponsePB> NemesisCluster::GetStatus(
    int node, std::chrono::milliseconds timeout) const {
  auto stub = server::StatusService::NewStub(server::NewChannel(servers_.at(node)->address()));
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout);
  server::GetStatusResponsePB resp;
  RETURN_IF_ERROR(server::FromGrpcStatus(stub->GetStatus(&ctx, {}, &resp),
                                         absl::StrCat("GetStatus of node ", node)));
  return resp;
}

LeaderInfo NemesisCluster::Leader(const std::string& tablet_id,
                                  const std::vector<int>& skip) const {
  LeaderInfo best;
  for (int node = 1; node < num_nodes(); ++node) {
    if (std::find(skip.begin(), skip.end(), node) != skip.end()) continue;
    if (!servers_[node]->running()) continue;
    auto st = GetStatus(node, std::chrono::milliseconds(500));
    if (!st.ok()) continue;
    for (const auto& r : st->replicas()) {
      if (r.tablet_id() != tablet_id || r.role() != consensus::RaftPeerPB::LEADER) continue;
      int64_t term = r.consensus_state().current_term();
      if (term > best.term) best = {node, term, st->server().uuid()};
    }
  }
  return best;
}

void NemesisCluster::DumpLogs(std::ostream& out) const {
  for (const auto& s : servers_) out << s->LogTail(30);
}

}  // namespace kmend::nemesis
