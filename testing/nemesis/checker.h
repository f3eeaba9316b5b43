// The nemesis checker: judges a workload history against the table's final
// contents (read after healing) and the servers' ack logs. Pure: no I/O.
//
// Anomalies it reports (each a sentence naming key, value and times):
//  - lost write: a key with an acknowledged write is missing, or its final
//    value comes from a write that an acknowledged write on the same key
//    strictly followed in real time (the later one was lost);
//  - phantom: a value (final or read) that no attempted write on that key
//    produced, or that only a rejected write produced, or a read that saw a
//    write which began after the read ended;
//  - stale read: a read returned a value older than a write acknowledged
//    before the read began (or nothing, when such a write existed);
//  - split brain: two servers acknowledged writes for one tablet in one
//    term, or one tablet's log index was acknowledged in two terms.
#ifndef KMEND_TESTING_NEMESIS_CHECKER_H_
#define KMEND_TESTING_NEMESIS_CHECKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "testing/nemesis/history.h"

namespace kmend::nemesis {

struct CheckResult {
  int64_t acked_writes = 0;    // acknowledged writes checked against the final state
  int64_t unknown_writes = 0;
  int64_t rejected_writes = 0;
  int64_t reads = 0;
  int64_t ack_lines = 0;
  std::vector<std::string> anomalies;
  bool ok() const { return anomalies.empty(); }
};

// `final_rows`: key -> value of every row after healing.
CheckResult Check(const std::vector<WriteRecord>& writes, const std::vector<ReadRecord>& reads,
                  const std::map<int64_t, std::string>& final_rows,
                  const std::vector<AckLine>& acks);

// Parses an ack log's text; malformed lines are skipped and counted in
// `*bad` (a torn last line after kill -9 is possible in principle).
std::vector<AckLine> ParseAckLog(const std::string& text, int* bad);

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_CHECKER_H_
