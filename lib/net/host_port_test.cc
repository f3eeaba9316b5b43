#include "lib/net/host_port.h"

#include "gtest/gtest.h"

namespace kmend::net {
namespace {

TEST(HostPortTest, ParsesAndFormatsBothWays) {
  auto v4 = ParseHostPort("127.0.0.1:7051");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host(), "127.0.0.1");
  EXPECT_EQ(v4->port(), 7051u);
  EXPECT_EQ(HostPortToString(*v4), "127.0.0.1:7051");
  auto v6 = ParseHostPort("[::1]:7050");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host(), "::1");  // brackets are syntax, not part of the host
  EXPECT_EQ(HostPortToString(*v6), "[::1]:7050");
  auto zero = ParseHostPort("[::1]:0");
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(HostPortToString(*zero), "[::1]:0");
  auto name = ParseHostPort("ts-1.example:0");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->port(), 0u);
}

TEST(HostPortTest, RejectsMalformedText) {
  for (const char* bad : {"", "host", ":1", ":80", "h:", "h:x", "h:8x", "h:-1", "h:70000", "[::1]",
                          "[::1]7050", "[::1]80", "[::1:1"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HostPortTest, ParsesLists) {
  auto list = ParseHostPorts(" a:1, [::1]:2 ,b:3");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].host(), "::1");
  EXPECT_EQ((*list)[2].host(), "b");
  EXPECT_FALSE(ParseHostPorts(" , ").ok());
  EXPECT_FALSE(ParseHostPorts("a:1,b").ok());
}

}  // namespace
}  // namespace kmend::net
