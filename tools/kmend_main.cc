// kmend: the front command. `kmend <name> args...` execs `kmend-<name>`,
// looked up first next to this binary (so a build tree or an install
// directory is self-contained), then on PATH, git-style. `kmend help` lists
// the tools of the table below; `kmend --version` prints the version.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "lib/util/version.h"

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

// Every tool `kmend` dispatches to, with what `kmend help` says of it. A
// declared table, not a scan of the disk: help needs no fork per tool, and a
// tool missing from an install still shows up (running it then says it is
// missing). tools/kmend_help_test.sh fails if a kmend-* binary built next to
// kmend is absent here.
struct ToolEntry {
  const char* name;
  const char* description;
};
constexpr ToolEntry kTools[] = {
    {"pbc", "dump and verify PB container files (Kudu/kmend metadata)"},
    {"cmeta", "print, verify and create consensus metadata files"},
    {"wal", "dump and verify write-ahead log segments"},
    {"table", "create, list, describe and delete tables (talks to the master)"},
    {"write", "write rows to a table through its tablets' leaders"},
    {"scan", "print a table's rows or count them (reads from each leader)"},
    {"ksck", "check a cluster's health and consistency, and name the fix"},
    {"fsck", "verify (and with --repair fix) a stopped tablet server's data directory"},
    {"unsafe-change-config",
     "force a tablet replica's Raft config to the survivors (loses entries only the lost "
     "replicas had)"},
    {"recover", "plan, apply and verify the recovery of every tablet that lost its majority"},
    {"tserver", "unregister a tablet server that is gone for good; maintenance mode"},
    {"master",
     "force the masters' catalog onto the survivors after a lost majority; add a master; "
     "rebuild the catalog from the tablet servers"},
    {"cert", "make a CA and server and user certificates for a test or demo cluster"},
    {"audit", "print a server's audit log: who did which admin action, when, how it ended"},
    {"rebuild-replica",
     "re-create a corrupt, lost or diverged replica from a healthy peer (online, or offline into "
     "a stopped server's data directory)"},
    {"drill", "measure failover (T_check, T_recover, availability) by faulting a TEST cluster"},
};

int Help() {
  size_t width = 0;
  for (const ToolEntry& t : kTools) width = std::max(width, std::strlen(t.name));
  std::cout << "Usage: kmend <tool> [args...]   (runs kmend-<tool>; `kmend <tool> --help`)\n"
            << "       kmend --version\n"
            << "Exit codes: 0 nothing wrong, 1 problems found, 2 could not run.\n"
            << "Flags are spelled with underscores; durations take units (5s, 500ms).\n\n"
            << "Tools:\n";
  for (const ToolEntry& t : kTools) {
    std::cout << "  " << t.name << std::string(width + 2 - std::strlen(t.name), ' ')
              << t.description << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int Version() {
  std::cout << kKmendVersion << std::endl;
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Help();
  std::string name = argv[1];
  if (name == "--version" || name == "version") return Version();
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
