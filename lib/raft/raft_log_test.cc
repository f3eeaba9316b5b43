// MemoryLogStorage, RaftLog (stable + unstable parts) and config helpers.
#include "lib/raft/raft_log.h"

#include <vector>

#include "gtest/gtest.h"
#include "lib/raft/config.h"
#include "lib/raft/log_storage.h"

namespace kmend::raft {
namespace {

consensus::ReplicateMsg Entry(int64_t term, int64_t index) {
  consensus::ReplicateMsg e;
  e.mutable_id()->set_term(term);
  e.mutable_id()->set_index(index);
  e.set_timestamp(0);
  e.set_op_type(consensus::NO_OP);
  return e;
}

TEST(MemoryLogStorageTest, RangesAndErrors) {
  MemoryLogStorage s;
  EXPECT_EQ(s.FirstIndex(), 1);
  EXPECT_EQ(s.LastIndex(), 0);
  EXPECT_EQ(*s.Term(0), 0);
  ASSERT_TRUE(s.Append({Entry(1, 1), Entry(1, 2), Entry(2, 3)}).ok());
  EXPECT_EQ(s.Append({Entry(2, 5)}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*s.Term(3), 2);
  EXPECT_EQ(s.Term(4).status().code(), absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(s.CompactThrough(2).ok());
  EXPECT_EQ(s.FirstIndex(), 3);
  EXPECT_EQ(*s.Term(2), 1);  // the base keeps its term
  EXPECT_EQ(s.Term(1).status().code(), absl::StatusCode::kNotFound);
  std::vector<consensus::ReplicateMsg> out;
  EXPECT_EQ(s.Entries(2, 4, 100, &out).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.TruncateAfter(1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(s.TruncateAfter(2).ok());
  EXPECT_EQ(s.LastIndex(), 2);
  consensus::OpId base;
  base.set_term(7);
  base.set_index(100);
  MemoryLogStorage copied(base);
  EXPECT_EQ(copied.FirstIndex(), 101);
  EXPECT_EQ(*copied.Term(100), 7);
}

TEST(RaftLogTest, UnstableSuffixStableToAndPendingTruncation) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append({Entry(1, 1), Entry(1, 2), Entry(1, 3)}).ok());
  RaftLog log(&s);
  EXPECT_EQ(log.LastIndex(), 3);
  EXPECT_EQ(log.offset(), 4);
  // A conflict at 2 replaces persisted entries 2..3.
  int64_t replaced = -1;
  auto last = log.MaybeAppend(1, 1, {Entry(2, 2)}, &replaced);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 2);
  EXPECT_EQ(replaced, 2);
  EXPECT_EQ(log.LastIndex(), 2);
  EXPECT_EQ(log.TermOrZero(2), 2);
  EXPECT_EQ(log.TermOrZero(3), 0);  // obsolete in storage, gone for the core
  ASSERT_TRUE(log.PendingTruncation().has_value());
  EXPECT_EQ(*log.PendingTruncation(), 1);
  EXPECT_EQ(log.StableLastIndex(), 1);
  // The driver persists.
  ASSERT_TRUE(s.TruncateAfter(1).ok());
  ASSERT_TRUE(s.Append(log.unstable()).ok());
  log.StableTo(2, 2);
  EXPECT_TRUE(log.unstable().empty());
  EXPECT_FALSE(log.PendingTruncation().has_value());
  EXPECT_EQ(log.StableLastIndex(), 2);
  // A stale StableTo (term mismatch) is ignored.
  log.Append({Entry(3, 3)});
  log.StableTo(3, 2);
  EXPECT_EQ(log.unstable().size(), 1u);
  // Mismatched prev: no append.
  EXPECT_FALSE(log.MaybeAppend(3, 9, {Entry(9, 4)}, &replaced).has_value());
}

TEST(RaftLogTest, FindConflictByTermAndUpToDate) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append({Entry(1, 1), Entry(1, 2), Entry(3, 3), Entry(3, 4), Entry(5, 5)}).ok());
  RaftLog log(&s);
  EXPECT_EQ(log.FindConflictByTerm(5, 4), 4);
  EXPECT_EQ(log.FindConflictByTerm(5, 2), 2);
  EXPECT_EQ(log.FindConflictByTerm(9, 5), 5);
  EXPECT_EQ(log.FindConflictByTerm(2, 0), 0);
  EXPECT_TRUE(log.IsUpToDate(5, 5));
  EXPECT_TRUE(log.IsUpToDate(1, 6));
  EXPECT_FALSE(log.IsUpToDate(9, 4));
  EXPECT_FALSE(log.IsUpToDate(4, 5));
}

TEST(ConfigTest, ValidateAndApplyChange) {
  consensus::RaftConfigPB c;
  EXPECT_FALSE(ValidateConfig(c).ok());  // no voter
  auto* p = c.add_peers();
  p->set_permanent_uuid("A");
  p->set_member_type(consensus::RaftPeerPB::VOTER);
  EXPECT_TRUE(ValidateConfig(c).ok());
  auto* dup = c.add_peers();
  *dup = *p;
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c.mutable_peers()->RemoveLast();
  ConfigChange ch;
  ch.type = ChangeType::kAddNonVoter;
  ch.uuid = "B";
  auto next = ApplyChange(c, ch);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(IsMember(*next, "B"));
  EXPECT_FALSE(IsVoter(*next, "B"));
  EXPECT_EQ(VoterCount(*next), 1);
  ch.type = ChangeType::kPromote;
  next = ApplyChange(*next, ch);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(IsVoter(*next, "B"));
  EXPECT_EQ(MajoritySize(VoterCount(*next)), 2);
  ch.type = ChangeType::kRemovePeer;
  ch.uuid = "A";
  next = ApplyChange(*next, ch);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(ConfigSummary(*next), "B:V@-1");
  ch.uuid = "B";  // would leave no voter
  EXPECT_EQ(ApplyChange(*next, ch).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MajoritySize(1), 1);
  EXPECT_EQ(MajoritySize(4), 3);
  EXPECT_EQ(MajoritySize(5), 3);
}

}  // namespace
}  // namespace kmend::raft
