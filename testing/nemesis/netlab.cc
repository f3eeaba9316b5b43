#include "testing/nemesis/netlab.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "lib/io/file.h"
#include "testing/cluster/server_process.h"

namespace kmend::nemesis {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kTc[] = "/usr/sbin/tc";
constexpr char kNft[] = "/usr/sbin/nft";
constexpr char kNetnsDir[] = "/run/netns";
constexpr char kPrefix[] = "kmn";

// Node namespaces alive in this process, deleted at exit if a destructor
// did not run (a fatal gtest failure still runs atexit handlers).
absl::Mutex registry_mu;
std::set<std::string>* registry = nullptr;

void DeleteNamespace(const std::string& ns) {
  (void)RunCommand({kIp, "netns", "del", ns});
}

void AtExit() {
  absl::MutexLock lock(&registry_mu);
  if (registry == nullptr) return;
  for (const auto& ns : *registry) DeleteNamespace(ns);
  registry->clear();
}

void Register(const std::string& ns, bool add) {
  absl::MutexLock lock(&registry_mu);
  if (registry == nullptr) {
    registry = new std::set<std::string>();
    ::atexit(AtExit);
  }
  if (add) {
    registry->insert(ns);
  } else {
    registry->erase(ns);
  }
}

// Deletes "kmn<pid>-<n>" namespaces whose process is gone.
void SweepStale() {
  DIR* d = ::opendir(kNetnsDir);
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!absl::StartsWith(name, kPrefix)) continue;
    size_t dash = name.find('-');
    int pid = 0;
    if (dash == std::string::npos ||
        !absl::SimpleAtoi(name.substr(strlen(kPrefix), dash - strlen(kPrefix)), &pid)) {
      continue;
    }
    if (::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (const auto& ns : stale) DeleteNamespace(ns);
}

// The hub: entered once per process.
absl::Status EnterHub(std::string* subnet) {
  static std::once_flag once;
  static absl::Status status;
  static std::string hub_subnet;
  std::call_once(once, [] {
    if (::geteuid() != 0) {
      status = absl::FailedPreconditionError(
          "nemesis tests need root to create network namespaces (run as root, as CI does)");
      return;
    }
    for (const char* tool : {kIp, kTc, kNft}) {
      if (::access(tool, X_OK) != 0) {
        status = absl::FailedPreconditionError(absl::StrCat(
            "nemesis tests need ", tool, " (packages iproute2 and nftables: scripts/install-deps.sh)"));
        return;
      }
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "cannot create a network namespace (unshare(CLONE_NEWNET): ", strerror(errno),
          "): nemesis tests need root and namespaces"));
      return;
    }
    hub_subnet = absl::StrCat("10.", 100 + ::getpid() % 100, ".", (::getpid() / 100) % 250, ".");
    status = RunCommand({kIp, "link", "set", "lo", "up"});
    if (status.ok()) status = RunCommand({kIp, "link", "add", "br0", "type", "bridge"});
    if (status.ok()) status = RunCommand({kIp, "link", "set", "br0", "up"});
    if (status.ok()) {
      status = RunCommand({kIp, "addr", "add", absl::StrCat(hub_subnet, "1/24"), "dev", "br0"});
    }
    if (!status.ok()) {
      status = absl::FailedPreconditionError(
          absl::StrCat("cannot set up the test's bridge: ", status.message()));
    }
  });
  *subnet = hub_subnet;
  return status;
}

// Node numbers are unique in the process (several labs, one hub).
int next_node = 2;

}  // namespace

absl::Status RunCommand(const std::vector<std::string>& argv, std::string* output) {
  char tmpl[] = "/tmp/kmend-nemesis-cmd.XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return io::ErrnoError("mkstemp", tmpl, errno);
  ::close(fd);
  auto pid = testing::Spawn(argv, tmpl);
  if (!pid.ok()) {
    ::unlink(tmpl);
    return pid.status();
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string text = io::ReadFileToString(tmpl).value_or("");
  ::unlink(tmpl);
  if (output != nullptr) *output = text;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("'", absl::StrJoin(argv, " "), "' failed (status ", status, "): ", text));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NetLab>> NetLab::Create(int num_nodes) {
  std::unique_ptr<NetLab> lab(new NetLab());
  absl::Status s = EnterHub(&lab->subnet_);
  if (!s.ok()) return s;
  SweepStale();
  for (int i = 0; i < num_nodes; ++i) {
    s = lab->AddNode(i);
    if (!s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create network namespace for node ", i, ": ", s.message()));
    }
  }
  return lab;
}

absl::Status NetLab::AddNode(int i) {
  int n = next_node++;
  if (n > 250) return absl::ResourceExhaustedError("more than 248 nodes in one test process");
  Node node{absl::StrCat(kPrefix, ::getpid(), "-", n), absl::StrCat(subnet_, n)};
  Register(node.ns, true);
  nodes_.push_back(node);
  std::string veth = absl::StrCat("v", n);
  const std::string& ns = node.ns;
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {kIp, "netns", "add", ns},
           {kIp, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
           {kIp, "link", "set", veth, "master", "br0", "up"},
           {kIp, "-n", ns, "link", "set", "lo", "up"},
           {kIp, "-n", ns, "link", "set", "eth0", "up"},
           {kIp, "-n", ns, "addr", "add", node.ip + "/24", "dev", "eth0"},
       }) {
    absl::Status s = RunCommand(argv);
    if (!s.ok()) return s;
  }
  absl::Status s = Nft(i, {"add", "table", "inet", "nemesis"});
  for (const char* chain : {"input", "output"}) {
    if (!s.ok()) break;
    s = Nft(i, {"add", "chain", "inet", "nemesis", chain, "{", "type", "filter", "hook", chain,
                "priority", "0", ";", "policy", "accept", ";", "}"});
  }
  return s;
}

NetLab::~NetLab() {
  for (const auto& n : nodes_) {
    DeleteNamespace(n.ns);
    Register(n.ns, false);
  }
}

std::vector<std::string> NetLab::ExecPrefix(int node) const {
  return {kIp, "netns", "exec", ns(node)};
}

absl::Status NetLab::Nft(int node, const std::vector<std::string>& words) {
  std::vector<std::string> argv = ExecPrefix(node);
  argv.push_back(kNft);
  argv.insert(argv.end(), words.begin(), words.end());
  return RunCommand(argv);
}

absl::Status NetLab::Block(int from, int to) {
  return Nft(to, {"add", "rule", "inet", "nemesis", "input", "ip", "saddr", ip(from), "drop"});
}

absl::Status NetLab::Partition(const std::set<int>& a, const std::set<int>& b) {
  for (int x : a) {
    for (int y : b) {
      absl::Status s = Block(x, y);
      if (s.ok()) s = Block(y, x);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status NetLab::Isolate(int node) {
  std::set<int> others;
  for (int i = 0; i < num_nodes(); ++i) {
    if (i != node) others.insert(i);
  }
  return Partition({node}, others);
}

absl::Status NetLab::Loss(int node, int percent) {
  return Nft(node, {"add", "rule", "inet", "nemesis", "output", "ip", "daddr", subnet_ + "0/24",
                    "ip", "daddr", "!=", subnet_ + "1", "numgen", "random", "mod", "100", "<",
                    absl::StrCat(percent), "drop"});
}

absl::Status NetLab::Slow(int node) {
  std::vector<std::string> argv = {kTc, "-n", ns(node), "qdisc", "replace", "dev", "eth0", "root",
                                   "tbf", "rate", "256kbit", "burst", "16kbit", "latency", "300ms"};
  return RunCommand(argv);
}

absl::Status NetLab::HealAll() {
  absl::Status first;
  for (int i = 0; i < num_nodes(); ++i) {
    for (const char* chain : {"input", "output"}) {
      absl::Status s = Nft(i, {"flush", "chain", "inet", "nemesis", chain});
      if (first.ok()) first = s;
    }
    // No qdisc to delete is the usual case.
    (void)RunCommand({kTc, "-n", ns(i), "qdisc", "del", "dev", "eth0", "root"});
  }
  return first;
}

}  // namespace kmend::nemesis
