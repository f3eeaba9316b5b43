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

TEST(GrpcUtilTest, ParsesHostPorts) {
  auto hp = ParseHostPort("127.0.0.1:7051");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host(), "127.0.0.1");
  EXPECT_EQ(hp->port(), 7051u);
  EXPECT_EQ(HostPortToString(*hp), "127.0.0.1:7051");

  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host(), "::1");
  EXPECT_EQ(HostPortToString(*v6), "[::1]:0");

  for (const char* bad : {"", "host", ":80", "h:", "h:70000", "h:-1", "[::1]80", "h:8x"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto list = ParseHostPorts("a:1, b:2");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].host(), "b");
  EXPECT_FALSE(ParseHostPorts(" , ").ok());
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
