// The master's fan-out of CreateTablet/DeleteTablet calls (issue 15):
// concurrent per server up to its bound, and a hung server costs one
// deadline, not one per call.
#include "server/master/tablet_call_fanout.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/rpc_server.h"

namespace kmend::master {
namespace {

// A tablet server whose CreateTablet takes `delay` (or, when hung, waits
// until released) and which counts concurrent calls.
class FakeTServer final : public tserver::TabletServerService::Service {
 public:
  explicit FakeTServer(std::chrono::milliseconds delay, bool hung = false)
      : delay_(delay), hung_(hung) {}
  ~FakeTServer() override { Release(); }

  grpc::Status CreateTablet(grpc::ServerContext*, const tserver::CreateTabletRequestPB*,
                            tserver::CreateTabletResponsePB*) override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    ++received_;
    if (hung_) {
      release_.WaitForNotificationWithTimeout(absl::Seconds(30));
    } else {
      std::this_thread::sleep_for(delay_);
    }
    --in_flight_;
    return grpc::Status::OK;
  }
  grpc::Status DeleteTablet(grpc::ServerContext*, const tserver::DeleteTabletRequestPB*,
                            tserver::DeleteTabletResponsePB*) override {
    ++received_;
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such tablet");
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::atomic<int> received_{0};

 private:
  const std::chrono::milliseconds delay_;
  const bool hung_;
  absl::Notification release_;
};

struct Served {
  explicit Served(FakeTServer* service) {
    absl::Status s = server.Start("127.0.0.1:0", {service}, "");
    EXPECT_TRUE(s.ok()) << s;
    address = "127.0.0.1:" + std::to_string(server.port());
  }
  ~Served() { server.Shutdown(std::chrono::milliseconds(100)); }
  server::RpcServer server;
  std::string address;
};

std::vector<TabletCall> Creates(const std::string& address, int n, int first = 0) {
  std::vector<TabletCall> calls;
  for (int i = first; i < first + n; ++i) {
    TabletCall c;
    c.ts_uuid = "ts-" + address;
    c.address = address;
    c.create.set_tablet_id("tablet" + std::to_string(i));
    calls.push_back(std::move(c));
  }
  return calls;
}

TEST(TabletCallFanOutTest, CallsToOneServerRunConcurrentlyUpToTheBound) {
  FakeTServer ts(std::chrono::milliseconds(100));
  Served served(&ts);
  std::vector<TabletCall> calls = Creates(served.address, 24);
  TabletCall del;
  del.is_create = false;
  del.ts_uuid = "ts";
  del.address = served.address;
  del.del.set_tablet_id("gone");
  calls.push_back(del);

  const auto start = std::chrono::steady_clock::now();
  FanOut(&calls, std::chrono::seconds(10), /*max_in_flight_per_server=*/4);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  for (size_t i = 0; i + 1 < calls.size(); ++i) EXPECT_TRUE(calls[i].result.ok()) << calls[i].result;
  // The server's answer, annotated with the call.
  EXPECT_EQ(calls.back().result.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(calls.back().result.message().find("DeleteTablet gone on ts"), std::string::npos)
      << calls.back().result;
  EXPECT_EQ(ts.received_.load(), 25);
  EXPECT_EQ(ts.max_in_flight_.load(), 4);
  // One by one would take 2.4 s; four at a time about 0.6 s.
  EXPECT_LT(elapsed, std::chrono::milliseconds(1800));
}

TEST(TabletCallFanOutTest, AHungServerCostsOneDeadlineAndDelaysNoOtherServer) {
  FakeTServer hung(std::chrono::milliseconds(0), /*hung=*/true);
  FakeTServer healthy(std::chrono::milliseconds(10));
  Served hung_served(&hung);
  Served healthy_served(&healthy);
  std::vector<TabletCall> calls = Creates(hung_served.address, 20);
  for (TabletCall& c : Creates(healthy_served.address, 20, 100)) calls.push_back(std::move(c));

  const auto start = std::chrono::steady_clock::now();
  FanOut(&calls, std::chrono::milliseconds(500), /*max_in_flight_per_server=*/4);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  hung.Release();

  // 20 calls one deadline at a time would take 10 s (5 s at four at a time).
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
  EXPECT_LE(hung.received_.load(), 4);
  int not_sent = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(calls[i].result.code(), absl::StatusCode::kDeadlineExceeded) << calls[i].result;
    not_sent += calls[i].result.message().find("not sent") != std::string::npos;
  }
  EXPECT_EQ(not_sent, 16);
  for (int i = 20; i < 40; ++i) EXPECT_TRUE(calls[i].result.ok()) << calls[i].result;
  EXPECT_EQ(healthy.received_.load(), 20);
}

}  // namespace
}  // namespace kmend::master
