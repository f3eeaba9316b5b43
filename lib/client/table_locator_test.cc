// The per-attempt timeout of TableLocator::CallLeader (the retry loop itself
// runs against real processes: testing/cluster/client_failover_test).
#include "lib/client/table_locator.h"

#include "gtest/gtest.h"

namespace kmend::client {
namespace {

TEST(AttemptTimeoutTest, IsAQuarterOfTheBudgetWithinBounds) {
  EXPECT_EQ(AttemptTimeout(absl::Seconds(8), absl::Seconds(30)), absl::Seconds(2));
  // Never the whole of a long deadline: a stopped leader costs one attempt.
  EXPECT_EQ(AttemptTimeout(absl::Seconds(60), absl::Seconds(30)), kAttemptTimeoutMax);
  // A short deadline still gives a healthy but loaded leader time to answer.
  EXPECT_EQ(AttemptTimeout(absl::Seconds(2), absl::Seconds(30)), kAttemptTimeoutMin);
}

TEST(AttemptTimeoutTest, NeverExceedsTheLocatorsRpcTimeout) {
  EXPECT_EQ(AttemptTimeout(absl::Seconds(8), absl::Milliseconds(300)), absl::Milliseconds(300));
}

}  // namespace
}  // namespace kmend::client
