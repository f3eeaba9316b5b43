#include "testing/cluster/external_cluster.h"

#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "server/common/grpc_util.h"

namespace kmend::testing {
namespace {

std::string MakeBaseDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/kmend-cluster.XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

}  // namespace

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return "";
  return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "kmend", "/",
                      workspace_relative);
}

ExternalCluster::ExternalCluster(ClusterOptions options) : options_(std::move(options)) {
  binary_ = options_.server_binary;
  if (binary_.empty()) binary_ = RunfilePath("server/kmend-server");
  if (binary_.empty() || !io::FileExists(binary_)) {
    const char* env = getenv("KMEND_SERVER_BIN");
    if (env != nullptr) binary_ = env;
  }
  base_dir_ = MakeBaseDir();
}

ExternalCluster::~ExternalCluster() {
  // Tablet servers first so that they do not log a vanished master.
  tservers_.clear();
  master_.reset();
  if (!base_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(base_dir_, ec);
  }
}

std::unique_ptr<ServerProcess> ExternalCluster::NewTServer(int i) const {
  std::vector<std::string> args = {
      "tserver", "--master_addrs=" + master_->address(),
      absl::StrCat("--heartbeat_interval_ms=", options_.heartbeat_interval_ms)};
  args.insert(args.end(), options_.extra_tserver_flags.begin(),
              options_.extra_tserver_flags.end());
  return std::make_unique<ServerProcess>(absl::StrCat("ts", i), binary_, std::move(args),
                                         io::JoinPath(base_dir_, absl::StrCat("ts", i)));
}

absl::Status ExternalCluster::Start() {
  if (base_dir_.empty()) return absl::InternalError("could not create a temporary directory");
  if (binary_.empty() || !io::FileExists(binary_)) {
    return absl::NotFoundError(absl::StrCat(
        "kmend-server binary not found (runfiles: '", RunfilePath("server/kmend-server"),
        "'); list //server:kmend-server in the test's data or set KMEND_SERVER_BIN"));
  }
  std::vector<std::string> margs = {
      "master", absl::StrCat("--tserver_unresponsive_timeout_ms=",
                             options_.tserver_unresponsive_timeout_ms)};
  margs.insert(margs.end(), options_.extra_master_flags.begin(),
               options_.extra_master_flags.end());
  master_ = std::make_unique<ServerProcess>("master", binary_, std::move(margs),
                                            io::JoinPath(base_dir_, "master"));
  absl::Status s = master_->Start();
  if (!s.ok()) return s;
  for (int i = 0; i < options_.num_tservers; ++i) {
    tservers_.push_back(NewTServer(i));
    s = tservers_.back()->Start();
    if (!s.ok()) return s;
  }
  return WaitForLiveTServers(options_.num_tservers, std::chrono::seconds(30));
}

absl::StatusOr<int> ExternalCluster::AddTabletServer() {
  int i = num_tservers();
  tservers_.push_back(NewTServer(i));
  absl::Status s = tservers_.back()->Start();
  if (!s.ok()) return s;
  return i;
}

std::unique_ptr<master::MasterService::Stub> ExternalCluster::MasterStub() const {
  return master::MasterService::NewStub(server::NewChannel(master_->address()));
}

std::unique_ptr<server::StatusService::Stub> ExternalCluster::StatusStub(
    const ServerProcess* p) const {
  return server::StatusService::NewStub(server::NewChannel(p->address()));
}

std::unique_ptr<tserver::TabletServerService::Stub> ExternalCluster::TServerStub(int i) const {
  return tserver::TabletServerService::NewStub(server::NewChannel(tservers_.at(i)->address()));
}

absl::StatusOr<master::ListTabletServersResponsePB> ExternalCluster::ListTabletServers(
    std::chrono::milliseconds timeout) const {
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout);
  master::ListTabletServersResponsePB resp;
  absl::Status s = server::FromGrpcStatus(
      MasterStub()->ListTabletServers(&ctx, master::ListTabletServersRequestPB(), &resp),
      "ListTabletServers");
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<server::GetStatusResponsePB> ExternalCluster::GetStatus(
    const ServerProcess* p, std::chrono::milliseconds timeout) const {
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout);
  server::GetStatusResponsePB resp;
  absl::Status s = server::FromGrpcStatus(
      StatusStub(p)->GetStatus(&ctx, server::GetStatusRequestPB(), &resp),
      absl::StrCat("GetStatus of ", p->name()));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<std::string> ExternalCluster::TServerUuid(int i) const {
  auto st = GetStatus(tservers_.at(i).get());
  if (!st.ok()) return st.status();
  return st->server().uuid();
}

absl::Status ExternalCluster::WaitFor(const std::function<bool()>& done,
                                      std::chrono::milliseconds timeout,
                                      const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", timeout.count(), " ms waiting for: ", what));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

absl::Status ExternalCluster::WaitForLiveTServers(int n, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        auto list = ListTabletServers(std::chrono::seconds(2));
        if (!list.ok()) return false;
        int live = 0;
        for (const auto& s : list->servers()) live += s.live();
        return live == n;
      },
      timeout, absl::StrCat(n, " live tablet servers"));
}

void ExternalCluster::DumpLogs(std::ostream& out) const {
  if (master_ != nullptr) out << master_->LogTail();
  for (const auto& t : tservers_) out << t->LogTail();
}

}  // namespace kmend::testing
