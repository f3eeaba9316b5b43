// The plan file: what plan writes, apply and verify read back unchanged; a
// damaged file is refused naming the field.
#include "lib/recover/plan_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/recover/planner.h"
#include "lib/recover/snapshot_builder.h"

namespace kmend::recover {
namespace {

using ::testing::HasSubstr;
using testing::SnapshotBuilder;

RecoveryPlan SomePlan() {
  SnapshotBuilder b(5, 5, 3);
  b.Kill(0).Kill(1);
  b.Replica(2, 0).last_logged = {3, 17};
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  plan.created_at = "2026-12-05T07:00:00Z";
  plan.unrecoverable.push_back({"x", "t", "gone"});
  return plan;
}

TEST(PlanJsonTest, RoundTrips) {
  const RecoveryPlan plan = SomePlan();
  const nlohmann::json doc = PlanToJson(plan);
  EXPECT_EQ(doc["schema"], "kmend.recover.plan/1");
  absl::StatusOr<RecoveryPlan> back = PlanFromJson(doc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(PlanToJson(*back), doc);
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[0].survivor_last_logged.term, 3);
  EXPECT_EQ(back->entries[0].fingerprint.replicas[0].last_logged.index, 17);
}

TEST(PlanJsonTest, AMissingFieldIsNamedByItsPath) {
  nlohmann::json doc = PlanToJson(SomePlan());
  doc["entries"][1]["fingerprint"]["replicas"][0]["last_logged"].erase("term");
  absl::StatusOr<RecoveryPlan> back = PlanFromJson(doc);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().message(), "entries[1].fingerprint.replicas[0].last_logged.term: missing");
}

TEST(PlanJsonTest, AMistypedFieldIsNamedByItsPath) {
  nlohmann::json doc = PlanToJson(SomePlan());
  doc["entries"][0]["forced_term_floor"] = "3";
  absl::StatusOr<RecoveryPlan> back = PlanFromJson(doc);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().message(), "entries[0].forced_term_floor: expected an integer");
}

TEST(PlanJsonTest, AnotherSchemaIsRefused) {
  nlohmann::json doc = PlanToJson(SomePlan());
  doc["schema"] = "kmend.ksck/1";
  absl::StatusOr<RecoveryPlan> back = PlanFromJson(doc);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(std::string(back.status().message()), HasSubstr("is not a recovery plan"));
}

TEST(PlanJsonTest, AnEntryThatDropsItsSurvivorIsRefused) {
  nlohmann::json doc = PlanToJson(SomePlan());
  doc["entries"][0]["new_voters"] = nlohmann::json::array({"s9"});
  absl::StatusOr<RecoveryPlan> back = PlanFromJson(doc);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(std::string(back.status().message()), HasSubstr("must include the survivor"));
}

}  // namespace
}  // namespace kmend::recover
