#include "bench/etcd/etcd_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "testing/cluster/server_process.h"

namespace kmend::bench {

absl::StatusOr<int> PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", std::strerror(e)));
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

EtcdCluster::EtcdCluster(int num_members) : members_(num_members) {
  const char* env = std::getenv("ETCD_BIN");
  binary_ = env != nullptr ? env : "/usr/bin/etcd";
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/kmend-etcd.XXXXXX");
  if (::mkdtemp(tmpl.data()) != nullptr) base_dir_ = tmpl;
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < num_members(); ++i) {
    if (members_[i].pid > 0) (void)KillNine(i);
  }
  if (!base_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(base_dir_, ec);
  }
}

std::string EtcdCluster::client_address(int i) const {
  return absl::StrCat("127.0.0.1:", members_.at(i).client_port);
}

absl::Status EtcdCluster::Start(std::chrono::milliseconds timeout) {
  if (base_dir_.empty()) return absl::InternalError("could not create a temporary directory");
  if (::access(binary_.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("etcd binary '", binary_,
                                            "' not found; apt-get install etcd-server or set "
                                            "ETCD_BIN"));
  }
  std::vector<std::string> peers;
  for (int i = 0; i < num_members(); ++i) {
    Member& m = members_[i];
    m.name = absl::StrCat("m", i);
    auto cp = PickFreePort();
    if (!cp.ok()) return cp.status();
    auto pp = PickFreePort();
    if (!pp.ok()) return pp.status();
    m.client_port = *cp;
    m.peer_port = *pp;
    m.data_dir = absl::StrCat(base_dir_, "/", m.name, ".etcd");
    m.log_path = absl::StrCat(base_dir_, "/", m.name, ".log");
    auto channel = grpc::CreateChannel(client_address(i), grpc::InsecureChannelCredentials());
    m.kv = etcdserverpb::KV::NewStub(channel);
    m.maintenance = etcdserverpb::Maintenance::NewStub(channel);
    peers.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
  }
  initial_cluster_ = absl::StrJoin(peers, ",");
  for (int i = 0; i < num_members(); ++i) {
    absl::Status s = Launch(i);
    if (!s.ok()) return s;
  }
  return WaitForLeader(timeout);
}

absl::Status EtcdCluster::Launch(int i) {
  Member& m = members_[i];
  std::string client_url = absl::StrCat("http://127.0.0.1:", m.client_port);
  std::string peer_url = absl::StrCat("http://127.0.0.1:", m.peer_port);
  // Only addresses, names and directories are set: timing, fsync and
  // snapshot settings stay etcd's defaults. On a restart etcd reads its
  // membership from the data directory and ignores the --initial-* flags.
  std::vector<std::string> argv = {
      binary_,
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--initial-cluster=" + initial_cluster_,
      "--initial-cluster-state=new",
      absl::StrCat("--initial-cluster-token=kmend-bench-", ::getpid()),
      "--logger=zap",
      "--log-outputs=stderr",
  };
  auto pid = testing::Spawn(argv, m.log_path);
  if (!pid.ok()) return pid.status();
  m.pid = *pid;
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::StatusResponse> EtcdCluster::Status(
    int i, std::chrono::milliseconds timeout) const {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  etcdserverpb::StatusResponse resp;
  grpc::Status s = maintenance(i)->Status(&ctx, etcdserverpb::StatusRequest(), &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("etcd member ", members_[i].name, " (", client_address(i),
                                     "): Status: ", s.error_message()));
  }
  return resp;
}

absl::StatusOr<int> EtcdCluster::LeaderIndex() const {
  uint64_t leader = 0;
  std::vector<uint64_t> ids(num_members(), 0);
  for (int i = 0; i < num_members(); ++i) {
    if (members_[i].pid <= 0) continue;
    auto st = Status(i);
    if (!st.ok()) return st.status();
    ids[i] = st->header().member_id();
    if (st->leader() == 0) return absl::UnavailableError("a member knows no leader");
    if (leader != 0 && st->leader() != leader) {
      return absl::UnavailableError("members disagree on the leader");
    }
    leader = st->leader();
  }
  for (int i = 0; i < num_members(); ++i) {
    if (ids[i] == leader) return i;
  }
  return absl::UnavailableError("the leader is not a running member");
}

absl::Status EtcdCluster::WaitForLeader(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < num_members(); ++i) {
      if (members_[i].pid <= 0) continue;
      int status = 0;
      if (::waitpid(members_[i].pid, &status, WNOHANG) == members_[i].pid) {
        members_[i].pid = -1;
        return absl::InternalError(absl::StrCat("etcd member ", members_[i].name,
                                                " exited; log tail:\n", LogTail(i)));
      }
    }
    auto l = LeaderIndex();
    if (l.ok()) return absl::OkStatus();
    last = l.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("etcd: no leader agreed on within ",
                                                  timeout.count(), " ms; last: ", last.message(),
                                                  "\nlog tail of m0:\n", LogTail(0)));
}

absl::Status EtcdCluster::KillNine(int i) {
  Member& m = members_.at(i);
  if (m.pid <= 0) return absl::FailedPreconditionError(m.name + " is not running");
  if (::kill(m.pid, SIGKILL) != 0 && errno != ESRCH) {
    return absl::InternalError(absl::StrCat("kill ", m.pid, ": ", std::strerror(errno)));
  }
  int status = 0;
  ::waitpid(m.pid, &status, 0);
  m.pid = -1;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(int i) {
  if (members_.at(i).pid > 0) {
    absl::Status s = KillNine(i);
    if (!s.ok()) return s;
  }
  absl::Status s = Launch(i);
  if (!s.ok()) return s;
  return WaitForLeader(std::chrono::seconds(30));
}

std::string EtcdCluster::LogTail(int i, int max_lines) const {
  std::ifstream in(members_.at(i).log_path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace kmend::bench
