// VerifyingFetcher against an in-memory source: one test per check it makes
// (each planted once and seen to fire), pipelining, resuming and the hooks.
#include "lib/copy/verifying_fetcher.h"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/rpc/status_payloads.h"

namespace kmend::copy {
namespace {

// Serves `items` honestly; `tamper` may change a chunk before it is sent.
class FakeSource : public ChunkSource {
 public:
  explicit FakeSource(std::vector<std::string> items) : items_(std::move(items)) {}
  absl::StatusOr<Chunk> FetchChunk(size_t item, uint64_t offset, int64_t max_length) override {
    ++calls_;
    if (fail_at_call_ > 0 && calls_ == fail_at_call_) return absl::UnavailableError("peer gone");
    const std::string& bytes = items_.at(item);
    Chunk c;
    c.offset = offset;
    c.total_size_bytes = static_cast<int64_t>(bytes.size());
    c.data = bytes.substr(offset, static_cast<size_t>(max_length));
    c.crc32c = crc32c::Value(c.data);
    if (tamper_) tamper_(item, &c);
    return c;
  }
  std::vector<ItemSpec> Plan(bool with_crc = true) const {
    std::vector<ItemSpec> plan;
    for (size_t i = 0; i < items_.size(); ++i) {
      ItemSpec s;
      s.name = "item" + std::to_string(i);
      s.size_bytes = static_cast<int64_t>(items_[i].size());
      if (with_crc) s.crc32c = crc32c::Value(items_[i]);
      plan.push_back(s);
    }
    return plan;
  }
  std::vector<std::string> items_;
  std::function<void(size_t, Chunk*)> tamper_;
  std::atomic<int> calls_{0};
  int fail_at_call_ = 0;
};

FetcherOptions Options() {
  FetcherOptions o;
  o.what = "test copy";
  o.chunk_size_bytes = 10;
  return o;
}

std::vector<std::string> Items() {
  return {std::string(25, 'a'), std::string(), "0123456789abcdefghij0123"};
}

TEST(VerifyingFetcherTest, FetchesEveryItemInOrderAndCountsChunks) {
  FakeSource source(Items());
  std::vector<std::pair<size_t, bool>> seen;
  FetcherOptions o = Options();
  o.on_chunk = [&](size_t item, uint64_t, bool done) { seen.emplace_back(item, done); };
  VerifyingFetcher f(&source, source.Plan(), o);
  std::vector<std::string> out(3);
  for (size_t i = 0; i < 3; ++i) {
    StringSink sink(&out[i]);
    ASSERT_TRUE(f.FetchItem(i, &sink).ok()) << i;
  }
  EXPECT_EQ(out, source.items_);
  EXPECT_EQ(f.chunks(), 6);  // 3 + 0 + 3
  EXPECT_EQ(f.bytes(), 49);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[2], std::make_pair(size_t{0}, true));
  EXPECT_EQ(seen[5], std::make_pair(size_t{2}, true));
}

TEST(VerifyingFetcherTest, ItemsOutOfPlanOrderAreRefused) {
  FakeSource source(Items());
  VerifyingFetcher f(&source, source.Plan(), Options());
  std::string out;
  StringSink sink(&out);
  EXPECT_EQ(f.FetchItem(1, &sink).code(), absl::StatusCode::kFailedPrecondition);
}

struct Planted {
  const char* name;
  std::function<void(size_t, Chunk*)> tamper;
  const char* expect;
};

TEST(VerifyingFetcherTest, EachChunkCheckFiresOnItsViolation) {
  const Planted cases[] = {
      {"offset", [](size_t, Chunk* c) { if (c->offset == 10) c->offset = 11; }, "offset: expected 10"},
      {"total size", [](size_t, Chunk* c) { c->total_size_bytes += 1; }, "total size: expected 25"},
      {"longer than asked",
       [](size_t, Chunk* c) {
         c->data += "x";
         c->crc32c = crc32c::Value(c->data);
       },
       "longer than the 10 bytes"},
      {"empty",
       [](size_t, Chunk* c) {
         c->data.clear();
         c->crc32c = crc32c::Value(c->data);
       },
       "expected 1..25 bytes, found 0"},
      {"chunk crc", [](size_t, Chunk* c) { c->crc32c ^= 1; }, "crc mismatch (sent"},
  };
  for (const Planted& p : cases) {
    SCOPED_TRACE(p.name);
    FakeSource source(Items());
    source.tamper_ = p.tamper;
    VerifyingFetcher f(&source, source.Plan(), Options());
    std::string out;
    StringSink sink(&out);
    absl::Status s = f.FetchItem(0, &sink);
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find("test copy: item0: chunk at offset"), std::string::npos) << s;
    EXPECT_NE(s.message().find(p.expect), std::string::npos) << s;
    // The fetcher is done: later calls repeat the error.
    StringSink again(&out);
    EXPECT_EQ(f.FetchItem(1, &again).code(), absl::StatusCode::kDataLoss);
  }
}

TEST(VerifyingFetcherTest, PastTheEndIsRefused) {
  FakeSource source({std::string(15, 'z')});
  // The last chunk claims 10 bytes where 5 remain.
  source.tamper_ = [](size_t, Chunk* c) {
    if (c->offset == 10) {
      c->data = std::string(10, 'z');
      c->crc32c = crc32c::Value(c->data);
    }
  };
  VerifyingFetcher f(&source, source.Plan(), Options());
  std::string out;
  StringSink sink(&out);
  absl::Status s = f.FetchItem(0, &sink);
  ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("expected 1..5 bytes, found 10"), std::string::npos) << s;
}

TEST(VerifyingFetcherTest, WholeItemCrcFiresWhenEveryChunkLooksRight) {
  FakeSource source(Items());
  std::vector<ItemSpec> plan = source.Plan();
  *plan[0].crc32c ^= 1;  // the source announced a different whole
  VerifyingFetcher f(&source, plan, Options());
  std::string out;
  StringSink sink(&out);
  absl::Status s = f.FetchItem(0, &sink);
  ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("whole-item crc mismatch"), std::string::npos) << s;
}

TEST(VerifyingFetcherTest, WithoutAnAnnouncedCrcOnlyChunksAreChecked) {
  FakeSource source(Items());
  VerifyingFetcher f(&source, source.Plan(/*with_crc=*/false), Options());
  std::string out;
  StringSink sink(&out);
  EXPECT_TRUE(f.FetchItem(0, &sink).ok());
}

TEST(VerifyingFetcherTest, TransportErrorsAreReturnedWithTheCopyNamed) {
  FakeSource source(Items());
  source.fail_at_call_ = 2;
  VerifyingFetcher f(&source, source.Plan(), Options());
  std::string out;
  StringSink sink(&out);
  absl::Status s = f.FetchItem(0, &sink);
  ASSERT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("test copy"), std::string::npos) << s;
}

TEST(VerifyingFetcherTest, MutateHookCorruptsInTransit) {
  FakeSource source(Items());
  FetcherOptions o = Options();
  o.test_mutate_chunk = [](size_t item, std::string* d) {
    if (item == 2) (*d)[0] ^= 1;
  };
  VerifyingFetcher f(&source, source.Plan(), o);
  std::string out;
  StringSink sink(&out);
  ASSERT_TRUE(f.FetchItem(0, &sink).ok());
  ASSERT_TRUE(f.FetchItem(1, &sink).ok());
  absl::Status s = f.FetchItem(2, &sink);
  ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("item2"), std::string::npos) << s;
}

TEST(VerifyingFetcherTest, SimulatedCrashIsTypedAndStopsBeforeTheNthChunk) {
  FakeSource source(Items());
  FetcherOptions o = Options();
  o.test_crash_after_chunks = 2;
  VerifyingFetcher f(&source, source.Plan(), o);
  std::string out;
  StringSink sink(&out);
  absl::Status s = f.FetchItem(0, &sink);
  EXPECT_TRUE(rpc::IsSimulatedCrash(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_EQ(out.size(), 20u);
}

TEST(VerifyingFetcherTest, ResumedItemStartsAtItsOffsetAndStillChecksTheWhole) {
  FakeSource source(Items());
  std::vector<ItemSpec> plan = source.Plan();
  plan[0].start_offset = 20;
  plan[0].start_crc32c = crc32c::Value(source.items_[0].substr(0, 20));
  std::vector<uint64_t> offsets;
  source.tamper_ = [&](size_t, Chunk* c) { offsets.push_back(c->offset); };
  {
    VerifyingFetcher f(&source, plan, Options());
    std::string out;
    StringSink sink(&out);
    ASSERT_TRUE(f.FetchItem(0, &sink).ok());
    EXPECT_EQ(out, std::string(5, 'a'));
  }
  EXPECT_EQ(offsets.front(), 20u);
  // A wrong prefix CRC (the held bytes are not the source's) fails the whole.
  plan[0].start_crc32c ^= 1;
  VerifyingFetcher f(&source, plan, Options());
  std::string out;
  StringSink sink(&out);
  EXPECT_EQ(f.FetchItem(0, &sink).code(), absl::StatusCode::kDataLoss);
}

// The fetcher asks ahead of the consumer, at most `depth` chunks.
TEST(VerifyingFetcherTest, FetchesAheadUpToDepth) {
  FakeSource source({std::string(100, 'q')});
  FetcherOptions o = Options();
  o.depth = 3;
  VerifyingFetcher f(&source, source.Plan(), o);
  // Nothing consumed: the thread fills the queue and waits.
  for (int i = 0; i < 200 && source.calls_.load() < 3; ++i) absl::SleepFor(absl::Milliseconds(5));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(source.calls_.load(), 3);
}

TEST(VerifyingFetcherTest, DestroyingMidPlanStopsTheThread) {
  FakeSource source({std::string(1000, 'q'), std::string(1000, 'r')});
  { VerifyingFetcher f(&source, source.Plan(), Options()); }
  EXPECT_LT(source.calls_.load(), 10);
}

}  // namespace
}  // namespace kmend::copy
