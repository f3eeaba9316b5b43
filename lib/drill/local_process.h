// The local processes a drill faults: found by the pid a server reports in
// its status (ServerInfoPB.pid), captured from /proc before the fault so
// that a killed server can be started again exactly as it was (same binary,
// arguments, working directory, environment, stdout/stderr files).
//
// Only for test clusters on this machine; kmend drill refuses to run without
// --yes-this-is-a-test-cluster, and a cluster elsewhere uses --fault_cmd.
// Thread safety: free functions, no shared state.
#ifndef KMEND_LIB_DRILL_LOCAL_PROCESS_H_
#define KMEND_LIB_DRILL_LOCAL_PROCESS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::drill {

struct ProcessImage {
  int64_t pid = 0;
  std::string exe;  // argv[0] resolved against cwd when relative
  std::string cwd;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  // Regular files the process's stdout/stderr were open on (appended to by
  // the restarted process); empty: /dev/null.
  std::string stdout_path, stderr_path;
};

// Reads /proc/<pid>. `must_mention` (e.g. the server's fs_root) must occur
// in one of its arguments: a pid from a status answer that names another
// machine's process (or a reused pid) is refused, not signalled.
absl::StatusOr<ProcessImage> CaptureProcess(int64_t pid, const std::string& must_mention);

// kill(2) with a message naming the pid and signal on failure.
absl::Status SignalProcess(int64_t pid, int signal);

// Waits until `pid` is gone or a zombie (its ports and flock are released).
absl::Status WaitExited(int64_t pid, std::chrono::milliseconds timeout);

// Starts `image` again, detached (double fork, own session: it outlives the
// drill, as the original server would), with `argv` in place of its
// original arguments. Returns the new pid.
absl::StatusOr<int64_t> Respawn(const ProcessImage& image, const std::vector<std::string>& argv);

// The server's arguments with a wildcard --rpc_bind port (":0", how tests
// start servers) replaced by the port it actually bound, so the restarted
// server keeps the address its Raft peers and the master know. Other
// arguments are kept as they are. Pure.
std::vector<std::string> PinRpcBindPort(const std::vector<std::string>& argv, int bound_port);

}  // namespace kmend::drill

#endif  // KMEND_LIB_DRILL_LOCAL_PROCESS_H_
