// An append-only log of acknowledged writes, for fault tests only
// (testing/nemesis): one text line per Write this server acknowledged as
// leader, "<tablet_id> <term> <index> <leader_uuid>\n", written with one
// write(2) on an O_APPEND descriptor before the response leaves, so a line
// exists for every acknowledgement a client saw (kill -9 keeps what write(2)
// handed the kernel). The checker reads every server's log and asserts that
// per tablet and term only one server acknowledged writes.
//
// Off by default (tserver --ack_log_file empty). Not fsynced: a power loss
// is not among the faults it serves.
// Thread safety: Append is thread-safe (each line is one write(2) call).
#ifndef KMEND_SERVER_TSERVER_ACK_LOG_H_
#define KMEND_SERVER_TSERVER_ACK_LOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kmend::tserver {

class AckLog {
 public:
  static absl::StatusOr<std::unique_ptr<AckLog>> Open(const std::string& path);
  ~AckLog();
  AckLog(const AckLog&) = delete;
  AckLog& operator=(const AckLog&) = delete;

  void Append(const std::string& tablet_id, int64_t term, int64_t index,
              const std::string& leader_uuid);

 private:
  explicit AckLog(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_ACK_LOG_H_
