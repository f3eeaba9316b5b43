#include "lib/rpc/grpc_util.h"

#include "gtest/gtest.h"
#include "lib/rpc/status_payloads.h"

namespace kmend::rpc {
namespace {

TEST(StatusPayloadsTest, LeaderHintCrossesTheGrpcEdge) {
  absl::Status s = absl::FailedPreconditionError("Write to tablet t: this replica is not the leader");
  SetLeaderHint(&s, "uuid-of-leader");
  grpc::Status wire = ToGrpcStatus(s);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(wire.error_message(), s.message());
  absl::Status back = FromGrpcStatus(wire, "127.0.0.1:1: Write");
  EXPECT_TRUE(absl::IsFailedPrecondition(back));
  ASSERT_TRUE(LeaderHint(back).has_value());
  EXPECT_EQ(*LeaderHint(back), "uuid-of-leader");
  EXPECT_FALSE(IsSimulatedCrash(back));
  EXPECT_FALSE(LeaderHint(FromGrpcStatus(ToGrpcStatus(absl::UnavailableError("x")))).has_value());
}

TEST(StatusPayloadsTest, SimulatedCrashIsTypedNotMatchedByText) {
  absl::Status crash = SimulatedCrashError("copy: stopped after 3 chunks");
  EXPECT_TRUE(IsSimulatedCrash(crash));
  EXPECT_TRUE(IsSimulatedCrash(FromGrpcStatus(ToGrpcStatus(crash))));
  EXPECT_FALSE(IsSimulatedCrash(absl::AbortedError("simulated crash")));
}

TEST(StatusPayloadsTest, ForeignErrorDetailsAreIgnored) {
  grpc::Status wire(grpc::StatusCode::UNAVAILABLE, "down", "\xff\xff not a proto");
  absl::Status s = FromGrpcStatus(wire);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_FALSE(LeaderHint(s).has_value());
}

}  // namespace
}  // namespace kmend::rpc
