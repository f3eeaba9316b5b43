// Three RaftDrivers over the in-memory network, each with a real WAL and
// cmeta file in a temp dir: elect, commit, destroy one and restart it from
// disk. Waits use generous deadlines; nothing asserts on timing.
#include "lib/consensus/raft_driver.h"

#include <pthread.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"

namespace kmend::consensus_driver {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

consensus::ReplicateMsg Write(const std::string& payload) {
  consensus::ReplicateMsg m;
  m.set_op_type(consensus::NO_OP);
  m.mutable_noop_request()->set_payload_for_tests(payload);
  return m;
}

// The round worker (RaftScheduler::Options::rounds) the *RoundsToo tests
// also run their drivers on. Leaked like RaftScheduler::Shared(): it must
// outlive every driver.
RaftScheduler* RoundScheduler() {
  static RaftScheduler* rounds = new RaftScheduler(RaftScheduler::Options{1, true});
  return rounds;
}

class Group;

// Sends for one driver, checking each successful append acknowledgement
// against its WAL's durable end on the way out (Group::CheckAck).
class AckCheckingTransport : public Transport {
 public:
  AckCheckingTransport(std::unique_ptr<Transport> inner, Group* group, std::string self)
      : inner_(std::move(inner)), group_(group), self_(std::move(self)) {}
  void Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) override;

 private:
  std::unique_ptr<Transport> inner_;
  Group* group_;
  const std::string self_;
};

class Group {
 public:
  // quiesce: each driver is a "server" with its own PeerLiveness, fed by a
  // pinger thread standing in for the transports' liveness calls (every 10
  // ms, one tick, between every two started drivers).
  explicit Group(const std::string& root, bool quiesce = false)
      : root_(root), quiesce_(quiesce) {
    if (quiesce_) {
      pinger_ = std::thread([this] {
        absl::MutexLock l(&mu_);
        while (!mu_.AwaitWithTimeout(absl::Condition(&stop_pinger_), absl::Milliseconds(10))) {
          for (const std::string& to : started_) {
            for (const std::string& from : started_) {
              if (from != to) liveness_[to].Heard(from, incarnation_[from]);
            }
            for (const std::string& from : restarted_without_replica_) {
              liveness_[to].Heard(from, incarnation_[from]);
            }
          }
        }
      });
    }
    for (const char* u : {"A", "B", "C"}) {
      uuids_.push_back(u);
      auto* p = config_.add_peers();
      p->set_permanent_uuid(u);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
    }
    config_.set_opid_index(-1);
  }
  ~Group() {
    for (const std::string& u : uuids_) Stop(u);
    if (pinger_.joinable()) {
      {
        absl::MutexLock l(&mu_);
        stop_pinger_ = true;
      }
      pinger_.join();
    }
  }

  absl::Status Start(const std::string& uuid) {
    DriverOptions o;
    o.core.tablet_id = "t1";
    o.core.self_uuid = uuid;
    o.core.election_ticks = 10;
    o.core.heartbeat_ticks = 2;
    o.core.random_seed = std::hash<std::string>()(uuid) + restarts_++;
    o.tick_interval = absl::Milliseconds(10);
    o.wal_dir = io::JoinPath(root_, "wal-" + uuid);
    o.wal_options.segment_size_bytes = 64 << 10;
    o.wal_options.preallocate = false;
    o.cmeta_path = io::JoinPath(root_, "cmeta-" + uuid);
    o.bootstrap_config = config_;
    {
      absl::MutexLock l(&mu_);
      applied_[uuid].clear();
      if (quiesce_) {
        o.core.quiesce = true;
        o.liveness = &liveness_[uuid];  // std::map: stable address
        started_.insert(uuid);
        ++incarnation_[uuid];
      }
    }
    o.inline_light_readies = inline_readies_;
    o.scheduler = scheduler_;
    o.reachable = reachable_;
    o.apply = [this, uuid](const consensus::ReplicateMsg& e) {
      char name[16] = {};
      pthread_getname_np(pthread_self(), name, sizeof(name));
      absl::MutexLock l(&mu_);
      applied_[uuid].push_back(e);
      if (std::string(name).rfind("raft-ready", 0) != 0) ++applied_off_workers_;
    };
    transports_[uuid] =
        std::make_unique<AckCheckingTransport>(net_.TransportFor(uuid), this, uuid);
    absl::StatusOr<std::unique_ptr<RaftDriver>> d =
        RaftDriver::Open(std::move(o), transports_[uuid].get());
    if (!d.ok()) return d.status();
    drivers_[uuid] = std::move(*d);
    RaftDriver* p = drivers_[uuid].get();
    {
      absl::MutexLock l(&mu_);
      running_[uuid] = p;
    }
    net_.Register(uuid, [p](const consensus::RaftMessagePB& m) { (void)p->Receive(m); });
    return absl::OkStatus();
  }

  // DriverOptions::reachable for the drivers started from now on.
  void set_reachable(const std::atomic<bool>* r) { reachable_ = r; }
  // DriverOptions::inline_light_readies for the drivers started from now on.
  void set_inline_readies(bool on) { inline_readies_ = on; }
  // DriverOptions::scheduler for the drivers started from now on.
  void set_scheduler(RaftScheduler* scheduler) { scheduler_ = scheduler; }
  // Entries applied on a thread other than a scheduler worker.
  int applied_off_workers() {
    absl::MutexLock l(&mu_);
    return applied_off_workers_;
  }

  // "Crash": stop delivering to it, then destroy it (the WAL and cmeta stay).
  void Stop(const std::string& uuid) {
    net_.Unregister(uuid);
    {
      absl::MutexLock l(&mu_);
      running_.erase(uuid);
    }
    drivers_.erase(uuid);
    absl::MutexLock l(&mu_);
    started_.erase(uuid);  // its liveness calls stop with it
  }

  // No acknowledgement may promise entries its sender's WAL has not synced
  // (raft/ready.h, step 2; Log::LastOpId is the synced end). Called by the
  // sender's transport for each successful append response.
  void CheckAck(const std::string& from, int64_t acknowledged) {
    absl::MutexLock l(&mu_);
    auto it = running_.find(from);
    if (it == running_.end() || it->second->wal() == nullptr) return;
    ++acks_checked_;
    const int64_t synced = it->second->wal()->LastOpId().index();
    if (synced < acknowledged) {
      ADD_FAILURE() << from << " acknowledged index " << acknowledged
                    << " with its WAL synced through " << synced;
    }
  }
  int64_t acks_checked() {
    absl::MutexLock l(&mu_);
    return acks_checked_;
  }

  // The server of `uuid` restarts (a new incarnation) without its replica
  // (FAILED or gone): it keeps answering the liveness exchange.
  void RestartServerWithoutReplica(const std::string& uuid) {
    Stop(uuid);
    absl::MutexLock l(&mu_);
    ++incarnation_[uuid];
    restarted_without_replica_.insert(uuid);
  }

  bool WaitForAllQuiesced() {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      bool all = true;
      for (auto& [u, d] : drivers_) all = all && d->GetStatus().quiesced;
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  // Starts A, B and C and returns the leader they elect ("" if none).
  std::string StartAllAndElect() {
    for (const char* u : {"A", "B", "C"}) {
      absl::Status s = Start(u);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) return "";
    }
    return WaitForLeader();
  }

  // Quiesced with their ticks stopped (RaftDriver::asleep).
  bool WaitForAllAsleep() {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      bool all = true;
      for (auto& [u, d] : drivers_) all = all && d->asleep();
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  RaftDriver* driver(const std::string& uuid) { return drivers_.at(uuid).get(); }
  InMemoryNetwork& net() { return net_; }
  void AddUuid(const std::string& uuid) { uuids_.push_back(uuid); }

  std::string WaitForLeader(const std::string& exclude = "") {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      for (auto& [u, d] : drivers_) {
        if (d->GetStatus().role == raft::Role::kLeader && u != exclude) return u;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return "";
  }

  bool WaitForApplied(const std::string& uuid, size_t n) {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock l(&mu_);
        if (applied_[uuid].size() >= n) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  std::vector<consensus::ReplicateMsg> Applied(const std::string& uuid) {
    absl::MutexLock l(&mu_);
    return applied_[uuid];
  }

 private:
  std::string root_;
  std::vector<std::string> uuids_;
  consensus::RaftConfigPB config_;
  InMemoryNetwork net_;
  std::map<std::string, std::unique_ptr<Transport>> transports_;
  std::map<std::string, std::unique_ptr<RaftDriver>> drivers_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<consensus::ReplicateMsg>> applied_;
  uint64_t restarts_ = 0;
  const bool quiesce_;
  bool inline_readies_ = false;
  RaftScheduler* scheduler_ = nullptr;
  const std::atomic<bool>* reachable_ = nullptr;
  // The drivers that may send (CheckAck); set after Open, cleared before
  // the driver is destroyed.
  std::map<std::string, RaftDriver*> running_ ABSL_GUARDED_BY(mu_);
  int64_t acks_checked_ ABSL_GUARDED_BY(mu_) = 0;
  int applied_off_workers_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, PeerLiveness> liveness_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> started_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> restarted_without_replica_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> incarnation_ ABSL_GUARDED_BY(mu_);
  bool stop_pinger_ ABSL_GUARDED_BY(mu_) = false;
  std::thread pinger_;
};

void AckCheckingTransport::Send(const std::string& to_uuid,
                                const consensus::RaftMessagePB& msg) {
  if (msg.type() == consensus::RaftMessagePB::APPEND_RESPONSE && msg.append_response().success()) {
    group_->CheckAck(self_, msg.append_response().last_index());
  }
  inner_->Send(to_uuid, msg);
}

// The tests below that run twice: on the process's shared workers (false)
// and on a round worker (true).
class RaftDriverRoundsTooTest : public ::testing::TestWithParam<bool> {
 protected:
  RaftScheduler* scheduler() const { return GetParam() ? RoundScheduler() : nullptr; }
  std::string Name(const std::string& base) const { return base + (GetParam() ? "_rounds" : ""); }
};
INSTANTIATE_TEST_SUITE_P(Workers, RaftDriverRoundsTooTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RoundWorker" : "SharedWorkers";
                         });

std::string TempRoot(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string root = io::JoinPath(t ? t : "/tmp", name);
  EXPECT_TRUE(io::CreateDirs(root).ok());
  return root;
}

TEST_P(RaftDriverRoundsTooTest, ElectCommitCrashAndRestartFromDisk) {
  const std::string root = TempRoot(Name("driver_restart"));
  Group g(root);
  g.set_scheduler(scheduler());
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());

  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<consensus::OpId> id =
        g.driver(leader)->Replicate(Write("w" + std::to_string(i)), kWait);
    ASSERT_TRUE(id.ok()) << id.status();
  }
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.WaitForApplied(u, 21)) << u;

  // Crash a follower; the other two keep committing.
  const std::string victim = leader == "A" ? "B" : "A";
  g.Stop(victim);
  leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  for (int i = 20; i < 30; ++i) {
    absl::StatusOr<consensus::OpId> id =
        g.driver(leader)->Replicate(Write("w" + std::to_string(i)), kWait);
    ASSERT_TRUE(id.ok()) << id.status();
  }
  const size_t total = g.Applied(leader).size();
  ASSERT_GE(total, 31u);

  // The cmeta on disk carries the term the victim persisted.
  absl::StatusOr<consensus::ConsensusMetadataPB> cmeta =
      meta::LoadConsensusMeta(io::JoinPath(root, "cmeta-" + victim));
  ASSERT_TRUE(cmeta.ok()) << cmeta.status();
  EXPECT_GE(cmeta->current_term(), 1);

  // Restart from its WAL + cmeta: it replays, rejoins and catches up.
  ASSERT_TRUE(g.Start(victim).ok());
  raft::RaftStatus st = g.driver(victim)->GetStatus();
  EXPECT_GE(st.last_logged.index(), 21);  // replayed from the WAL
  EXPECT_EQ(st.term, cmeta->current_term());
  ASSERT_TRUE(g.WaitForApplied(victim, total));
  std::vector<consensus::ReplicateMsg> a = g.Applied(leader);
  std::vector<consensus::ReplicateMsg> b = g.Applied(victim);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(a[i].id().index(), b[i].id().index());
    EXPECT_EQ(a[i].id().term(), b[i].id().term());
    EXPECT_EQ(a[i].noop_request().payload_for_tests(), b[i].noop_request().payload_for_tests());
  }
  for (const char* u : {"A", "B", "C"}) EXPECT_TRUE(g.driver(u)->health().ok());
  EXPECT_GT(g.acks_checked(), 0);  // CheckAck saw the followers' acknowledgements
}

// A starting server opens its replicas before it listens: their election
// timers stand still until it is reachable (DriverOptions::reachable), or
// every replica opened early would campaign before any leader could reach it.
TEST(RaftDriverTest, ElectionTimersStandStillUntilTheServerIsReachable) {
  const std::string root = TempRoot("driver_reachable");
  // Declared before the group: its drivers read the flag on every tick
  // until ~Group stops them, so it must outlive them.
  std::atomic<bool> reachable{false};
  Group g(root);
  g.set_reachable(&reachable);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  // 30 ticks: past every randomized election timeout [10, 20).
  absl::SleepFor(absl::Milliseconds(300));
  for (const char* u : {"A", "B", "C"}) {
    EXPECT_EQ(g.driver(u)->GetStatus().term, 0) << u << " campaigned before it was reachable";
  }
  reachable.store(true);
  EXPECT_FALSE(g.WaitForLeader().empty());
}

TEST(RaftDriverTest, WholeGroupRestartsFromDiskAndKeepsCommittedEntries) {
  const std::string root = TempRoot("driver_full_restart");
  std::vector<consensus::ReplicateMsg> before;
  {
    Group g(root);
    for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
    std::string leader = g.WaitForLeader();
    ASSERT_FALSE(leader.empty());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(g.driver(leader)->Replicate(Write("x" + std::to_string(i)), kWait).ok());
    }
    before = g.Applied(leader);
  }
  Group g(root);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("after"), kWait).ok());
  std::vector<consensus::ReplicateMsg> after = g.Applied(leader);
  ASSERT_GT(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString()) << i;
  }
}

TEST_P(RaftDriverRoundsTooTest, DeposedLeaderTruncatesItsUncommittedTailFromTheWal) {
  const std::string root = TempRoot(Name("driver_truncate"));
  Group g(root);
  g.set_scheduler(scheduler());
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string old_leader = g.WaitForLeader();
  ASSERT_FALSE(old_leader.empty());
  ASSERT_TRUE(g.driver(old_leader)->Replicate(Write("committed"), kWait).ok());
  // Cut the leader off; what it appends now is logged but never committed.
  for (const char* u : {"A", "B", "C"}) {
    if (u != old_leader) g.net().Cut(old_leader, u);
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(g.driver(old_leader)->Propose(Write("lost" + std::to_string(i))).ok());
  }
  const std::string new_leader = g.WaitForLeader(old_leader);
  ASSERT_FALSE(new_leader.empty());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(g.driver(new_leader)->Replicate(Write("new" + std::to_string(i)), kWait).ok());
  }
  // Crash the old leader and restart it from disk: it replays its own
  // uncommitted tail, then the new leader makes it truncate it (WAL
  // TruncateAfter) and append the committed history.
  g.Stop(old_leader);
  g.net().Heal();
  ASSERT_TRUE(g.Start(old_leader).ok());
  const size_t total = g.Applied(new_leader).size();
  ASSERT_TRUE(g.WaitForApplied(old_leader, total));
  std::vector<consensus::ReplicateMsg> a = g.Applied(new_leader);
  std::vector<consensus::ReplicateMsg> b = g.Applied(old_leader);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
    EXPECT_EQ(b[i].noop_request().payload_for_tests().rfind("lost", 0), std::string::npos);
  }
  // And the truncation is durable: restart once more, nothing "lost" remains.
  g.Stop(old_leader);
  ASSERT_TRUE(g.Start(old_leader).ok());
  ASSERT_TRUE(g.WaitForApplied(old_leader, total));
  for (const auto& e : g.Applied(old_leader)) {
    EXPECT_EQ(e.noop_request().payload_for_tests().rfind("lost", 0), std::string::npos);
  }
}

// NotifyWhenApplied (the server's Write answered from the apply): one
// answer per caller, with what WaitForApplied would return.
struct Answer {
  absl::Notification done;
  absl::Status status;
  std::thread::id thread;
  std::function<void(absl::Status)> Callback() {
    return [this](absl::Status s) {
      status = std::move(s);
      thread = std::this_thread::get_id();
      done.Notify();  // a second call would crash here: exactly once
    };
  }
  bool Wait() { return done.WaitForNotificationWithTimeout(kWait); }
};

TEST(RaftDriverTest, NotifyWhenAppliedAnswersOnceFromTheApplyOrAtOnceWhenAlreadyApplied) {
  const std::string root = TempRoot("driver_notify_applied");
  Group g(root);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  const std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  absl::StatusOr<consensus::OpId> id = g.driver(leader)->Propose(Write("x"));
  ASSERT_TRUE(id.ok()) << id.status();
  Answer first;
  g.driver(leader)->NotifyWhenApplied(*id, absl::Now() + kWait, first.Callback());
  ASSERT_TRUE(first.Wait());
  EXPECT_TRUE(first.status.ok()) << first.status;
  // A caller that comes after the apply is answered on its own thread.
  Answer late;
  g.driver(leader)->NotifyWhenApplied(*id, absl::Now() + kWait, late.Callback());
  ASSERT_TRUE(late.done.HasBeenNotified());
  EXPECT_TRUE(late.status.ok()) << late.status;
  EXPECT_EQ(late.thread, std::this_thread::get_id());
}

// DriverOptions::inline_light_readies: a Ready that persists nothing (a
// follower's apply of an announced commit, a heartbeat's answer) runs on the
// thread that delivered the message, not on a woken worker; heavier ones
// still go to the workers, and every replica applies the same entries in
// the same order either way.
TEST(RaftDriverTest, LightReadiesRunOnTheReceivingThreadAndKeepTheOrder) {
  // 0: every Ready on a worker; 1: light Readies inline; 2: and each
  // proposal's Ready on the proposing thread (Propose's run_ready_here).
  for (int mode : {0, 1, 2}) {
    const bool on = mode > 0;
    SCOPED_TRACE(mode == 0 ? "workers only" : mode == 1 ? "inline" : "inline, proposer runs");
    const std::string root = TempRoot(absl::StrCat("driver_inline_", mode));
    Group g(root);
    g.set_inline_readies(on);
    for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
    const std::string leader = g.WaitForLeader();
    ASSERT_FALSE(leader.empty());
    constexpr int kWrites = 30;
    for (int i = 0; i < kWrites; ++i) {
      absl::StatusOr<consensus::OpId> id =
          g.driver(leader)->Propose(Write(absl::StrCat("w", i)), /*run_ready_here=*/mode == 2);
      ASSERT_TRUE(id.ok()) << id.status();
      Answer a;
      g.driver(leader)->NotifyWhenApplied(*id, absl::Now() + kWait, a.Callback());
      ASSERT_TRUE(a.Wait());
      ASSERT_TRUE(a.status.ok()) << a.status;
      // Answered means applied for the reads too (RaftCore::AppliedEarly),
      // also when the answer came before the rest of its Ready was done.
      EXPECT_GE(g.driver(leader)->GetStatus().applied_index, id->index()) << "write " << i;
    }
    const size_t n = g.Applied(leader).size();
    ASSERT_GE(n, static_cast<size_t>(kWrites));
    for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.WaitForApplied(u, n)) << u;
    const auto want = g.Applied(leader);
    for (const char* u : {"A", "B", "C"}) {
      const auto got = g.Applied(u);
      ASSERT_EQ(got.size(), want.size()) << u;
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].id().index(), want[i].id().index()) << u << " entry " << i;
        EXPECT_EQ(got[i].id().term(), want[i].id().term()) << u << " entry " << i;
      }
    }
    if (on) {
      // The followers apply each announced commit on the delivery thread.
      EXPECT_GE(g.applied_off_workers(), kWrites) << "no Ready ran inline";
    } else {
      EXPECT_EQ(g.applied_off_workers(), 0);
    }
  }
}

TEST(RaftDriverTest, NotifyWhenAppliedAnswersTheDeadlineAndTheShutdown) {
  const std::string root = TempRoot("driver_notify_deadline");
  Group g(root);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  const std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  for (const char* u : {"A", "B", "C"}) {
    if (u != leader) g.net().Cut(leader, u);
  }
  // Logged by the isolated leader, never committed.
  absl::StatusOr<consensus::OpId> a = g.driver(leader)->Propose(Write("a"));
  absl::StatusOr<consensus::OpId> b = g.driver(leader)->Propose(Write("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  Answer expired, stopped;
  g.driver(leader)->NotifyWhenApplied(*a, absl::Now() + absl::Milliseconds(30),
                                      expired.Callback());
  g.driver(leader)->NotifyWhenApplied(*b, absl::Now() + kWait, stopped.Callback());
  ASSERT_TRUE(expired.Wait());
  EXPECT_EQ(expired.status.code(), absl::StatusCode::kDeadlineExceeded) << expired.status;
  EXPECT_FALSE(stopped.done.HasBeenNotified());
  g.Stop(leader);  // Shutdown answers what is left before it returns
  ASSERT_TRUE(stopped.done.HasBeenNotified());
  EXPECT_EQ(stopped.status.code(), absl::StatusCode::kUnavailable) << stopped.status;
}

TEST(RaftDriverTest, NotifyWhenAppliedAnswersAbortedWhenANewLeaderReplacedTheEntry) {
  const std::string root = TempRoot("driver_notify_aborted");
  Group g(root);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  const std::string old_leader = g.WaitForLeader();
  ASSERT_FALSE(old_leader.empty());
  ASSERT_TRUE(g.driver(old_leader)->Replicate(Write("committed"), kWait).ok());
  for (const char* u : {"A", "B", "C"}) {
    if (u != old_leader) g.net().Cut(old_leader, u);
  }
  absl::StatusOr<consensus::OpId> lost = g.driver(old_leader)->Propose(Write("lost"));
  ASSERT_TRUE(lost.ok()) << lost.status();
  Answer answer;
  g.driver(old_leader)->NotifyWhenApplied(*lost, absl::Now() + kWait, answer.Callback());
  const std::string new_leader = g.WaitForLeader(old_leader);
  ASSERT_FALSE(new_leader.empty());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(g.driver(new_leader)->Replicate(Write("new" + std::to_string(i)), kWait).ok());
  }
  // Healed, the old leader takes the new history: another entry is applied
  // at the lost one's index.
  g.net().Heal();
  ASSERT_TRUE(answer.Wait());
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kAborted) << answer.status;
}

TEST_P(RaftDriverRoundsTooTest, AddNonVoterPromoteAndRemoveThroughTheLog) {
  const std::string root = TempRoot(Name("driver_membership"));
  Group g(root);
  g.set_scheduler(scheduler());
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("before"), kWait).ok());
  // D starts knowing only the old config (as a tablet copy would leave it)
  // and learns the rest from the log.
  g.AddUuid("D");
  ASSERT_TRUE(g.Start("D").ok());
  raft::ConfigChange add;
  add.type = raft::ChangeType::kAddNonVoter;
  add.uuid = "D";
  add.cas_config_opid_index = -1;
  absl::StatusOr<consensus::OpId> id = g.driver(leader)->ChangeConfig(add);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(g.driver(leader)->WaitForApplied(*id, kWait).ok());
  raft::ConfigChange promote;
  promote.type = raft::ChangeType::kPromote;
  promote.uuid = "D";
  promote.cas_config_opid_index = id->index();
  id = g.driver(leader)->ChangeConfig(promote);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(g.driver(leader)->WaitForApplied(*id, kWait).ok());
  raft::RaftStatus st = g.driver(leader)->GetStatus();
  EXPECT_TRUE(raft::IsVoter(st.committed_config, "D"));
  EXPECT_EQ(st.committed_config.opid_index(), id->index());
  // D caught up and persisted the committed config in its cmeta.
  ASSERT_TRUE(g.WaitForApplied("D", g.Applied(leader).size()));
  absl::Time deadline = absl::Now() + kWait;
  absl::StatusOr<consensus::ConsensusMetadataPB> cmeta;
  while (absl::Now() < deadline) {
    cmeta = meta::LoadConsensusMeta(io::JoinPath(root, "cmeta-D"));
    if (cmeta.ok() && cmeta->committed_config().opid_index() == id->index()) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(cmeta.ok()) << cmeta.status();
  EXPECT_EQ(cmeta->committed_config().opid_index(), id->index());
  // Remove a follower other than D.
  std::string victim;
  for (const char* u : {"A", "B", "C"}) {
    if (u != leader) victim = u;
  }
  raft::ConfigChange remove;
  remove.type = raft::ChangeType::kRemovePeer;
  remove.uuid = victim;
  id = g.driver(leader)->ChangeConfig(remove);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(g.driver(leader)->WaitForApplied(*id, kWait).ok());
  EXPECT_FALSE(raft::IsMember(g.driver(leader)->GetStatus().committed_config, victim));
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("after"), kWait).ok());
}

// Issue 10: the unsafe change answers only once its entry is in the WAL (a
// crash after an earlier answer could forget a change the operator was told
// happened). It is refused until the survivor stopped hearing its leader.
TEST_P(RaftDriverRoundsTooTest, UnsafeChangeConfigAnswersOnceTheEntryIsDurable) {
  const std::string root = TempRoot(Name("driver_unsafe"));
  Group g(root);
  g.set_scheduler(scheduler());
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForLeader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("before"), kWait).ok());
  std::string survivor;
  for (const char* u : {"A", "B", "C"}) {
    if (u != leader && survivor.empty()) survivor = u;
  }
  for (const char* u : {"A", "B", "C"}) {
    if (u != survivor) g.Stop(u);
  }
  consensus::RaftConfigPB forced;
  auto* p = forced.add_peers();
  p->set_permanent_uuid(survivor);
  p->set_member_type(consensus::RaftPeerPB::VOTER);
  absl::StatusOr<consensus::OpId> id;
  bool refused_first = false;
  for (absl::Time end = absl::Now() + kWait; absl::Now() < end; absl::SleepFor(absl::Milliseconds(5))) {
    id = g.driver(survivor)->UnsafeChangeConfig(forced, /*force=*/false, absl::Seconds(5));
    if (!absl::IsFailedPrecondition(id.status())) break;
    refused_first = true;  // still within the lease of the leader just stopped
  }
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(refused_first);
  // Durable at the moment of the answer: the WAL holds the forced entry.
  EXPECT_EQ(g.driver(survivor)->wal()->LastOpId().index(), id->index());
  EXPECT_EQ(g.driver(survivor)->wal()->LastOpId().term(), id->term());
}

// Issue 10: no stale reads from a deposed leader. The leader is cut off; the
// other two elect a new one and commit a write; from then on the old leader,
// if it still believes it leads, refuses leader reads (its lease lapsed).
TEST(RaftDriverTest, IsolatedLeaderRefusesReadsOnceANewLeaderCommitted) {
  const std::string root = TempRoot("driver_lease");
  Group g(root);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  const std::string old = g.WaitForLeader();
  ASSERT_FALSE(old.empty());
  ASSERT_TRUE(g.driver(old)->Replicate(Write("before"), kWait).ok());
  for (absl::Time end = absl::Now() + kWait;
       absl::Now() < end && !g.driver(old)->CheckLeaderRead().ok();) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(g.driver(old)->CheckLeaderRead().ok()) << g.driver(old)->CheckLeaderRead();
  for (const char* u : {"A", "B", "C"}) {
    if (u != old) g.net().Cut(old, u);
  }
  const std::string fresh = g.WaitForLeader(/*exclude=*/old);
  ASSERT_FALSE(fresh.empty());
  ASSERT_TRUE(g.driver(fresh)->Replicate(Write("after"), kWait).ok());
  // The new leader acknowledged a write the old one never saw.
  absl::Status read = g.driver(old)->CheckLeaderRead();
  EXPECT_FALSE(read.ok()) << "the deposed leader would serve a stale read";
  if (g.driver(old)->GetStatus().role == raft::Role::kLeader) {
    EXPECT_EQ(read.code(), absl::StatusCode::kUnavailable) << read;
  }
}

// Quiescence (issue 15): an idle group quiesces; a leader read wakes the
// leader and is served once the wake-up heartbeat round renewed its lease.
TEST(RaftDriverTest, QuiescedLeaderWakesForAReadAndServesIt) {
  const std::string root = TempRoot("driver_quiesce_read");
  Group g(root, /*quiesce=*/true);
  const std::string leader = g.StartAllAndElect();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("x"), kWait).ok());
  ASSERT_TRUE(g.WaitForAllQuiesced());
  absl::SleepFor(absl::Milliseconds(200));  // 20 ticks: far past the lease
  EXPECT_TRUE(g.driver(leader)->GetStatus().quiesced);
  absl::Status read = g.driver(leader)->CheckLeaderRead(/*wake_wait=*/kWait);
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_FALSE(g.driver(leader)->GetStatus().quiesced);
  // Idle again: back to quiescence.
  EXPECT_TRUE(g.WaitForAllQuiesced());
}

// The leader of a quiesced group dies: its server's liveness calls stop, the
// quiesced followers notice and elect a new leader, which commits.
TEST(RaftDriverTest, DeadLeaderOfAQuiescedGroupIsReplaced) {
  const std::string root = TempRoot("driver_quiesce_failover");
  Group g(root, /*quiesce=*/true);
  const std::string old = g.StartAllAndElect();
  ASSERT_FALSE(old.empty());
  ASSERT_TRUE(g.WaitForAllQuiesced());
  ASSERT_TRUE(g.WaitForAllAsleep());  // only the liveness watches can wake them
  g.Stop(old);
  const std::string fresh = g.WaitForLeader(/*exclude=*/old);
  ASSERT_FALSE(fresh.empty());
  EXPECT_TRUE(g.driver(fresh)->Replicate(Write("after"), kWait).ok());
}

// The leader's server restarts without the replica (it came back FAILED):
// the server is never silent, but its new incarnation wakes the quiesced
// followers, which elect a new leader (found by rebuild_replica_test).
TEST(RaftDriverTest, QuiescedGroupWhoseLeaderServerRestartedWithoutItElectsANewLeader) {
  const std::string root = TempRoot("driver_quiesce_restart");
  Group g(root, /*quiesce=*/true);
  const std::string old = g.StartAllAndElect();
  ASSERT_FALSE(old.empty());
  ASSERT_TRUE(g.WaitForAllQuiesced());
  ASSERT_TRUE(g.WaitForAllAsleep());  // only the liveness watches can wake them
  g.RestartServerWithoutReplica(old);
  const std::string fresh = g.WaitForLeader(/*exclude=*/old);
  ASSERT_FALSE(fresh.empty());
  EXPECT_TRUE(g.driver(fresh)->Replicate(Write("after"), kWait).ok());
}

// Quiesced replicas stop ticking (the timer's work is per server, not per
// replica); a leader woken after sleeping is credited with the ticks it
// slept through, so acknowledgements from before its sleep do not count as
// a fresh read lease.
TEST(RaftDriverTest, SleepingQuiescedLeaderHasNoLeaseUntilItsPeersAnswerAgain) {
  const std::string root = TempRoot("driver_quiesce_sleep");
  Group g(root, /*quiesce=*/true);
  const std::string leader = g.StartAllAndElect();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("x"), kWait).ok());
  ASSERT_TRUE(g.WaitForAllQuiesced());
  // The leader asleep for 30 ticks without a break (past any lease). On a
  // loaded machine a late liveness call can wake a follower, whose pre-vote
  // wakes the leader (a fresh lease, rightly): then try again.
  bool slept_through = false;
  for (int attempt = 0; attempt < 20 && !slept_through; ++attempt) {
    ASSERT_TRUE(g.WaitForAllAsleep());
    const int64_t sleeps = g.driver(leader)->sleep_count();
    const uint64_t activity = g.driver(leader)->activity();
    absl::SleepFor(absl::Milliseconds(300));
    slept_through =
        g.driver(leader)->asleep() && g.driver(leader)->sleep_count() == sleeps;
    // Asleep, nothing happened: the activity count (the heartbeat report's
    // cache key) stays put.
    if (slept_through) {
      EXPECT_EQ(g.driver(leader)->activity(), activity);
    }
  }
  ASSERT_TRUE(slept_through);
  // Cut off (its peers stay asleep: the liveness calls go on), the leader
  // hears no answer to its wake-up round: acknowledgements from before its
  // sleep must not serve the read.
  for (const char* u : {"A", "B", "C"}) {
    if (u != leader) g.net().Cut(leader, u);
  }
  absl::Status stale = g.driver(leader)->CheckLeaderRead(/*wake_wait=*/absl::Milliseconds(20));
  EXPECT_EQ(stale.code(), absl::StatusCode::kUnavailable) << stale;
  EXPECT_FALSE(g.driver(leader)->asleep());
  g.net().Heal();
  // The wake-up round's answers renew it (the group is awake now, so a read
  // no longer waits for them: poll).
  absl::Status read;
  for (absl::Time deadline = absl::Now() + kWait; absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(2))) {
    read = g.driver(leader)->CheckLeaderRead(/*wake_wait=*/absl::ZeroDuration());
    if (read.ok()) break;
  }
  EXPECT_TRUE(read.ok()) << read;
  // A write wakes the group and commits; then it sleeps again.
  const uint64_t before_write = g.driver(leader)->activity();
  ASSERT_TRUE(g.driver(leader)->Replicate(Write("y"), kWait).ok());
  EXPECT_GT(g.driver(leader)->activity(), before_write);
  EXPECT_TRUE(g.WaitForAllAsleep());
}

TEST(PeerLivenessTest, WatchFiresOnceOnSilenceOrANewIncarnation) {
  auto now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  PeerLiveness l([&now] { return now; });
  l.Heard("S1", /*incarnation=*/7);
  l.Heard("S2", /*incarnation=*/9);
  int silent_fired = 0, restart_fired = 0, unwatched_fired = 0;
  const absl::Duration silence = absl::Milliseconds(300);
  l.Watch("S1", 7, silence, [&] { ++silent_fired; }, nullptr, absl::Milliseconds(100));
  l.Watch("S2", 9, silence, [&] { ++restart_fired; }, nullptr, absl::Milliseconds(100));
  const uint64_t dropped =
      l.Watch("S2", 9, silence, [&] { ++unwatched_fired; }, nullptr, absl::Milliseconds(100));
  l.Unwatch(dropped);
  EXPECT_EQ(l.watch_count(), 2);
  now += std::chrono::milliseconds(200);
  l.Heard("S2", 9);  // same incarnation: nothing
  l.CheckWatches();  // S1 silent 200 ms < 300 ms
  EXPECT_EQ(silent_fired + restart_fired, 0);
  now += std::chrono::milliseconds(100);
  l.CheckWatches();  // S1 silent 300 ms
  EXPECT_EQ(silent_fired, 1);
  EXPECT_EQ(restart_fired, 0);
  l.Heard("S2", 10);  // S2 restarted: fires at once, not at the next check
  EXPECT_EQ(restart_fired, 1);
  l.CheckWatches();
  l.Heard("S2", 11);
  EXPECT_EQ(silent_fired, 1);  // once each
  EXPECT_EQ(restart_fired, 1);
  EXPECT_EQ(unwatched_fired, 0);
  EXPECT_EQ(l.watch_count(), 0);
  // Watching a server already restarted or silent fires before Watch returns.
  int immediate = 0;
  l.Watch("S2", 9, silence, [&] { ++immediate; }, nullptr, absl::Milliseconds(100));
  l.Watch("never-heard", 0, silence, [&] { ++immediate; }, nullptr, absl::Milliseconds(100));
  EXPECT_EQ(immediate, 2);
  EXPECT_EQ(l.watch_count(), 0);
}

TEST(PeerLivenessTest, SilenceIsMeasuredFromTheLastCallOnTheSteadyClock) {
  auto now = std::chrono::steady_clock::time_point();
  PeerLiveness l([&now] { return now; });
  EXPECT_EQ(l.SilentFor("S1"), absl::InfiniteDuration());
  l.Heard("S1");
  l.Heard("");  // ignored
  now += std::chrono::milliseconds(250);
  EXPECT_EQ(l.SilentFor("S1"), absl::Milliseconds(250));
  l.Heard("S1");
  EXPECT_EQ(l.SilentFor("S1"), absl::ZeroDuration());
  EXPECT_EQ(l.SilentFor(""), absl::InfiniteDuration());
}

TEST(RaftDriverTest, MissingCmetaWithoutBootstrapConfigIsAnError) {
  const std::string root = TempRoot("driver_no_cmeta");
  InMemoryNetwork net;
  auto t = net.TransportFor("A");
  DriverOptions o;
  o.core.tablet_id = "t1";
  o.core.self_uuid = "A";
  o.wal_dir = io::JoinPath(root, "wal");
  o.cmeta_path = io::JoinPath(root, "cmeta");
  absl::StatusOr<std::unique_ptr<RaftDriver>> d = RaftDriver::Open(o, t.get());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kmend::consensus_driver
