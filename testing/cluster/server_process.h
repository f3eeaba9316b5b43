// One kmend-server process started by a test: fork/exec of the real binary
// with its own data directory, a port it binds itself (127.0.0.1:0, learned
// through --port_file), and its log in a file.
//
// Signals: KillNine (SIGKILL), Stop (SIGSTOP: the process hangs but keeps
// its sockets), Continue (SIGCONT), Shutdown (SIGTERM, wait for a clean
// exit). Restart starts it again on the same data directory and the same
// port, so that addresses other servers recorded stay valid.
//
// Lifetime and cleanup: the destructor SIGKILLs and reaps the process. The
// child also gets PR_SET_PDEATHSIG=SIGKILL, so a crashed test leaves no
// server behind. Thread safety: not thread-safe; one test thread drives it.
#ifndef KMEND_TESTING_CLUSTER_SERVER_PROCESS_H_
#define KMEND_TESTING_CLUSTER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::testing {

class ServerProcess {
 public:
  // `args` follow the binary name, without --fs_root/--rpc_bind/--port_file/
  // --log_file, which the process adds from `dir`: it uses <dir>/data as
  // fs_root and <dir>/server.log as log file.
  ServerProcess(std::string name, std::string binary, std::vector<std::string> args,
                std::string dir);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the process and waits until it has written its port file.
  // Fails (with the log's tail) if the process exits first or the port file
  // does not appear within `timeout`.
  absl::Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  absl::Status KillNine();
  absl::Status Stop();
  absl::Status Continue();
  // SIGTERM, then waits for the exit; Internal if it exits non-zero or
  // takes longer than `timeout` (it is then SIGKILLed).
  absl::Status Shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits for the process to exit on its own (a server that refuses to run
  // after start-up); its wait status (as waitpid's), or DeadlineExceeded.
  // Also after Start returned OK for a server that wrote its port file and
  // exited before Start's poll saw the file (it had started).
  absl::StatusOr<int> WaitForExit(std::chrono::milliseconds timeout);
  // Kills (if running) and starts again on the same directory and port.
  absl::Status Restart(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Before the first Start: bind `port` instead of picking one (multi-master
  // clusters, where every master must know the others' addresses up front;
  // the harness reserves the port by binding port 0).
  void set_port(int port) { port_ = port; }
  // Before the first Start: bind (and report as address()) `host` instead
  // of 127.0.0.1, and run the binary through `prefix` (e.g. {"/usr/sbin/ip",
  // "netns", "exec", NS}: testing/nemesis puts each server in its own network
  // namespace; the prefix must exec the binary in place, keeping the pid).
  void set_host(std::string host) { host_ = std::move(host); }
  void set_exec_prefix(std::vector<std::string> prefix) { exec_prefix_ = std::move(prefix); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const;  // "<host>:<port>", host 127.0.0.1 by default
  const std::string& name() const { return name_; }
  std::string fs_root() const;
  std::string log_path() const;
  // The last `max_lines` lines of the server's log and stderr.
  std::string LogTail(int max_lines = 40) const;

  // Runs the binary to completion with `args` plus this server's own
  // --fs_root etc. (for "a second server on the same data dir" tests);
  // returns its exit status and stderr.
  struct RunResult {
    int exit_status = -1;
    std::string stderr_text;
  };
  RunResult RunSecondInstance(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  std::vector<std::string> Argv(int bind_port, const std::string& port_file) const;
  absl::Status Reap(std::chrono::milliseconds timeout, int* exit_status);

  const std::string name_;
  const std::string binary_;
  const std::vector<std::string> args_;
  const std::string dir_;
  pid_t pid_ = -1;
  // Start saw the server exit after writing its port file (WaitForExit).
  std::optional<int> early_exit_status_;
  int port_ = 0;
  std::string host_ = "127.0.0.1";
  std::vector<std::string> exec_prefix_;
};

// Forks and execs argv[0] with stdout/stderr appended to `output_path`.
// The child dies with its parent thread (PR_SET_PDEATHSIG).
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& output_path);

}  // namespace kmend::testing

#endif  // KMEND_TESTING_CLUSTER_SERVER_PROCESS_H_
