#include "testing/cluster/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <sstream>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/io/file.h"

namespace kmend::testing {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(10);

std::string Tail(const std::string& path, int max_lines) {
  auto text = io::ReadFileToString(path);
  if (!text.ok()) return "";
  std::deque<std::string> lines;
  for (absl::string_view l : absl::StrSplit(*text, '\n')) {
    lines.emplace_back(l);
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) absl::StrAppend(&out, l, "\n");
  return out;
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const std::string& output_path) {
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (the test has threads).
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return io::ErrnoError("fork", argv[0], errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  return pid;
}

ServerProcess::ServerProcess(std::string name, std::string binary, std::vector<std::string> args,
                             std::string dir)
    : name_(std::move(name)), binary_(std::move(binary)), args_(std::move(args)),
      dir_(std::move(dir)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) (void)KillNine();
}

std::string ServerProcess::fs_root() const { return io::JoinPath(dir_, "data"); }
std::string ServerProcess::log_path() const { return io::JoinPath(dir_, "server.log"); }
std::string ServerProcess::address() const { return absl::StrCat(host_, ":", port_); }

std::string ServerProcess::LogTail(int max_lines) const {
  return absl::StrCat("---- ", name_, " stderr (", io::JoinPath(dir_, "stderr"), ") ----\n",
                      Tail(io::JoinPath(dir_, "stderr"), max_lines));
}

std::vector<std::string> ServerProcess::Argv(int bind_port, const std::string& port_file) const {
  std::vector<std::string> argv = exec_prefix_;
  argv.push_back(binary_);
  argv.insert(argv.end(), args_.begin(), args_.end());
  argv.push_back("--fs_root=" + fs_root());
  argv.push_back(absl::StrCat("--rpc_bind=", host_, ":", bind_port));
  if (!port_file.empty()) argv.push_back("--port_file=" + port_file);
  argv.push_back("--log_file=" + log_path());
  return argv;
}

absl::Status ServerProcess::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is already running"));
  absl::Status s = io::CreateDirs(dir_);
  if (!s.ok()) return s;
  std::string port_file = io::JoinPath(dir_, "port");
  ::unlink(port_file.c_str());
  auto pid = Spawn(Argv(port_, port_file), io::JoinPath(dir_, "stderr"));
  if (!pid.ok()) return pid.status();
  pid_ = *pid;

  // The server writes the file atomically, so a readable file is complete.
  auto written_port = [&port_file]() -> int {
    auto text = io::ReadFileToString(port_file);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      return port;
    }
    return 0;
  };
  early_exit_status_.reset();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (int port = written_port(); port > 0) {
      port_ = port;
      return absl::OkStatus();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      // Started (port file written), then exited on its own before this
      // poll saw the file: a server that refuses to run after start-up, on
      // a fast machine. WaitForExit reports the status.
      if (int port = written_port(); port > 0) {
        port_ = port;
        early_exit_status_ = status;
        return absl::OkStatus();
      }
      return absl::InternalError(absl::StrCat(name_, " exited during start-up (status ", status,
                                              ")\n", LogTail()));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)KillNine();
      return absl::DeadlineExceededError(absl::StrCat(
          name_, " did not write its port file within ", timeout.count(), " ms\n", LogTail()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

absl::Status ServerProcess::Reap(std::chrono::milliseconds timeout, int* exit_status) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      *exit_status = status;
      return absl::OkStatus();
    }
    if (r < 0) {
      pid_ = -1;
      return io::ErrnoError("waitpid", name_, errno);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(name_, " (pid ", pid_, ") did not exit within ", timeout.count(), " ms"));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

absl::StatusOr<int> ServerProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (early_exit_status_) {
    const int status = *early_exit_status_;
    early_exit_status_.reset();
    return status;
  }
  if (pid_ <= 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  int status = 0;
  absl::Status s = Reap(timeout, &status);
  if (!s.ok()) return s;
  return status;
}

absl::Status ServerProcess::KillNine() {
  if (pid_ <= 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  ::kill(pid_, SIGKILL);
  int status = 0;
  return Reap(std::chrono::seconds(30), &status);
}

absl::Status ServerProcess::Stop() {
  if (pid_ <= 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  if (::kill(pid_, SIGSTOP) != 0) return io::ErrnoError("kill SIGSTOP", name_, errno);
  return absl::OkStatus();
}

absl::Status ServerProcess::Continue() {
  if (pid_ <= 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  if (::kill(pid_, SIGCONT) != 0) return io::ErrnoError("kill SIGCONT", name_, errno);
  return absl::OkStatus();
}

absl::Status ServerProcess::Shutdown(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  ::kill(pid_, SIGCONT);  // a stopped process cannot handle SIGTERM
  ::kill(pid_, SIGTERM);
  int status = 0;
  absl::Status s = Reap(timeout, &status);
  if (!s.ok()) {
    (void)KillNine();
    return s;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(name_, " did not exit cleanly after SIGTERM (status ",
                                            status, ")\n", LogTail()));
  }
  return absl::OkStatus();
}

absl::Status ServerProcess::Restart(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    absl::Status s = KillNine();
    if (!s.ok()) return s;
  }
  return Start(timeout);
}

ServerProcess::RunResult ServerProcess::RunSecondInstance(std::chrono::milliseconds timeout) const {
  RunResult result;
  std::string out = io::JoinPath(dir_, "second-instance.stderr");
  ::unlink(out.c_str());
  // Port 0: the refusal must come from the data directory lock, not from a
  // port clash.
  auto pid = Spawn(Argv(0, ""), out);
  if (!pid.ok()) {
    result.stderr_text = std::string(pid.status().message());
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(*pid, &status, WNOHANG) != *pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, &status, 0);
      result.stderr_text = "second instance did not exit (it should have been refused)";
      return result;
    }
    std::this_thread::sleep_for(kPoll);
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto text = io::ReadFileToString(out);
  if (text.ok()) result.stderr_text = *text;
  return result;
}

}  // namespace kmend::testing
