// The checker on hand-made histories: each anomaly it promises to find is
// found, and a clean history passes.
#include "testing/nemesis/checker.h"

#include "gtest/gtest.h"

namespace kmend::nemesis {
namespace {

WriteRecord W(int64_t key, std::string v, Outcome o, int64_t s, int64_t e, bool upsert = true) {
  WriteRecord w;
  w.key = key;
  w.value = std::move(v);
  w.outcome = o;
  w.start_us = s;
  w.end_us = e;
  w.upsert = upsert;
  return w;
}

ReadRecord R(int64_t key, bool found, std::string v, int64_t s, int64_t e) {
  ReadRecord r;
  r.key = key;
  r.found = found;
  r.value = std::move(v);
  r.start_us = s;
  r.end_us = e;
  return r;
}

TEST(CheckerTest, CleanHistoryPasses) {
  std::vector<WriteRecord> w = {W(1, "a", Outcome::kAcked, 0, 10),
                                W(1, "b", Outcome::kUnknown, 20, 30),
                                W(2, "c", Outcome::kUnknown, 0, 10, false)};
  // Concurrent with "b": either value is fine.
  std::vector<ReadRecord> r = {R(1, true, "a", 25, 26), R(1, true, "b", 28, 40)};
  CheckResult c = Check(w, r, {{1, "b"}}, {{"t", 2, 5, "u1"}, {"t", 3, 6, "u2"}});
  EXPECT_TRUE(c.ok()) << c.anomalies[0];
  EXPECT_EQ(c.acked_writes, 1);
  EXPECT_EQ(c.unknown_writes, 2);
}

TEST(CheckerTest, LostAckedWrite) {
  std::vector<WriteRecord> w = {W(1, "a", Outcome::kAcked, 0, 10, false)};
  CheckResult c = Check(w, {}, {}, {});
  ASSERT_EQ(c.anomalies.size(), 1u);
  EXPECT_NE(c.anomalies[0].find("lost write: key 1"), std::string::npos);
}

TEST(CheckerTest, LostOverwrite) {
  std::vector<WriteRecord> w = {W(1, "a", Outcome::kAcked, 0, 10),
                                W(1, "b", Outcome::kAcked, 20, 30)};
  CheckResult c = Check(w, {}, {{1, "a"}}, {});
  ASSERT_EQ(c.anomalies.size(), 1u);
  EXPECT_NE(c.anomalies[0].find("lost write"), std::string::npos);
}

TEST(CheckerTest, PhantomValues) {
  std::vector<WriteRecord> w = {W(1, "a", Outcome::kRejected, 0, 10)};
  EXPECT_EQ(Check(w, {}, {{1, "a"}}, {}).anomalies.size(), 1u);
  EXPECT_EQ(Check(w, {}, {{1, "zz"}}, {}).anomalies.size(), 1u);
  EXPECT_EQ(Check({}, {}, {{7, "x"}}, {}).anomalies.size(), 1u);
  EXPECT_EQ(Check(w, {R(1, true, "q", 0, 1)}, {}, {}).anomalies.size(), 1u);
}

TEST(CheckerTest, StaleReads) {
  std::vector<WriteRecord> w = {W(1, "a", Outcome::kAcked, 0, 10),
                                W(1, "b", Outcome::kAcked, 20, 30)};
  CheckResult c = Check(w, {R(1, true, "a", 31, 35)}, {{1, "b"}}, {});
  ASSERT_EQ(c.anomalies.size(), 1u);
  EXPECT_NE(c.anomalies[0].find("stale read"), std::string::npos);
  // Overlapping the second write: not stale.
  EXPECT_TRUE(Check(w, {R(1, true, "a", 25, 35)}, {{1, "b"}}, {}).ok());
  // Absent after an acknowledged insert.
  EXPECT_EQ(Check(w, {R(1, false, "", 40, 41)}, {{1, "b"}}, {}).anomalies.size(), 1u);
}

TEST(CheckerTest, TwoLeadersInOneTerm) {
  CheckResult c = Check({}, {}, {}, {{"t", 4, 10, "u1"}, {"t", 4, 11, "u2"}});
  ASSERT_EQ(c.anomalies.size(), 1u);
  EXPECT_NE(c.anomalies[0].find("split brain: tablet t term 4"), std::string::npos);
  c = Check({}, {}, {}, {{"t", 4, 10, "u1"}, {"t", 5, 10, "u2"}});
  ASSERT_EQ(c.anomalies.size(), 1u);
  EXPECT_NE(c.anomalies[0].find("index 10"), std::string::npos);
}

TEST(CheckerTest, ParsesAckLogs) {
  int bad = 0;
  auto acks = ParseAckLog("t1 3 17 uuid-a\nt1 3 18 uuid-a\ntorn li", &bad);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(acks[1].index, 18);
  EXPECT_EQ(acks[1].leader_uuid, "uuid-a");
}

}  // namespace
}  // namespace kmend::nemesis
