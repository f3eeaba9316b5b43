#include "server/common/logger.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "absl/strings/str_format.h"

namespace kmend::server {
namespace {

std::mutex g_mu;
int g_fd = -1;  // guarded by g_mu

char SeverityLetter(LogSeverity s) {
  switch (s) {
    case LogSeverity::kInfo:
      return 'I';
    case LogSeverity::kWarning:
      return 'W';
    case LogSeverity::kError:
      return 'E';
  }
  return '?';
}

// Writes all of `data`, retrying short writes; logging never fails loudly.
void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

absl::Status InitLogging(const std::string& log_file) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_fd >= 0) {
    ::close(g_fd);
    g_fd = -1;
  }
  if (log_file.empty()) return absl::OkStatus();
  int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("open log file ", log_file, ": ", std::strerror(errno)));
  }
  g_fd = fd;
  return absl::OkStatus();
}

void ShutdownLogging() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_fd >= 0) {
    ::fsync(g_fd);
    ::close(g_fd);
    g_fd = -1;
  }
}

LogLine::LogLine(LogSeverity severity, const char* file, int line) : severity_(severity) {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  struct tm tm;
  ::gmtime_r(&tv.tv_sec, &tm);
  const char* base = std::strrchr(file, '/');
  base = base == nullptr ? file : base + 1;
  stream_ << absl::StrFormat("%c%04d%02d%02d %02d:%02d:%02d.%06d %d %s:%d] ",
                             SeverityLetter(severity), tm.tm_year + 1900, tm.tm_mon + 1,
                             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                             static_cast<int>(tv.tv_usec),
                             static_cast<int>(::syscall(SYS_gettid)), base, line);
}

LogLine::~LogLine() {
  stream_ << '\n';
  std::string text = stream_.str();
  std::lock_guard<std::mutex> lock(g_mu);
  WriteAll(STDERR_FILENO, text);
  if (g_fd >= 0) WriteAll(g_fd, text);
}

}  // namespace kmend::server
