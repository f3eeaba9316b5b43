// What the nemesis workload observed, and what the servers logged: the input
// of the checker (checker.h). Plain values, no behaviour.
//
// Times are microseconds on the test process's steady clock; a request's
// [start_us, end_us] brackets the whole client call (retries included), so
// the real operation took effect, if at all, somewhere inside it.
#ifndef KMEND_TESTING_NEMESIS_HISTORY_H_
#define KMEND_TESTING_NEMESIS_HISTORY_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kmend::nemesis {

enum class Outcome {
  kAcked,     // the leader acknowledged the row
  kRejected,  // acknowledged as a row error: must not be visible
  kUnknown,   // no answer (timeout, connection cut): may or may not be applied
};

const char* OutcomeName(Outcome o);

// One single-row write. Every value written is unique across the run
// ("w<writer>s<seq>"), so a value read back names the write that produced it.
struct WriteRecord {
  int64_t key = 0;
  std::string value;
  bool upsert = false;  // false: INSERT of a fresh key
  Outcome outcome = Outcome::kUnknown;
  int64_t start_us = 0;
  int64_t end_us = 0;
};

// One single-key read through the tablet leader; only successful reads are
// recorded.
struct ReadRecord {
  int64_t key = 0;
  bool found = false;
  std::string value;  // when found
  int64_t start_us = 0;
  int64_t end_us = 0;
};

// One line of a tablet server's ack log (server/tserver/ack_log.h).
struct AckLine {
  std::string tablet_id;
  int64_t term = 0;
  int64_t index = 0;
  std::string leader_uuid;
};

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_HISTORY_H_
