#include "bench/common/process_cpu.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kmend::bench {

int64_t CpuTicks(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(f, line)) return -1;
  // Fields after the command name, which is in parentheses and may hold spaces.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(line.substr(close + 2), ' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return utime + stime;
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  int64_t ticks = 0;
  for (pid_t pid : pids) {
    const int64_t t = CpuTicks(pid);
    if (t > 0) ticks += t;
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int64_t ContextSwitches(const std::vector<pid_t>& pids) {
  int64_t total = 0;
  for (pid_t pid : pids) {
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
      std::ifstream f(task.path() / "status");
      std::string line;
      while (std::getline(f, line)) {
        // "voluntary_ctxt_switches:\t12" and "nonvoluntary_ctxt_switches:\t3".
        if (line.find("ctxt_switches:") == std::string::npos) continue;
        int64_t n = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)), &n)) {
          total += n;
        }
      }
    }
  }
  return total;
}

}  // namespace kmend::bench
