#include "testing/cluster/external_cluster.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <utility>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/io/file.h"
#include "lib/rpc/tls.h"
#include "lib/tls/cert_dir.h"
#include "server/common/grpc_util.h"

namespace kmend::testing {
namespace {

std::string MakeBaseDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/kmend-cluster.XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// Binds 127.0.0.1:0 and returns the socket (still open, so the port stays
// taken) and the port the kernel picked. The caller closes the socket just
// before the server that will bind the port starts.
absl::StatusOr<std::pair<int, int>> ReservePort() {
  // CLOEXEC: the servers started meanwhile must not inherit (and so keep
  // holding) the ports reserved for the next ones.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed reserving a port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return absl::InternalError("bind/getsockname failed reserving a port");
  }
  return std::make_pair(fd, static_cast<int>(ntohs(addr.sin_port)));
}

// The cluster directories of this process go even when it never reaches
// their destructors (a benchmark killed by a timeout, a crashed test): a
// 2,000-tablet cluster leaves ~48 GB of preallocated WAL segments, and a
// leftover filled the disk for the next run twice (docs/benchmarks.md).
// One janitor per process: `sh` reads directory names from a socket whose
// other end only this process holds (CLOEXEC: servers and tools started
// later do not inherit it), and removes them all once it reads EOF, which
// is when this process ends, however it ends. A directory the destructor
// already removed is a no-op for it. A socket pair rather than a pipe:
// MSG_NOSIGNAL, so a janitor that died cannot SIGPIPE the test. setsid: a
// Ctrl-C to the terminal's process group must not kill the janitor too.
// Returns this process's end, or -1 when no janitor could be started
// (the directories are then only removed by the destructor, as before).
int JanitorFd() {
  static const int fd = [] {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return -1;
    }
    if (pid == 0) {
      // Async-signal-safe calls only until exec (the parent has threads).
      ::setsid();
      ::dup2(fds[0], 0);  // the copy on stdin is not CLOEXEC; both ends are
      const char* script =
          "while IFS= read -r d; do set -- \"$@\" \"$d\"; done; "
          "[ $# -gt 0 ] || exit 0; "
          "rm -rf -- \"$@\" 2>/dev/null || { sleep 1; rm -rf -- \"$@\"; }";
      ::execl("/bin/sh", "sh", "-c", script, "kmend-cluster-janitor", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    return fds[1];
  }();
  return fd;
}

// Hands `dir` to the janitor. A directory name with a newline would be
// split; mkdtemp's names have none.
void RemoveWhenThisProcessEnds(const std::string& dir) {
  const int fd = JanitorFd();
  if (fd < 0 || dir.empty()) return;
  const std::string line = dir + "\n";
  // A short line goes in one send; EINTR is retried.
  while (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// Whether the environment variable `name` is set to "1".
bool EnvIsOne(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// KMEND_TEST_KEEP_DIR=1 keeps the servers' directories and logs for a
// post-mortem (benchmarks run outside Bazel; the path is logged at start):
// neither the janitor nor the destructor removes them.
bool KeepDir() { return EnvIsOne("KMEND_TEST_KEEP_DIR"); }

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
  if (!KeepDir()) RemoveWhenThisProcessEnds(base_dir_);
  tls_ = options_.tls || EnvIsOne("KMEND_TEST_TLS");
}

std::string ExternalCluster::CertPath(const std::string& name) const {
  return io::JoinPath(io::JoinPath(base_dir_, "certs"), name);
}

absl::Status ExternalCluster::SetUpTls() {
  tls::CertDirOptions o;
  o.dir = io::JoinPath(base_dir_, "certs");
  o.hosts = {"127.0.0.1"};
  o.users = {"admin", "reader"};
  absl::StatusOr<std::vector<std::string>> written = tls::InitCertDir(o);
  if (!written.ok()) return written.status();
  if (!options_.tls_roles.empty()) {
    absl::Status s = io::WriteFileAtomically(CertPath("roles"), options_.tls_roles);
    if (!s.ok()) return s;
  }
  rpc::TlsOptions admin;
  admin.cert_file = CertPath("user-admin.crt");
  admin.key_file = CertPath("user-admin.key");
  admin.ca_file = CertPath("ca.crt");
  ::setenv("KMEND_TLS_CERT", admin.cert_file.c_str(), 1);
  ::setenv("KMEND_TLS_KEY", admin.key_file.c_str(), 1);
  ::setenv("KMEND_TLS_CA", admin.ca_file.c_str(), 1);
  return rpc::SetProcessTls(admin);
}

std::vector<std::string> ExternalCluster::TlsFlags() const {
  if (!tls_) return {};
  std::vector<std::string> flags = {"--tls_cert=" + CertPath("server-127.0.0.1.crt"),
                                    "--tls_key=" + CertPath("server-127.0.0.1.key"),
                                    "--tls_ca=" + CertPath("ca.crt")};
  if (!options_.tls_roles.empty()) flags.push_back("--roles_file=" + CertPath("roles"));
  return flags;
}

ExternalCluster::~ExternalCluster() {
  // Tablet servers first so that they do not log a vanished master.
  tservers_.clear();
  masters_.clear();
  // The certificates go with the base directory: later processes must not
  // be pointed at them.
  if (tls_) {
    ::unsetenv("KMEND_TLS_CERT");
    ::unsetenv("KMEND_TLS_KEY");
    ::unsetenv("KMEND_TLS_CA");
  }
  if (!base_dir_.empty() && !KeepDir()) {
    std::error_code ec;
    std::filesystem::remove_all(base_dir_, ec);
  }
}

std::unique_ptr<ServerProcess> ExternalCluster::NewTServer(int i) const {
  std::vector<std::string> args = {
      "tserver", "--master_addrs=" + master_addresses(),
      absl::StrCat("--heartbeat_interval_ms=", options_.heartbeat_interval_ms)};
  for (std::string& f : TlsFlags()) args.push_back(std::move(f));
  args.insert(args.end(), options_.extra_tserver_flags.begin(),
              options_.extra_tserver_flags.end());
  auto ts = std::make_unique<ServerProcess>(absl::StrCat("ts", i), binary_, std::move(args),
                                            io::JoinPath(base_dir_, absl::StrCat("ts", i)));
  if (static_cast<size_t>(i) < options_.tserver_exec_prefixes.size() &&
      !options_.tserver_exec_prefixes[i].empty()) {
    ts->set_exec_prefix(options_.tserver_exec_prefixes[i]);
  }
  return ts;
}

absl::Status ExternalCluster::Start() {
  if (base_dir_.empty()) return absl::InternalError("could not create a temporary directory");
  if (binary_.empty() || !io::FileExists(binary_)) {
    return absl::NotFoundError(absl::StrCat(
        "kmend-server binary not found (runfiles: '", RunfilePath("server/kmend-server"),
        "'); list //server:kmend-server in the test's data or set KMEND_SERVER_BIN"));
  }
  if (tls_) {
    if (absl::Status s = SetUpTls(); !s.ok()) return s;
    // Says in the test log that this run is a TLS one (KMEND_TEST_TLS=1).
    std::cerr << "ExternalCluster: TLS on (mutual TLS, certificates in " << CertPath("") << ")"
              << std::endl;
  }
  const int n = std::max(1, options_.num_masters);
  std::vector<std::pair<int, int>> reserved;  // (fd, port)
  auto release = [&reserved](size_t i) {
    if (i < reserved.size() && reserved[i].first >= 0) {
      ::close(reserved[i].first);
      reserved[i].first = -1;
    }
  };
  std::vector<std::string> addresses;
  if (n > 1) {
    for (int i = 0; i < n; ++i) {
      auto r = ReservePort();
      if (!r.ok()) {
        for (size_t j = 0; j < reserved.size(); ++j) release(j);
        return r.status();
      }
      reserved.push_back(*r);
      addresses.push_back(absl::StrCat("127.0.0.1:", r->second));
    }
  }
  absl::Status s;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> margs = {
        "master", absl::StrCat("--tserver_unresponsive_timeout_ms=",
                               options_.tserver_unresponsive_timeout_ms)};
    if (n > 1) margs.push_back("--master_addrs=" + absl::StrJoin(addresses, ","));
    for (std::string& f : TlsFlags()) margs.push_back(std::move(f));
    margs.insert(margs.end(), options_.extra_master_flags.begin(),
                 options_.extra_master_flags.end());
    // One master keeps the directory name it always had.
    std::string name = n > 1 ? absl::StrCat("master", i) : "master";
    masters_.push_back(std::make_unique<ServerProcess>(name, binary_, std::move(margs),
                                                       io::JoinPath(base_dir_, name)));
    if (n > 1) masters_.back()->set_port(reserved[i].second);
    release(i);
    s = masters_.back()->Start();
    if (!s.ok()) break;
  }
  for (size_t j = 0; j < reserved.size(); ++j) release(j);
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

std::string ExternalCluster::master_addresses() const {
  std::vector<std::string> out;
  for (const auto& m : masters_) out.push_back(m->address());
  return absl::StrJoin(out, ",");
}

std::unique_ptr<master::MasterService::Stub> ExternalCluster::MasterStub() const {
  return MasterStub(0);
}

std::unique_ptr<master::MasterService::Stub> ExternalCluster::MasterStub(int i) const {
  return master::MasterService::NewStub(server::NewChannel(masters_.at(i)->address()));
}

absl::StatusOr<int> ExternalCluster::LeaderMasterIndex(std::chrono::milliseconds timeout) const {
  for (int i = 0; i < num_masters(); ++i) {
    if (!masters_[i]->running()) continue;
    auto st = GetStatus(masters_[i].get(), timeout);
    if (st.ok() && st->master().is_catalog_leader_ready()) return i;
  }
  return absl::NotFoundError("no running master serves the catalog");
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
  absl::Status s = absl::UnavailableError("no master is running");
  for (int i = 0; i < num_masters(); ++i) {
    if (!masters_[i]->running()) continue;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, timeout);
    master::ListTabletServersResponsePB resp;
    s = server::FromGrpcStatus(
        MasterStub(i)->ListTabletServers(&ctx, master::ListTabletServersRequestPB(), &resp),
        absl::StrCat("ListTabletServers at ", masters_[i]->name()));
    if (s.ok()) return resp;
  }
  return s;
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
  for (const auto& m : masters_) out << m->LogTail();
  for (const auto& t : tservers_) out << t->LogTail();
}

}  // namespace kmend::testing
