// A private network for fault tests: one Linux network namespace per node,
// each joined by a veth pair to a bridge in the test process's own network
// namespace (the "hub"), with addresses in a private 10.x.y.0/24. Nothing is
// configured in the host's network: the hub is an anonymous namespace the
// test process moves into (unshare), node namespaces are named
// "kmn<pid>-<n>" and deleted by the destructor, by an atexit hook, and (when
// the test process was killed) by the stale sweep of the next NetLab.
//
// Faults are real packet drops in the node's namespace, with nftables (table
// "inet nemesis", chains input/output) and tc:
//   Block(a, b): packets from a arriving at b are dropped (a one-way cut;
//   TCP between them then fails both ways, as with a real one-way loss).
//   Partition: Block both ways across groups. Loss: a random share of the
//   node's outgoing packets dropped. Slow: a token bucket of 256 kbit/s on
//   the node's link (queuing delay; this kernel has no netem).
// The hub (the test process: clients, ksck) always reaches every node.
//
// Requires root (CAP_NET_ADMIN, CAP_SYS_ADMIN), /usr/sbin/ip, /usr/sbin/tc
// and /usr/sbin/nft. Thread safety: not thread-safe; one test thread drives it.
#ifndef KMEND_TESTING_NEMESIS_NETLAB_H_
#define KMEND_TESTING_NEMESIS_NETLAB_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::nemesis {

// Runs argv to completion; Internal with its output when it exits non-zero.
absl::Status RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

class NetLab {
 public:
  // Moves the process into the hub (once per process: call it from the main
  // thread before gRPC or any other thread starts, so later threads inherit
  // it), sweeps stale namespaces, and creates `num_nodes` node namespaces.
  // FailedPrecondition with a clear message when namespaces cannot be made
  // (not root, no ip/nft).
  static absl::StatusOr<std::unique_ptr<NetLab>> Create(int num_nodes);
  ~NetLab();
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const std::string& ns(int node) const { return nodes_.at(node).ns; }
  const std::string& ip(int node) const { return nodes_.at(node).ip; }
  // The argv prefix that runs a program inside node's namespace.
  std::vector<std::string> ExecPrefix(int node) const;

  absl::Status Block(int from, int to);
  // Cuts every link between a node of `a` and a node of `b`, both ways.
  absl::Status Partition(const std::set<int>& a, const std::set<int>& b);
  absl::Status Isolate(int node);
  absl::Status Loss(int node, int percent);
  absl::Status Slow(int node);
  // Removes every fault of every node.
  absl::Status HealAll();

 private:
  struct Node {
    std::string ns;
    std::string ip;
  };
  NetLab() = default;
  absl::Status AddNode(int i);
  absl::Status Nft(int node, const std::vector<std::string>& words);

  std::string subnet_;  // "10.x.y."
  std::vector<Node> nodes_;
};

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_NETLAB_H_
