// A small process logger: timestamped lines to stderr and, once
// InitLogging() named one, to a log file.
//
//   KLOG(INFO) << "registered tablet server " << uuid;
//
// Line format: "I20261125 09:41:02.123456 12345 master_service.cc:88] text".
// Severity letters: I(nfo), W(arning), E(rror).
//
// Thread safety: every function and KLOG may be called from any thread; lines
// from different threads never interleave. Logging before InitLogging goes to
// stderr only.
#ifndef KMEND_SERVER_COMMON_LOGGER_H_
#define KMEND_SERVER_COMMON_LOGGER_H_

#include <sstream>
#include <string>

#include "absl/status/status.h"

namespace kmend::server {

enum class LogSeverity { kInfo, kWarning, kError };

// Opens `log_file` for appending (created 0644 if missing); an empty path
// keeps logging to stderr only. Replaces any file opened before.
absl::Status InitLogging(const std::string& log_file);

// Flushes and closes the log file.
void ShutdownLogging();

// Accumulates one line and writes it when destroyed.
class LogLine {
 public:
  LogLine(LogSeverity severity, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

}  // namespace kmend::server

#define KMEND_LOG_SEVERITY_INFO ::kmend::server::LogSeverity::kInfo
#define KMEND_LOG_SEVERITY_WARNING ::kmend::server::LogSeverity::kWarning
#define KMEND_LOG_SEVERITY_ERROR ::kmend::server::LogSeverity::kError
#define KLOG(sev) \
  ::kmend::server::LogLine(KMEND_LOG_SEVERITY_##sev, __FILE__, __LINE__).stream()

#endif  // KMEND_SERVER_COMMON_LOGGER_H_
