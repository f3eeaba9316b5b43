#include "lib/tls/cert_dir.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/tls/cert_gen.h"

namespace kmend::tls {
namespace {

using ::testing::HasSubstr;

std::string FreshDir() {
  std::string tmpl = std::string(::testing::TempDir()) + "/certsXXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl + "/certs";
}

TEST(CertDirTest, WritesCaServersAndUsersWithPrivateKeys) {
  CertDirOptions o;
  o.dir = FreshDir();
  o.hosts = {"127.0.0.1", "db1.example.com"};
  o.users = {"admin", "reader"};
  auto written = InitCertDir(o);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size(), 10u);
  for (const char* name : {"ca.crt", "server-127.0.0.1.crt", "server-db1.example.com.key",
                           "user-admin.crt", "user-reader.key"}) {
    EXPECT_TRUE(io::FileExists(io::JoinPath(o.dir, name))) << name;
  }
  struct stat st;
  ASSERT_EQ(::stat(io::JoinPath(o.dir, "user-admin.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << "key readable by others";
  auto cn = CommonNameOf(*io::ReadFileToString(io::JoinPath(o.dir, "user-reader.crt")));
  ASSERT_TRUE(cn.ok()) << cn.status();
  EXPECT_EQ(*cn, "reader");
  cn = CommonNameOf(*io::ReadFileToString(io::JoinPath(o.dir, "server-127.0.0.1.crt")));
  EXPECT_EQ(*cn, kServiceCommonName);
}

TEST(CertDirTest, NeverOverwritesAndRefusesPathNames) {
  CertDirOptions o;
  o.dir = FreshDir();
  o.hosts = {"127.0.0.1"};
  ASSERT_TRUE(InitCertDir(o).ok());
  const std::string before = *io::ReadFileToString(io::JoinPath(o.dir, "ca.crt"));
  auto again = InitCertDir(o);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*io::ReadFileToString(io::JoinPath(o.dir, "ca.crt")), before);
  o.dir = FreshDir();
  o.users = {"../evil"};
  EXPECT_THAT(InitCertDir(o).status().message(), HasSubstr("contains '/'"));
  o.users = {};
  o.hosts = {};
  EXPECT_EQ(InitCertDir(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kmend::tls
