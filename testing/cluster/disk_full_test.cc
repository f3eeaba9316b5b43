// A full disk, with real processes (issue 19): one tablet server whose data
// directory is a small tmpfs the test mounts, a table of one replica (its
// only copy, the case where a full disk hurts most), and incompressible rows
// written until the disk is full. Then:
//   - writes are refused with the typed error (RESOURCE_EXHAUSTED, "disk full
//     on DIR: N bytes free, R reserved") and nothing acknowledged is lost;
//   - reads go on;
//   - ksck is not HEALTHY and its JSON says why (server DISK_FULL, tablet
//     UNAVAILABLE because its leader refuses writes), and the master, told by
//     the next heartbeat, places no new replica there;
//   - once space is freed (a ballast file deleted, as an operator would),
//     writes are accepted again without a restart, within 5 s (the figure is
//     printed as DISK_FULL_FIGURE), and every acknowledged row is there.
//
// Needs root (mount); fails with a clear message without it, never skips.
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/rpc/grpc_util.h"
#include "lib/tablet/test_spec.h"
#include "nlohmann/json.hpp"
#include "proto/master.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int64_t kTmpfsBytes = 48 << 20;
constexpr int64_t kReserveBytes = 6 << 20;
constexpr int64_t kBallastBytes = 12 << 20;
constexpr int kValueBytes = 4096;
constexpr int kRowsPerWrite = 32;  // 128 KiB of values per request

// A tmpfs mounted on `dir` for the test's lifetime. Unmounted lazily
// (MNT_DETACH) so that it goes even while the server still holds files open;
// the kernel frees it once they are closed.
class TmpfsMount {
 public:
  absl::Status Mount(const std::string& dir, int64_t bytes) {
    if (absl::Status s = io::CreateDirs(dir); !s.ok()) return s;
    const std::string opts = absl::StrCat("size=", bytes, ",mode=0755");
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("mount -t tmpfs on ", dir, ": ", strerror(errno),
                       " (this test needs root, as CI runs it)"));
    }
    dir_ = dir;
    return absl::OkStatus();
  }
  ~TmpfsMount() {
    if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }

 private:
  std::string dir_;
};

// ~4 KiB that zstd cannot shrink, different for every key.
std::string BigValue(int key) {
  std::string v;
  for (int j = 0; v.size() < kValueBytes; ++j) {
    v += tablet::IncompressibleTestValue(int64_t{key} * 64 + j);
  }
  v.resize(kValueBytes);
  return v;
}

absl::StatusOr<int64_t> CountRows(tserver::TabletServerService::Stub* stub,
                                  const std::string& tablet) {
  tserver::ScanRequestPB req;
  req.set_tablet_id(tablet);
  req.set_count_only(true);
  tserver::ScanResponsePB resp;
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, seconds(10));
  absl::Status s = rpc::FromGrpcStatus(stub->Scan(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp.row_count();
}

absl::Status WriteBallast(const std::string& path, int64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::string chunk(1 << 20, 'x');  // tmpfs does not compress: any bytes do
  for (int64_t n = 0; n < bytes; n += static_cast<int64_t>(chunk.size())) out << chunk;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("writing ballast ", path));
  return absl::OkStatus();
}

TEST(DiskFullTest, WritesAreRefusedHonestlyAndResumeOnceSpaceIsFreed) {
  ClusterOptions opt;
  opt.num_tservers = 1;
  opt.extra_tserver_flags = {absl::StrCat("--fs_reserved_bytes=", kReserveBytes),
                             "--wal_segment_size_bytes=1048576",
                             "--maintenance_interval_ms=200"};
  ExternalCluster cluster(opt);
  // The tablet server's data directory (ServerProcess uses <dir>/data).
  const std::string data_dir = cluster.base_dir() + "/ts0/data";
  TmpfsMount tmpfs;  // after the cluster: unmounted before the cluster dies
  absl::Status mounted = tmpfs.Mount(data_dir, kTmpfsBytes);
  ASSERT_TRUE(mounted.ok()) << mounted;
  ASSERT_TRUE(cluster.Start().ok());
  const std::string ballast = data_dir + "/ballast";
  ASSERT_TRUE(WriteBallast(ballast, kBallastBytes).ok());

  auto tablets = CreateTable(cluster, KeyValueTableRequest("full", "v", 1, 1));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  const std::string tablet = tablets->at(0);
  auto stub = cluster.TServerStub(0);

  // Fill: every acknowledged batch is counted; the first refusal ends it.
  int acked = 0;
  absl::Status refused;
  const Clock::time_point fill_deadline = Clock::now() + seconds(120);
  while (Clock::now() < fill_deadline) {
    absl::Status s = UpsertRows(stub.get(), tablet, acked, kRowsPerWrite, BigValue);
    if (s.ok()) {
      acked += kRowsPerWrite;
      continue;
    }
    // Right after creation the replica may still be electing itself.
    if (acked == 0 && absl::IsFailedPrecondition(s)) {
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
    refused = s;
    break;
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled (" << acked << " rows acknowledged)";
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("disk full on " + data_dir), std::string::npos) << refused;
  EXPECT_NE(refused.message().find(absl::StrCat(kReserveBytes, " reserved")), std::string::npos)
      << refused;
  EXPECT_GT(acked, 0);
  std::cout << "filled: " << acked << " rows acknowledged, then: " << refused << std::endl;

  // Reads go on, and hold every acknowledged row.
  absl::StatusOr<int64_t> rows = CountRows(stub.get(), tablet);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, acked);

  // ksck: not HEALTHY, and the JSON says why.
  ToolResult ksck = RunKmend(
      absl::StrCat("ksck --masters ", cluster.master_address(), " --format=json"),
      cluster.base_dir());
  EXPECT_NE(ksck.exit_code, 0) << ksck.out;
  nlohmann::json doc = nlohmann::json::parse(ksck.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << ksck.out << ksck.err;
  ASSERT_EQ(doc["tablet_servers"].size(), 1u) << ksck.out;
  EXPECT_EQ(doc["tablet_servers"][0]["state"], "DISK_FULL") << ksck.out;
  EXPECT_EQ(doc["tablet_servers"][0]["data_dirs"][0]["dir"], data_dir) << ksck.out;
  EXPECT_EQ(doc["tablet_servers"][0]["data_dirs"][0]["full"], true) << ksck.out;
  ASSERT_EQ(doc["tablets"].size(), 1u) << ksck.out;
  EXPECT_EQ(doc["tablets"][0]["health"], "UNAVAILABLE") << ksck.out;
  EXPECT_NE(doc["tablets"][0]["reason"].get<std::string>().find("refuses writes: disk full"),
            std::string::npos)
      << ksck.out;

  // The master learns it from the heartbeat and places nothing new there.
  absl::Status placement;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    placement = CreateTable(cluster, KeyValueTableRequest("other", "v", 1, 1))
                                    .status();
                    return !placement.ok();
                  },
                  seconds(5), "CreateTable refused on a full server")
                  .ok())
      << placement;
  EXPECT_NE(placement.message().find("disk full"), std::string::npos) << placement;

  // Free space as an operator would; writes come back without a restart.
  const Clock::time_point freed = Clock::now();
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  absl::Status resumed;
  Clock::time_point accepted;
  while (Clock::now() - freed < seconds(10)) {
    resumed = UpsertRows(stub.get(), tablet, acked, kRowsPerWrite, BigValue);
    if (resumed.ok()) {
      accepted = Clock::now();
      acked += kRowsPerWrite;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(resumed.ok()) << resumed;
  const auto ms = std::chrono::duration_cast<milliseconds>(accepted - freed).count();
  std::cout << "DISK_FULL_FIGURE freed space -> first accepted write: " << ms << " ms" << std::endl;
  EXPECT_LT(ms, 5000);

  rows = CountRows(stub.get(), tablet);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, acked);
  ToolResult healthy = RunKmend(absl::StrCat("ksck --masters ", cluster.master_address()),
                                cluster.base_dir());
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
}

}  // namespace
}  // namespace kmend::testing
