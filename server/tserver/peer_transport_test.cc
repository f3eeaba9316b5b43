// Three RaftDrivers (lib/consensus) talking through PeerTransport and
// ConsensusService over real loopback gRPC, in one process: a leader is
// elected, entries commit on every replica, and the two survivors keep
// committing after the third server goes away.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/consensus/held_sends.h"
#include "lib/consensus/raft_driver.h"
#include "lib/fs/layout.h"
#include "server/common/rpc_server.h"
#include "lib/rpc/grpc_util.h"
#include "server/raft_transport/peer_transport.h"
#include "server/raft_transport/tcp_socket.h"
#include "server/tserver/raft_router.h"
#include "server/tserver/tablet_manager.h"
#include "server/tserver/tserver_services.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::tserver {

using raft_transport::PeerTransport;
namespace {

using consensus_driver::RaftDriver;
using kmend::testing::ExternalCluster;

constexpr char kTablet[] = "00000000000000000000000000000001";

// A peer of an older build: unary RaftMessage only (no stream, no
// RaftEndpoint), counting what it receives.
class UnaryOnlyService : public ConsensusService::Service {
 public:
  grpc::Status RaftMessage(grpc::ServerContext*, const RaftMessageRequestPB* req,
                           RaftMessageResponsePB*) override {
    messages += req->messages_size();
    return grpc::Status::OK;
  }
  std::atomic<int> messages{0};
};

// Sends a message for kTablet to `peer` every 20 ms until `delivered`
// reaches `want` (or `limit` passes): a peer found through discovery, a
// fallback or a reconnect gets what is sent once it is reachable.
absl::Status SendUntilDelivered(PeerTransport& t, const std::string& peer,
                                const std::atomic<int>& delivered, int want,
                                std::chrono::seconds limit, const char* what) {
  consensus::RaftMessagePB m;
  m.set_tablet_id(kTablet);
  return ExternalCluster::WaitFor(
      [&] {
        t.Send(peer, m);
        absl::SleepFor(absl::Milliseconds(20));
        return delivered >= want;
      },
      limit, what);
}

struct Node {
  std::string uuid;
  std::unique_ptr<TabletManager> manager;  // hosts nothing: routing only
  RaftRouter router;
  std::unique_ptr<ConsensusServiceImpl> service;
  server::RpcServer rpc;
  PeerTransport transport;
  std::unique_ptr<RaftDriver> driver;
  std::atomic<int64_t> applied{0};

  void Stop() {
    router.Unregister(kTablet);
    if (driver) driver->Shutdown();
    service->StopStreams();  // as TabletServer::Shutdown: the TCP listener too
    rpc.Shutdown(std::chrono::milliseconds(0));
    transport.Shutdown();
  }
};

class PeerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      auto n = std::make_unique<Node>();
      n->uuid = absl::StrCat("ts", i);
      n->manager = std::make_unique<TabletManager>(fs::Layout("/nonexistent"), n->uuid);
      n->service = std::make_unique<ConsensusServiceImpl>(n->uuid, n->manager.get(), &n->router);
      absl::Status s = n->rpc.Start("127.0.0.1:0", {n->service.get()}, "");
      ASSERT_TRUE(s.ok()) << s;
      if (tcp_) {
        ASSERT_TRUE(n->service->StartRaftTcp("127.0.0.1").ok());
        n->transport.EnableTcp();
      }
      nodes_.push_back(std::move(n));
    }
    consensus::RaftConfigPB config;
    config.set_opid_index(-1);
    for (auto& n : nodes_) {
      auto* p = config.add_peers();
      p->set_permanent_uuid(n->uuid);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
      *p->mutable_last_known_addr() = n->rpc.address();
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Node* n = nodes_[i].get();
      for (const auto& p : config.peers()) {
        n->transport.SetPeerAddress(p.permanent_uuid(),
                                    absl::StrCat("127.0.0.1:", p.last_known_addr().port()));
      }
      consensus_driver::DriverOptions opts;
      opts.core.tablet_id = kTablet;
      opts.core.self_uuid = n->uuid;
      opts.core.random_seed = 17 + i;
      opts.tick_interval = absl::Milliseconds(20);
      opts.bootstrap_config = config;
      opts.apply = [n](const consensus::ReplicateMsg& m) { n->applied = m.id().index(); };
      auto d = RaftDriver::Open(std::move(opts), &n->transport);
      ASSERT_TRUE(d.ok()) << d.status();
      n->driver = *std::move(d);
      RaftDriver* raw = n->driver.get();
      ASSERT_TRUE(n->router
                      .Register(kTablet, [raw](const consensus::RaftMessagePB& m) {
                        return raw->Receive(m);
                      })
                      .ok());
    }
  }
  void TearDown() override {
    for (auto& n : nodes_) n->Stop();
  }

  // Index of the node that is leader, waiting for one among `alive`.
  int WaitForLeader(const std::vector<int>& alive) {
    int leader = -1;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          for (int i : alive) {
            if (nodes_[i]->driver->GetStatus().role == raft::Role::kLeader) {
              leader = i;
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(20), "a Raft leader");
    EXPECT_TRUE(s.ok()) << s;
    return leader;
  }

  absl::StatusOr<consensus::OpId> ReplicateNoOp(int leader) {
    consensus::ReplicateMsg msg;
    msg.mutable_id()->set_term(0);
    msg.mutable_id()->set_index(0);
    msg.set_timestamp(1);
    msg.set_op_type(consensus::NO_OP);
    msg.mutable_noop_request()->set_payload_for_tests("hello");
    return nodes_[leader]->driver->Replicate(std::move(msg), absl::Seconds(10));
  }

  // Stops server `gone`; the other two elect a leader (again) and commit an
  // entry after `after`.
  void ExpectTheOtherTwoCommitWithout(int gone, int64_t after) {
    nodes_[gone]->Stop();
    std::vector<int> alive;
    for (int i = 0; i < 3; ++i) {
      if (i != gone) alive.push_back(i);
    }
    const int leader = WaitForLeader(alive);
    ASSERT_GE(leader, 0);
    auto id = ReplicateNoOp(leader);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_GT(id->index(), after);
  }

  bool tcp_ = false;  // TcpTransportTest
  std::vector<std::unique_ptr<Node>> nodes_;
};

// The same three servers with the plain TCP connection on (EnableTcp,
// StartRaftTcp), as tablet servers without TLS run.
class TcpTransportTest : public PeerTransportTest {
 protected:
  void SetUp() override {
    tcp_ = true;
    PeerTransportTest::SetUp();
  }
};

TEST_F(PeerTransportTest, ElectsAndReplicatesOverGrpc) {
  int leader = WaitForLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  auto id = ReplicateNoOp(leader);
  ASSERT_TRUE(id.ok()) << id.status();
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        for (auto& n : nodes_) {
          if (n->applied.load() < id->index()) return false;
        }
        return true;
      },
      std::chrono::seconds(20), "the entry applied on all three replicas");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_GT(nodes_[leader]->transport.stats().sent, 0);
  EXPECT_EQ(nodes_[leader]->transport.stats().dropped_no_address, 0);

  // Take one follower's server away: the other two still form a majority.
  const int gone = (leader + 1) % 3;
  ExpectTheOtherTwoCommitWithout(gone, id->index());
}

// Everything goes over TCP: no gRPC stream is opened, every message the
// leader sent went on a connection, and losing a server works as over gRPC.
TEST_F(TcpTransportTest, ElectsAndReplicatesOverTcpWithoutStreams) {
  int leader = WaitForLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  auto id = ReplicateNoOp(leader);
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(nodes_[i]->service->open_raft_streams(), 0) << i;
    if (i != leader) EXPECT_TRUE(nodes_[leader]->transport.PeerOnTcp(nodes_[i]->uuid)) << i;
  }
  const PeerTransport::Stats st = nodes_[leader]->transport.stats();
  EXPECT_GT(st.sent_tcp, 0);
  EXPECT_EQ(st.sent_tcp, st.sent);
  EXPECT_GE(nodes_[(leader + 1) % 3]->service->open_raft_tcp_connections(), 1);

  const int gone = (leader + 1) % 3;
  ExpectTheOtherTwoCommitWithout(gone, id->index());
  // The survivors noticed the closed connection (a reset, or EOF at the
  // idle check) and went back to discovery.
  for (int i = 0; i < 3; ++i) {
    if (i == gone) continue;
    absl::Status s = ExternalCluster::WaitFor(
        [&] { return !nodes_[i]->transport.PeerOnTcp(nodes_[gone]->uuid); },
        std::chrono::seconds(10), "the connection to the stopped server dropped");
    EXPECT_TRUE(s.ok()) << i << ": " << s;
  }
}

// A peer that offers no TCP port (TLS on, or a build without it: it answers
// RaftEndpoint with nothing or UNIMPLEMENTED) gets the gRPC stream.
TEST_F(PeerTransportTest, TcpTransportUsesTheStreamWhenThePeerOffersNoPort) {
  PeerTransport t;
  t.EnableTcp();
  t.SetPeerAddress(nodes_[0]->uuid, absl::StrCat("127.0.0.1:", nodes_[0]->rpc.port()));
  consensus::RaftMessagePB m;
  m.set_tablet_id("unknown-tablet");
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        t.Send(nodes_[0]->uuid, m);
        absl::SleepFor(absl::Milliseconds(20));
        return nodes_[0]->service->open_raft_streams() == 1 && t.stats().sent >= 3;
      },
      std::chrono::seconds(10), "messages on a stream");
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_FALSE(t.PeerOnTcp(nodes_[0]->uuid));
  EXPECT_EQ(t.stats().sent_tcp, 0);
  t.Shutdown();
}

// A new address for a peer (a server restarted elsewhere) is discovered
// afresh: the messages follow to the new server, over TCP.
TEST_F(TcpTransportTest, FollowsAPeerToItsNewAddress) {
  // The fixture's transports connect to every address they were given
  // (their own included) at once: three connections per server.
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        return nodes_[0]->service->open_raft_tcp_connections() == 3 &&
               nodes_[1]->service->open_raft_tcp_connections() == 3;
      },
      std::chrono::seconds(10), "the fixture's connections");
  ASSERT_TRUE(s.ok()) << s;
  PeerTransport t;
  t.EnableTcp();
  t.SetPeerAddress("moving", absl::StrCat("127.0.0.1:", nodes_[0]->rpc.port()));
  s = ExternalCluster::WaitFor(
      [&] { return t.PeerOnTcp("moving") && nodes_[0]->service->open_raft_tcp_connections() == 4; },
      std::chrono::seconds(10), "a TCP connection");
  ASSERT_TRUE(s.ok()) << s;
  t.SetPeerAddress("moving", absl::StrCat("127.0.0.1:", nodes_[1]->rpc.port()));
  s = ExternalCluster::WaitFor(
      [&] {
        return t.PeerOnTcp("moving") && nodes_[1]->service->open_raft_tcp_connections() == 4 &&
               nodes_[0]->service->open_raft_tcp_connections() == 3;
      },
      std::chrono::seconds(10), "the connection moved to the new address");
  EXPECT_TRUE(s.ok()) << s;
  t.Shutdown();
}

// The listener closes a connection that does not start with the magic or
// sends a frame longer than kMaxFrameBytes, and keeps serving others.
TEST_F(TcpTransportTest, ListenerClosesForeignOrCorruptConnections) {
  int leader = WaitForLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  Node* target = nodes_[(leader + 1) % 3].get();
  auto port = [&] {
    grpc::ClientContext ctx;
    RaftEndpointResponsePB resp;
    auto stub = ConsensusService::NewStub(
        rpc::NewChannel(absl::StrCat("127.0.0.1:", target->rpc.port())));
    EXPECT_TRUE(stub->RaftEndpoint(&ctx, RaftEndpointRequestPB(), &resp).ok());
    return static_cast<int>(resp.tcp_port());
  }();
  ASSERT_GT(port, 0);
  const std::string bad_magic = "GET / HTTP/1.1\r\n\r\n";
  std::string long_frame(raft_transport::tcp::kMagic, sizeof(raft_transport::tcp::kMagic));
  long_frame += std::string("\xff\xff\xff\x7f", 4);  // ~2 GiB
  for (const std::string& junk : {bad_magic, long_frame}) {
    absl::StatusOr<int> fd =
        raft_transport::tcp::Connect("127.0.0.1", port, std::chrono::milliseconds(2000));
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_TRUE(raft_transport::tcp::WriteAll(*fd, junk.data(), junk.size()));
    // The listener closes it: read sees the end (0) or a reset (the junk
    // was unread), not its 5 s timeout.
    timeval five_s{5, 0};
    setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &five_s, sizeof(five_s));
    char c;
    const ssize_t n = read(*fd, &c, 1);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
    close(*fd);
  }
  // Raft traffic over the good connections goes on.
  auto id = ReplicateNoOp(leader);
  ASSERT_TRUE(id.ok()) << id.status();
}

// Held messages beyond max_batch_bytes leave in several frames (each under
// the receiver's limit), all delivered in order.
TEST_F(TcpTransportTest, SplitsWhatIsHeldIntoFramesOfMaxBatchBytes) {
  std::vector<std::string> got;
  absl::Mutex got_mu;
  ASSERT_TRUE(nodes_[0]
                  ->router
                  .Register("split-tablet",
                            [&](const consensus::RaftMessagePB& m) {
                              absl::MutexLock l(&got_mu);
                              got.push_back(m.from_uuid());
                              return absl::OkStatus();
                            })
                  .ok());
  PeerTransport::Options opts;
  opts.max_batch_bytes = 4096;
  PeerTransport t(opts);
  t.EnableTcp();
  t.SetPeerAddress(nodes_[0]->uuid, absl::StrCat("127.0.0.1:", nodes_[0]->rpc.port()));
  absl::Status s = ExternalCluster::WaitFor([&] { return t.PeerOnTcp(nodes_[0]->uuid); },
                                            std::chrono::seconds(10), "a TCP connection");
  ASSERT_TRUE(s.ok()) << s;
  // ~12 KiB held (under the 4 x max_batch_bytes cap): three frames or more.
  constexpr int kMessages = 12;
  {
    consensus_driver::HoldSends hold;
    for (int i = 0; i < kMessages; ++i) {
      consensus::RaftMessagePB m;
      m.set_tablet_id("split-tablet");
      m.set_from_uuid(absl::StrCat(i, std::string(1000, 'x')));
      t.Send(nodes_[0]->uuid, m);
    }
    EXPECT_EQ(t.stats().sent, 0) << "sent before the hold ended";
  }
  s = ExternalCluster::WaitFor(
      [&] {
        absl::MutexLock l(&got_mu);
        return got.size() == kMessages;
      },
      std::chrono::seconds(10), "every message delivered");
  EXPECT_TRUE(s.ok()) << s;
  absl::MutexLock l(&got_mu);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].substr(0, got[i].size() - 1000), absl::StrCat(i));
  EXPECT_EQ(t.stats().sent_tcp, kMessages);
  EXPECT_GE(t.stats().tcp_frames, 3);  // 12 x ~1 KiB in frames of <= 4 KiB
  t.Shutdown();
  nodes_[0]->router.Unregister("split-tablet");
}

// A peer whose RPC port answers RaftEndpoint with a TCP port that refuses
// connections (a firewall that opens the RPC port only) gets the stream
// after three tries, here unary calls (no stream method either).
TEST(PeerTransportUnitTest, FallsBackWhenTheOfferedTcpPortDoesNotAnswer) {
  class DeadTcpPort final : public UnaryOnlyService {
   public:
    grpc::Status RaftEndpoint(grpc::ServerContext*, const RaftEndpointRequestPB*,
                              RaftEndpointResponsePB* resp) override {
      resp->set_tcp_port(1);  // nothing listens on port 1 of loopback
      return grpc::Status::OK;
    }
  } service;
  server::RpcServer rpc;
  ASSERT_TRUE(rpc.Start("127.0.0.1:0", {&service}, "").ok());
  PeerTransport t;
  t.EnableTcp();
  t.SetPeerAddress("firewalled", absl::StrCat("127.0.0.1:", rpc.address().port()));
  absl::Status s = SendUntilDelivered(t, "firewalled", service.messages, 3,
                                      std::chrono::seconds(20), "messages delivered without TCP");
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(t.stats().tcp_fallbacks, 1);
  EXPECT_FALSE(t.PeerOnTcp("firewalled"));
  t.Shutdown();
  rpc.Shutdown(std::chrono::milliseconds(0));
}

TEST(PeerTransportUnitTest, DropsWithoutAddressAndNeverBlocks) {
  PeerTransport::Options opts;
  opts.max_queued_per_peer = 2;
  opts.rpc_timeout = std::chrono::milliseconds(200);
  PeerTransport t(opts);
  consensus::RaftMessagePB m;
  m.set_tablet_id(kTablet);
  t.Send("nobody", m);
  EXPECT_EQ(t.stats().dropped_no_address, 1);
  // Port 1 on loopback: nothing listens; RPCs fail, Send still returns.
  t.SetPeerAddress("p", "127.0.0.1:1");
  for (int i = 0; i < 100; ++i) t.Send("p", m);
  t.Shutdown();
  PeerTransport::Stats s = t.stats();
  EXPECT_EQ(s.sent, 0);
  EXPECT_GT(s.dropped_queue_full + s.dropped_rpc_failed, 0);
  EXPECT_LE(s.dropped_queue_full + s.dropped_rpc_failed, 100);
  t.Send("p", m);  // after Shutdown: ignored, no crash
}

// Failure detection per server pair (docs/design/scale.md, "Quiescence"):
// with nothing to send, a transport still calls each peer once an interval,
// stamped with its uuid, and the peer's ConsensusService records it; when
// the sender goes, the silence grows.
class LivenessTest : public ::testing::TestWithParam<bool> {};

TEST_P(LivenessTest, IdleTransportSendsOneLivenessCallPerPeerPerInterval) {
  const bool tcp = GetParam();
  TabletManager manager(fs::Layout("/nonexistent"), "receiver");
  RaftRouter router;
  consensus_driver::PeerLiveness liveness;
  ConsensusServiceImpl service("receiver", &manager, &router, nullptr, &liveness);
  server::RpcServer rpc;
  ASSERT_TRUE(rpc.Start("127.0.0.1:0", {&service}, "").ok());
  if (tcp) ASSERT_TRUE(service.StartRaftTcp("127.0.0.1").ok());
  PeerTransport t;
  if (tcp) t.EnableTcp();
  t.EnableLiveness("sender", std::chrono::milliseconds(50));
  t.SetPeerAddress("receiver", absl::StrCat("127.0.0.1:", rpc.address().port()));
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_LT(liveness.SilentFor("sender"), absl::Milliseconds(400));
  const int64_t calls = t.stats().liveness_calls;
  EXPECT_GE(calls, 3);    // ~12 expected; a loaded machine sends fewer
  EXPECT_LE(calls, 13);   // never more than one per interval
  EXPECT_EQ(liveness.SilentFor("someone-else"), absl::InfiniteDuration());
  t.Shutdown();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_GE(liveness.SilentFor("sender"), absl::Milliseconds(300));
  EXPECT_EQ(t.stats().sent_tcp, 0);  // liveness frames carry no messages
  service.StopStreams();
  rpc.Shutdown(std::chrono::milliseconds(0));
}
INSTANTIATE_TEST_SUITE_P(GrpcOrTcp, LivenessTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Tcp" : "Grpc"; });

// Followers send each other nothing until an election; the transport
// connects anyway, so a candidate's first vote request does not pay the
// handshake (peer_transport.h).
TEST_F(PeerTransportTest, ConnectsToEveryPeerBeforeSendingAnything) {
  PeerTransport idle;
  EXPECT_FALSE(idle.PeerConnected("ts0"));  // no address yet
  for (int i = 0; i < 3; ++i) {
    idle.SetPeerAddress(nodes_[i]->uuid, absl::StrCat("127.0.0.1:", nodes_[i]->rpc.port()));
  }
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (!idle.PeerConnected(nodes_[i]->uuid)) return false;
        }
        return true;
      },
      std::chrono::seconds(10), "connections to the three peers with nothing sent");
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(idle.stats().sent, 0);
  idle.Shutdown();
}

// The transport sends on one RaftMessageStream per peer server (not a
// unary call per batch), and a server's StopStreams ends the streams its
// peers hold open, so that a graceful RPC shutdown does not wait out its
// grace for them.
TEST_F(PeerTransportTest, UsesOneStreamPerPeerAndShutdownEndsThem) {
  const int leader = WaitForLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(ReplicateNoOp(leader).ok());
  // The leader hears from both followers, each follower from the leader
  // (followers send each other nothing here: no liveness calls).
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(nodes_[i]->service->open_raft_streams(), i == leader ? 2 : 1) << i;
  }
  Node* n = nodes_[(leader + 1) % 3].get();
  n->service->StopStreams();
  absl::Status ended = ExternalCluster::WaitFor(
      [&] { return n->service->open_raft_streams() == 0; }, std::chrono::seconds(5),
      "the cancelled streams to end");
  EXPECT_TRUE(ended.ok()) << ended;
  const auto start = std::chrono::steady_clock::now();
  n->rpc.Shutdown(std::chrono::seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The other two keep committing over their streams.
  ASSERT_TRUE(ReplicateNoOp(leader).ok());
}

// A server without RaftMessageStream (UNIMPLEMENTED: an older build) still
// gets every batch, as unary RaftMessage calls.
TEST(PeerTransportUnitTest, FallsBackToUnaryCallsWhenThePeerHasNoStream) {
  UnaryOnlyService service;
  server::RpcServer rpc;
  ASSERT_TRUE(rpc.Start("127.0.0.1:0", {&service}, "").ok());
  PeerTransport t;
  t.SetPeerAddress("old", absl::StrCat("127.0.0.1:", rpc.address().port()));
  absl::Status s = SendUntilDelivered(t, "old", service.messages, 5, std::chrono::seconds(10),
                                      "messages delivered by unary calls");
  EXPECT_TRUE(s.ok()) << s;
  t.Shutdown();
  rpc.Shutdown(std::chrono::milliseconds(0));
}

TEST(RaftRouterTest, DeliversRegisteredAndReportsUnknown) {
  RaftRouter router;
  int got = 0;
  ASSERT_TRUE(router
                  .Register(kTablet,
                            [&](const consensus::RaftMessagePB&) {
                              ++got;
                              return absl::OkStatus();
                            })
                  .ok());
  EXPECT_EQ(router.Register(kTablet, nullptr).code(), absl::StatusCode::kAlreadyExists);
  consensus::RaftMessagePB m;
  m.set_tablet_id(kTablet);
  EXPECT_TRUE(router.Deliver(m).ok());
  EXPECT_EQ(got, 1);
  router.Unregister(kTablet);
  EXPECT_EQ(router.Deliver(m).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got, 1);
}

}  // namespace
}  // namespace kmend::tserver
