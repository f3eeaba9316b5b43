#include "lib/drill/local_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kmend::drill {
namespace {

absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitNul(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, '\0')) {
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

std::string LinkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, n);
}

// The file an fd points at, when it is a regular file still there.
std::string RegularFileOf(const std::string& fd_link) {
  std::string target = LinkTarget(fd_link);
  struct stat st;
  if (target.empty() || target[0] != '/' || ::stat(target.c_str(), &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    return "";
  }
  return target;
}

}  // namespace

absl::StatusOr<ProcessImage> CaptureProcess(int64_t pid, const std::string& must_mention) {
  std::string proc = absl::StrCat("/proc/", pid);
  auto cmdline = ReadProcFile(proc + "/cmdline");
  if (!cmdline.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pid ", pid, " (from the server's status) is not a process on this machine; "
        "for a remote cluster give --fault_cmd and --restore_cmd"));
  }
  ProcessImage img;
  img.pid = pid;
  img.argv = SplitNul(*cmdline);
  bool mentioned = must_mention.empty();
  for (const std::string& a : img.argv) mentioned |= absl::StrContains(a, must_mention);
  if (img.argv.empty() || !mentioned) {
    return absl::FailedPreconditionError(absl::StrCat(
        "local process ", pid, " does not mention '", must_mention,
        "' on its command line: not the server that reported this pid (another machine's?); "
        "for a remote cluster give --fault_cmd and --restore_cmd"));
  }
  img.cwd = LinkTarget(proc + "/cwd");
  auto environ = ReadProcFile(proc + "/environ");
  if (environ.ok()) img.env = SplitNul(*environ);
  // The binary it runs (argv[0] may be a bare name found on PATH); if it
  // was replaced since (" (deleted)"), argv[0] against the cwd.
  img.exe = LinkTarget(proc + "/exe");
  if (img.exe.empty() || absl::EndsWith(img.exe, " (deleted)")) {
    img.exe = img.argv[0];
    if (!img.exe.empty() && img.exe[0] != '/') img.exe = absl::StrCat(img.cwd, "/", img.exe);
  }
  img.stdout_path = RegularFileOf(proc + "/fd/1");
  img.stderr_path = RegularFileOf(proc + "/fd/2");
  return img;
}

absl::Status SignalProcess(int64_t pid, int signal) {
  if (::kill(static_cast<pid_t>(pid), signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill(", pid, ", ", strsignal(signal), "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status WaitExited(int64_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto stat = ReadProcFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) return absl::OkStatus();
    // "pid (comm) S ...": the state follows the last ')'.
    size_t close = stat->rfind(')');
    if (close != std::string::npos && close + 2 < stat->size() &&
        ((*stat)[close + 2] == 'Z' || (*stat)[close + 2] == 'X')) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid, " still running after ",
                                                      timeout.count(), " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::StatusOr<int64_t> Respawn(const ProcessImage& image, const std::vector<std::string>& argv) {
  // fds: the intermediate child sends the grandchild's pid. exec_fds: the
  // grandchild sends errno if execve fails; a successful exec closes it
  // (O_CLOEXEC), so EOF with no data means the server is running.
  int fds[2], exec_fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0 || ::pipe2(exec_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  // Everything the children need is prepared before fork (no allocation
  // after it in a possibly multi-threaded parent).
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const std::string& e : image.env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const char* out = image.stdout_path.empty() ? "/dev/null" : image.stdout_path.c_str();
  const char* err = image.stderr_path.empty() ? "/dev/null" : image.stderr_path.c_str();
  pid_t child = ::fork();
  if (child < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      int64_t p = grandchild;
      (void)!::write(fds[1], &p, sizeof(p));
      ::_exit(grandchild > 0 ? 0 : 1);
    }
    if (!image.cwd.empty() && ::chdir(image.cwd.c_str()) != 0) ::_exit(127);
    int in = ::open("/dev/null", O_RDONLY);
    int o = ::open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
    int e = ::open(err, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (o >= 0) ::dup2(o, 1);
    if (e >= 0) ::dup2(e, 2);
    ::execve(image.exe.c_str(), cargv.data(), cenv.data());
    int err = errno;
    (void)!::write(exec_fds[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::close(exec_fds[1]);
  int64_t pid = -1;
  ssize_t n = ::read(fds[0], &pid, sizeof(pid));
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  int exec_errno = 0;
  ssize_t e = ::read(exec_fds[0], &exec_errno, sizeof(exec_errno));
  ::close(exec_fds[0]);
  if (n != sizeof(pid) || pid <= 0) {
    return absl::InternalError(absl::StrCat("could not start ", image.exe, " again: fork failed"));
  }
  if (e == sizeof(exec_errno)) {
    return absl::InternalError(absl::StrCat("could not start ", image.exe,
                                            " again: execve: ", std::strerror(exec_errno)));
  }
  return pid;
}

std::vector<std::string> PinRpcBindPort(const std::vector<std::string>& argv, int bound_port) {
  std::vector<std::string> out = argv;
  auto pin = [&](std::string* value) {
    size_t colon = value->rfind(':');
    if (colon != std::string::npos && value->substr(colon + 1) == "0") {
      *value = absl::StrCat(value->substr(0, colon + 1), bound_port);
    }
  };
  for (size_t i = 0; i < out.size(); ++i) {
    for (const char* flag : {"--rpc_bind", "-rpc_bind"}) {
      std::string eq = absl::StrCat(flag, "=");
      if (absl::StartsWith(out[i], eq)) {
        std::string v = out[i].substr(eq.size());
        pin(&v);
        out[i] = eq + v;
      } else if (out[i] == flag && i + 1 < out.size()) {
        pin(&out[i + 1]);
      }
    }
  }
  return out;
}

}  // namespace kmend::drill
