#include "testing/nemesis/checker.h"

#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kmend::nemesis {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAcked:
      return "acked";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace {

// A cap so that a broken run prints a readable report.
constexpr size_t kMaxAnomalies = 50;

struct KeyHistory {
  std::vector<const WriteRecord*> writes;
  std::map<std::string, const WriteRecord*> by_value;
};

std::string Describe(const WriteRecord& w) {
  return absl::StrCat(w.upsert ? "upsert" : "insert", " '", w.value, "' (", OutcomeName(w.outcome),
                      ", ", w.start_us, "..", w.end_us, " us)");
}

// An acknowledged write on the same key that began after `w` ended: in any
// linearization it comes after `w`, so `w`'s value cannot be the latest one
// visible after `before_us` when that write ended before `before_us`.
const WriteRecord* AckedSuccessor(const KeyHistory& h, const WriteRecord& w, int64_t before_us) {
  for (const WriteRecord* o : h.writes) {
    if (o->outcome == Outcome::kAcked && o->start_us > w.end_us && o->end_us < before_us) return o;
  }
  return nullptr;
}

}  // namespace

CheckResult Check(const std::vector<WriteRecord>& writes, const std::vector<ReadRecord>& reads,
                  const std::map<int64_t, std::string>& final_rows,
                  const std::vector<AckLine>& acks) {
  CheckResult r;
  auto add = [&r](std::string s) {
    if (r.anomalies.size() < kMaxAnomalies) r.anomalies.push_back(std::move(s));
  };
  std::map<int64_t, KeyHistory> keys;
  for (const WriteRecord& w : writes) {
    KeyHistory& h = keys[w.key];
    h.writes.push_back(&w);
    h.by_value[w.value] = &w;
    switch (w.outcome) {
      case Outcome::kAcked:
        ++r.acked_writes;
        break;
      case Outcome::kUnknown:
        ++r.unknown_writes;
        break;
      case Outcome::kRejected:
        ++r.rejected_writes;
        break;
    }
  }
  constexpr int64_t kForever = INT64_MAX;

  // Final state.
  for (const auto& [key, h] : keys) {
    auto row = final_rows.find(key);
    bool any_acked = false;
    for (const WriteRecord* w : h.writes) any_acked |= w->outcome == Outcome::kAcked;
    if (row == final_rows.end()) {
      if (any_acked) add(absl::StrCat("lost write: key ", key, " is missing after healing"));
      continue;
    }
    auto w = h.by_value.find(row->second);
    if (w == h.by_value.end()) {
      add(absl::StrCat("phantom: key ", key, " holds '", row->second,
                       "', which no write on that key produced"));
      continue;
    }
    if (w->second->outcome == Outcome::kRejected) {
      add(absl::StrCat("phantom: key ", key, " holds the value of a rejected ",
                       Describe(*w->second)));
    }
    if (const WriteRecord* later = AckedSuccessor(h, *w->second, kForever)) {
      add(absl::StrCat("lost write: key ", key, " holds ", Describe(*w->second),
                       " but the later ", Describe(*later), " was acknowledged"));
    }
  }
  for (const auto& [key, value] : final_rows) {
    if (keys.count(key) == 0) {
      add(absl::StrCat("phantom: key ", key, " ('", value, "') was never written"));
    }
  }

  // Reads.
  for (const ReadRecord& rd : reads) {
    ++r.reads;
    auto hit = keys.find(rd.key);
    static const KeyHistory kEmpty;
    const KeyHistory& h = hit == keys.end() ? kEmpty : hit->second;
    if (!rd.found) {
      for (const WriteRecord* o : h.writes) {
        if (o->outcome == Outcome::kAcked && o->end_us < rd.start_us) {
          add(absl::StrCat("stale read: key ", rd.key, " read as absent at ", rd.start_us, "..",
                           rd.end_us, " us after ", Describe(*o)));
          break;
        }
      }
      continue;
    }
    auto w = h.by_value.find(rd.value);
    if (w == h.by_value.end() || w->second->outcome == Outcome::kRejected) {
      add(absl::StrCat("phantom: read of key ", rd.key, " returned '", rd.value,
                       "', never written there (or rejected)"));
      continue;
    }
    if (w->second->start_us > rd.end_us) {
      add(absl::StrCat("phantom: read of key ", rd.key, " at ", rd.start_us, "..", rd.end_us,
                       " us returned ", Describe(*w->second), ", which began later"));
    }
    if (const WriteRecord* later = AckedSuccessor(h, *w->second, rd.start_us)) {
      add(absl::StrCat("stale read: key ", rd.key, " at ", rd.start_us, "..", rd.end_us,
                       " us returned ", Describe(*w->second), " after ", Describe(*later)));
    }
  }

  // Ack logs: one leader per (tablet, term); one term per (tablet, index).
  std::map<std::pair<std::string, int64_t>, std::set<std::string>> leaders;
  std::map<std::pair<std::string, int64_t>, std::set<int64_t>> terms;
  for (const AckLine& a : acks) {
    ++r.ack_lines;
    leaders[{a.tablet_id, a.term}].insert(a.leader_uuid);
    terms[{a.tablet_id, a.index}].insert(a.term);
  }
  for (const auto& [k, uuids] : leaders) {
    if (uuids.size() > 1) {
      add(absl::StrCat("split brain: tablet ", k.first, " term ", k.second,
                       ": writes acknowledged by ", absl::StrJoin(uuids, " and ")));
    }
  }
  for (const auto& [k, ts] : terms) {
    if (ts.size() > 1) {
      add(absl::StrCat("split brain: tablet ", k.first, " index ", k.second,
                       " acknowledged in terms ", absl::StrJoin(ts, ", ")));
    }
  }
  return r;
}

std::vector<AckLine> ParseAckLog(const std::string& text, int* bad) {
  std::vector<AckLine> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    AckLine a;
    if (f.size() != 4 || !absl::SimpleAtoi(f[1], &a.term) || !absl::SimpleAtoi(f[2], &a.index)) {
      ++*bad;
      continue;
    }
    a.tablet_id = std::string(f[0]);
    a.leader_uuid = std::string(f[3]);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace kmend::nemesis
