#include "testing/nemesis/workload.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/client/table_locator.h"
#include "lib/client/table_scanner.h"
#include "lib/client/table_writer.h"
#include "lib/tablet/row.h"

namespace kmend::nemesis {
namespace {

constexpr int64_t kInsertKeyBase = 1'000'000'000;

std::unique_ptr<client::TableLocator> OpenLocator(const std::string& masters,
                                                  const std::string& table,
                                                  const std::atomic<bool>& stop) {
  while (!stop.load()) {
    auto loc = client::TableLocator::Open(masters, table, std::chrono::seconds(1));
    if (loc.ok()) return std::move(*loc);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return nullptr;
}

}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Workload::Start() {
  for (int w = 0; w < options_.writers; ++w) threads_.emplace_back([this, w] { Writer(w); });
  for (int r = 0; r < options_.readers; ++r) threads_.emplace_back([this, r] { Reader(r); });
}

void Workload::Stop() {
  stop_.store(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<WriteRecord> Workload::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

std::vector<ReadRecord> Workload::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

void Workload::Writer(int w) {
  std::mt19937_64 rng(options_.seed * 1000 + w);
  auto loc = OpenLocator(masters_, table_, stop_);
  if (loc == nullptr) return;
  client::TableWriter writer(loc.get(), absl::Milliseconds(options_.request_timeout_ms));
  int64_t next_insert = 0;
  for (int64_t seq = 0; !stop_.load(); ++seq) {
    WriteRecord rec;
    rec.upsert = static_cast<int>(rng() % 100) < options_.upsert_percent;
    rec.key = rec.upsert ? static_cast<int64_t>(rng() % options_.hot_keys)
                         : (w + 1) * kInsertKeyBase + next_insert++;
    rec.value = absl::StrCat("w", w, "s", seq);
    tablet::Row row = {rec.key, rec.value};
    rec.start_us = NowMicros();
    auto res = writer.Write({row}, rec.upsert ? RowOpPB::UPSERT : RowOpPB::INSERT);
    rec.end_us = NowMicros();
    if (res.ok() && res->outcomes.size() == 1) {
      switch (res->outcomes[0]) {
        case client::RowOutcome::kAcked:
          rec.outcome = Outcome::kAcked;
          ++acked_;
          break;
        case client::RowOutcome::kRowError:
          rec.outcome = Outcome::kRejected;
          break;
        case client::RowOutcome::kFailed:
          rec.outcome = Outcome::kUnknown;
          break;
      }
    }
    absl::MutexLock lock(&mu_);
    writes_.push_back(std::move(rec));
  }
}

void Workload::Reader(int r) {
  std::mt19937_64 rng(options_.seed * 1000 + 500 + r);
  auto loc = OpenLocator(masters_, table_, stop_);
  if (loc == nullptr) return;
  client::TableScanner scanner(loc.get(), absl::Milliseconds(options_.request_timeout_ms));
  while (!stop_.load()) {
    ReadRecord rec;
    rec.key = static_cast<int64_t>(rng() % options_.hot_keys);
    tablet::Row key = {rec.key};
    tablet::Row next = {rec.key + 1};
    client::ScanOptions opts;
    opts.start_key = *tablet::EncodeKey(loc->schema(), key);
    opts.end_key = *tablet::EncodeKey(loc->schema(), next);
    rec.start_us = NowMicros();
    auto n = scanner.Scan(opts, [&](const tablet::Row& row) {
      if (row.size() >= 2 && std::holds_alternative<std::string>(row[1])) {
        rec.found = true;
        rec.value = std::get<std::string>(row[1]);
      }
      return true;
    });
    rec.end_us = NowMicros();
    if (!n.ok()) continue;
    absl::MutexLock lock(&mu_);
    reads_.push_back(std::move(rec));
  }
}

absl::StatusOr<std::map<int64_t, std::string>> Workload::ReadAll(
    const std::string& masters, const std::string& table, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (std::chrono::steady_clock::now() < deadline) {
    auto loc = client::TableLocator::Open(masters, table, std::chrono::seconds(2));
    if (!loc.ok()) {
      last = loc.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    client::TableScanner scanner(loc->get(), absl::Seconds(10));
    std::map<int64_t, std::string> rows;
    auto n = scanner.Scan({}, [&](const tablet::Row& row) {
      if (row.size() >= 2 && std::holds_alternative<int64_t>(row[0])) {
        rows[std::get<int64_t>(row[0])] =
            std::holds_alternative<std::string>(row[1]) ? std::get<std::string>(row[1]) : "";
      }
      return true;
    });
    if (n.ok()) return rows;
    last = n.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

}  // namespace kmend::nemesis
