// SessionTable: idle expiry on an injected clock, the limit, the reaper.
#include "lib/copy/session_table.h"

#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace kmend::copy {
namespace {

struct FakeSession {
  explicit FakeSession(std::atomic<int>* alive) : alive(alive) { ++*alive; }
  ~FakeSession() { --*alive; }
  std::atomic<int>* alive;
};

TEST(SessionTableTest, IdleSessionsExpireAndUseKeepsThemAlive) {
  absl::Time now = absl::FromUnixSeconds(1000);
  SessionTableOptions o;
  o.idle_timeout = absl::Seconds(30);
  o.clock = [&now] { return now; };
  SessionTable<FakeSession> table(o);
  std::atomic<int> alive{0};
  ASSERT_TRUE(table.Add("a", std::make_shared<FakeSession>(&alive), "t").ok());
  ASSERT_TRUE(table.Add("b", std::make_shared<FakeSession>(&alive), "t").ok());
  now += absl::Seconds(20);
  ASSERT_NE(table.Find("a"), nullptr);  // used: its idle time restarts
  now += absl::Seconds(20);
  EXPECT_EQ(table.ExpireIdle(), 1);
  EXPECT_EQ(table.Find("b"), nullptr);
  EXPECT_EQ(alive.load(), 1);  // b's last reference went
  EXPECT_EQ(table.size(), 1);
  EXPECT_NE(table.Remove("a"), nullptr);
  EXPECT_EQ(table.Remove("a"), nullptr);
  EXPECT_EQ(alive.load(), 0);
}

TEST(SessionTableTest, MoreThanTheLimitIsUnavailable) {
  SessionTableOptions o;
  o.max_sessions = 1;
  SessionTable<int> table(o);
  ASSERT_TRUE(table.CheckRoom("t").ok());
  ASSERT_TRUE(table.Add("a", std::make_shared<int>(1), "t").ok());
  EXPECT_EQ(table.CheckRoom("t").code(), absl::StatusCode::kUnavailable);
  absl::Status s = table.Add("b", std::make_shared<int>(2), "tablet copy");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("tablet copy: 1 sessions open (the limit)"), std::string::npos) << s;
}

TEST(SessionTableTest, ReaperExpiresByItself) {
  std::atomic<int64_t> now_s{1000};
  SessionTableOptions o;
  o.idle_timeout = absl::Seconds(30);
  o.clock = [&now_s] { return absl::FromUnixSeconds(now_s.load()); };
  o.reaper_interval = absl::Milliseconds(1);
  SessionTable<int> table(o);
  ASSERT_TRUE(table.Add("a", std::make_shared<int>(1), "t").ok());
  now_s += 31;
  for (int i = 0; i < 2000 && table.size() > 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(table.size(), 0);
}

}  // namespace
}  // namespace kmend::copy
