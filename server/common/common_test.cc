#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/grpc_util.h"

namespace kmend::server {
namespace {

TEST(GrpcUtilTest, StatusRoundTripKeepsCodeAndMessage) {
  absl::Status s = absl::NotFoundError("tablet abc");
  absl::Status back = FromGrpcStatus(ToGrpcStatus(s), "ctx");
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(back.message(), "ctx: tablet abc");
  EXPECT_TRUE(FromGrpcStatus(ToGrpcStatus(absl::OkStatus())).ok());
}

}  // namespace
}  // namespace kmend::server
