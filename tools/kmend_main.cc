// kmend: the front command. `kmend <name> args...` execs `kmend-<name>`,
// looked up first next to this binary (so a build tree or an install
// directory is self-contained), then on PATH, git-style. `kmend help` lists
// the tools it can find with the first line of each one's --help.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace kmend::tools {
namespace {

constexpr int kExitError = 2;
constexpr char kPrefix[] = "kmend-";

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string self(buf, static_cast<size_t>(n));
  size_t slash = self.find_last_of('/');
  return slash == std::string::npos ? "" : self.substr(0, slash);
}

// The directories searched, in order: ours, then PATH's.
std::vector<std::string> SearchDirs() {
  std::vector<std::string> dirs;
  std::string self = SelfDir();
  if (!self.empty()) dirs.push_back(self);
  if (const char* path = std::getenv("PATH")) {
    for (absl::string_view d : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      dirs.emplace_back(d);
    }
  }
  return dirs;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name[0] == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string FindTool(const std::string& name) {
  for (const std::string& dir : SearchDirs()) {
    std::string candidate = dir + "/" + kPrefix + name;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

// The first line `path --help` prints (CLI11 puts the app description
// there), or "" if it prints nothing.
std::string FirstHelpLine(const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return "";
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return "";
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(path.c_str(), path.c_str(), "--help", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string line = out.substr(0, out.find('\n'));
  // "kmend-pbc: dump and verify ..." or "kmend pbc: ..." -> "dump and verify ..."
  size_t colon = line.find(": ");
  if (absl::StartsWith(line, "kmend") && colon != std::string::npos && colon < 24) {
    line = line.substr(colon + 2);
  }
  if (absl::StartsWith(line, "Usage:")) return "";
  return line;
}

int Help() {
  std::map<std::string, std::string> tools;  // name -> path; first found wins
  for (const std::string& dir : SearchDirs()) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = ::readdir(d)) {
      std::string file = e->d_name;
      if (!absl::StartsWith(file, kPrefix)) continue;
      std::string name = file.substr(std::strlen(kPrefix));
      // Bazel leaves kmend-x.runfiles/ and kmend-x.params next to binaries.
      if (!ValidName(name) || tools.count(name) > 0) continue;
      std::string path = dir + "/" + file;
      if (IsExecutableFile(path)) tools[name] = path;
    }
    ::closedir(d);
  }
  std::cout << "Usage: kmend <tool> [args...]   (runs kmend-<tool>; `kmend <tool> --help`)\n"
            << "Exit codes: 0 nothing wrong, 1 problems found, 2 could not run.\n\n"
            << "Tools:\n";
  if (tools.empty()) std::cout << "  (none found next to kmend or on PATH)\n";
  for (const auto& [name, path] : tools) {
    std::string desc = FirstHelpLine(path);
    std::cout << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ')
              << desc << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Help();
  std::string name = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (name == "help" || name == "--help" || name == "-h") {
    if (argc < 3) return Help();
    name = argv[2];  // `kmend help pbc` == `kmend pbc --help`
    rest = {"--help"};
  }
  if (!ValidName(name)) {
    std::cerr << "kmend: \"" << name << "\" is not a tool name; run `kmend help`" << std::endl;
    return kExitError;
  }
  std::string path = FindTool(name);
  if (path.empty()) {
    std::cerr << "kmend: unknown tool \"" << name << "\": no " << kPrefix << name
              << " next to kmend or on PATH; run `kmend help` for the list" << std::endl;
    return kExitError;
  }
  std::vector<char*> args;
  args.push_back(path.data());
  for (std::string& arg : rest) args.push_back(arg.data());
  args.push_back(nullptr);
  ::execv(path.c_str(), args.data());
  std::cerr << "kmend: cannot run " << path << ": " << std::strerror(errno) << std::endl;
  return kExitError;
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
