#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "server/common/grpc_util.h"

namespace kmend::server {
namespace {

std::string MakeTempDir() {
  std::string tmpl = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                     "/common_test.XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

TEST(GrpcUtilTest, StatusRoundTripKeepsCodeAndMessage) {
  absl::Status s = absl::NotFoundError("tablet abc");
  absl::Status back = FromGrpcStatus(ToGrpcStatus(s), "ctx");
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(back.message(), "ctx: tablet abc");
  EXPECT_TRUE(FromGrpcStatus(ToGrpcStatus(absl::OkStatus())).ok());
}

}  // namespace
}  // namespace kmend::server
