#include "lib/rebuild/progress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/rebuild/render.h"

namespace kmend::rebuild {
namespace {

using ::testing::HasSubstr;

server::TabletCopyProgressPB Copy(server::TabletCopyProgressPB::State state) {
  server::TabletCopyProgressPB p;
  p.set_state(state);
  return p;
}

check::ReplicaFacts Replica(check::DataState state, check::Role role, int64_t committed) {
  check::ReplicaFacts r;
  r.data_state = state;
  r.role = role;
  r.last_committed = {2, committed};
  return r;
}

Sample Reachable() {
  Sample s;
  s.target_reachable = true;
  return s;
}

TEST(ProgressTest, ARunningCopyIsCopying) {
  Sample s = Reachable();
  s.copy = Copy(server::TabletCopyProgressPB::RUNNING);
  EXPECT_EQ(Judge(s).phase, Phase::kCopying);
}

TEST(ProgressTest, AFailedCopyIsFailedWithTheServersError) {
  Sample s = Reachable();
  s.copy = Copy(server::TabletCopyProgressPB::FAILED);
  s.copy->set_error("source went away");
  Verdict v = Judge(s);
  EXPECT_EQ(v.phase, Phase::kFailed);
  EXPECT_THAT(v.detail, HasSubstr("source went away"));
}

TEST(ProgressTest, DoneIsOnlyWhenRunningAndCommittedAsFarAsTheLeader) {
  Sample s = Reachable();
  s.copy = Copy(server::TabletCopyProgressPB::DONE);
  EXPECT_EQ(Judge(s).phase, Phase::kCatchingUp);  // no replica reported yet
  s.target = Replica(check::DataState::kReady, check::Role::kUnknown, 0);
  EXPECT_EQ(Judge(s).phase, Phase::kCatchingUp);  // not started
  s.target = Replica(check::DataState::kReady, check::Role::kFollower, 40);
  EXPECT_EQ(Judge(s).phase, Phase::kCatchingUp);  // no leader known
  s.leader_committed = check::OpId{2, 50};
  Verdict v = Judge(s);
  EXPECT_EQ(v.phase, Phase::kCatchingUp);
  EXPECT_EQ(v.ops_behind, 10);
  s.target->last_committed = {2, 50};
  EXPECT_EQ(Judge(s).phase, Phase::kDone);
}

TEST(ProgressTest, ACopiedReplicaThatTurnsFailedIsFailed) {
  Sample s = Reachable();
  s.copy = Copy(server::TabletCopyProgressPB::DONE);
  s.target = Replica(check::DataState::kFailed, check::Role::kUnknown, 0);
  EXPECT_EQ(Judge(s).phase, Phase::kFailed);
}

TEST(ProgressTest, AnUnreachableTargetKeepsThePhase) {
  Sample s;
  s.target_error = "connection refused";
  Verdict v = Judge(s);
  EXPECT_EQ(v.phase, Phase::kCopying);
  EXPECT_THAT(v.detail, HasSubstr("connection refused"));
}

TEST(ProgressTest, ATargetThatRestartedWithoutAReplicaIsFailed) {
  Sample s = Reachable();
  s.target = Replica(check::DataState::kTombstoned, check::Role::kUnknown, 0);
  Verdict v = Judge(s);
  EXPECT_EQ(v.phase, Phase::kFailed);
  EXPECT_THAT(v.detail, HasSubstr("restarted"));
}

TEST(ProgressTest, RateAndEtaComeFromTheWindow) {
  RateTracker r(/*window_seconds=*/2);
  EXPECT_EQ(r.BytesPerSecond(), 0);
  EXPECT_FALSE(r.EtaSeconds(100).has_value());
  r.Add(0, 0);
  r.Add(1, 100);
  EXPECT_DOUBLE_EQ(r.BytesPerSecond(), 100);
  EXPECT_DOUBLE_EQ(*r.EtaSeconds(1000), 9);
  r.Add(2, 300);
  r.Add(4, 700);  // the samples older than 2 s drop out: 400 B over 2 s
  EXPECT_DOUBLE_EQ(r.BytesPerSecond(), 200);
}

TEST(ProgressTest, LinesAndJsonNameTheNumbers) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(3 << 20), "3.0 MiB");
  EXPECT_EQ(ProgressLine(1 << 20, 4 << 20, 1 << 20, 3.0),
            "copying 1.0 MiB / 4.0 MiB (25%), 1.0 MiB/s, ETA 3 s");
  ProgressEvent e;
  e.bytes_done = 5;
  e.bytes_total = 10;
  e.eta_seconds = 1.5;
  nlohmann::json j = ProgressJson("t", e);
  EXPECT_EQ(j["schema"], kSchema);
  EXPECT_EQ(j["event"], "progress");
  EXPECT_EQ(j["phase"], "copying");
  EXPECT_EQ(j["bytes_done"], 5);
  EXPECT_EQ(j["eta_seconds"], 1.5);
}

}  // namespace
}  // namespace kmend::rebuild
