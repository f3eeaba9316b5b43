#include "server/tserver/ack_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"

namespace kmend::tserver {

absl::StatusOr<std::unique_ptr<AckLog>> AckLog::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("open ack log", path, errno);
  return std::unique_ptr<AckLog>(new AckLog(fd));
}

AckLog::~AckLog() { ::close(fd_); }

void AckLog::Append(const std::string& tablet_id, int64_t term, int64_t index,
                    const std::string& leader_uuid) {
  std::string line = absl::StrCat(tablet_id, " ", term, " ", index, " ", leader_uuid, "\n");
  // A short write of a few dozen bytes to a regular file does not happen;
  // a failed one only weakens the test that enabled the log.
  (void)!::write(fd_, line.data(), line.size());
}

}  // namespace kmend::tserver
