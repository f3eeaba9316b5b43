#include "testing/raftsim/cluster.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::raftsim {

Cluster::Cluster(std::vector<std::string> uuids, int voters, uint64_t seed,
                 raft::CoreOptions base)
    : rng_(seed), checker_(&node_ptrs_), liveness_(base.quiesce) {
  std::vector<std::string> v(uuids.begin(), uuids.begin() + voters);
  consensus::RaftConfigPB config = MakeConfig(v);
  for (size_t i = 0; i < uuids.size(); ++i) {
    consensus::RaftConfigPB initial =
        static_cast<int>(i) < voters ? config : consensus::RaftConfigPB();
    if (static_cast<int>(i) >= voters) initial.set_opid_index(-1);
    raft::CoreOptions options = base;
    if (liveness_) {
      // As the tablet server's driver wires it (lib/consensus/raft_driver.cc):
      // heard within an election timeout, by the per-server liveness below.
      const std::string self = uuids[i];
      options.server_heard_recently = [this, self, ticks = base.election_ticks](
                                          const std::string& v) {
        return SilentTicks(self, v) < ticks;
      };
    }
    nodes_.push_back(std::make_unique<SimNode>(uuids[i], std::move(options), initial));
    node_ptrs_.push_back(nodes_.back().get());
    by_uuid_[uuids[i]] = nodes_.back().get();
    absl::Status s = nodes_.back()->Start(rng_());
    if (!s.ok()) abort();
  }
}

raft::CoreOptions Cluster::DefaultOptions() {
  raft::CoreOptions o;
  o.tablet_id = "tablet";
  o.election_ticks = 10;
  o.heartbeat_ticks = 2;
  o.max_entries_per_message = 8;
  o.max_inflight_messages = 4;
  return o;
}

consensus::RaftConfigPB Cluster::MakeConfig(const std::vector<std::string>& voters) {
  consensus::RaftConfigPB c;
  c.set_opid_index(-1);
  for (const std::string& u : voters) {
    auto* p = c.add_peers();
    p->set_permanent_uuid(u);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
  }
  return c;
}

SimNode& Cluster::node(const std::string& uuid) { return *by_uuid_.at(uuid); }

uint64_t Cluster::RandomBelow(uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng_();
  } while (x >= limit);
  return x % n;
}

bool Cluster::Chance(double p) {
  if (p <= 0) return false;
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p;
}

void Cluster::Enqueue(std::vector<consensus::RaftMessagePB>* msgs) {
  messages_sent_ += static_cast<int64_t>(msgs->size());
  for (auto& m : *msgs) {
    if (Chance(faults.loss)) continue;
    int copies = Chance(faults.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      int64_t delay = 0;
      if (faults.delay_max > 0) {
        const int lo = std::min(faults.delay_min, faults.delay_max);
        delay = lo + static_cast<int64_t>(RandomBelow(faults.delay_max - lo + 1));
      }
      queue_.push_back(InFlight{now_ + delay, order_++, m});
    }
  }
  msgs->clear();
}

void Cluster::ProcessReadies() {
  bool any = true;
  std::vector<consensus::RaftMessagePB> out;
  while (any) {
    any = false;
    for (SimNode* n : node_ptrs_) {
      while (n->up()) {
        SimNode::CrashPoint crash = SimNode::CrashPoint::kNone;
        if (Chance(crash_after_persist)) {
          crash = Chance(0.5) ? SimNode::CrashPoint::kAfterPersist
                              : SimNode::CrashPoint::kBeforePersist;
        }
        if (!n->ProcessReady(&out, crash)) break;
        any = true;
        checker_.AfterReady(*n);
        Enqueue(&out);
        if (auto_tablet_copy) {
          size_t& seen = copy_requests_seen_[n->uuid()];
          const std::vector<std::string> requests = n->tablet_copy_requests();
          for (; seen < requests.size(); ++seen) {
            SimNode& target = node(requests[seen]);
            // The target's StartTabletCopy refuses a source whose last
            // logged term is behind its own (lib/rebuild/target_term.h): it
            // may hold entries the source lacks, e.g. committed ones of a
            // later term, when the source is a stale leader (check-quorum
            // off) that finds the target past what its own log holds.
            auto last_term = [](const SimNode& s) {
              absl::StatusOr<int64_t> t = s.storage().Term(s.storage().LastIndex());
              return t.ok() ? *t : 0;
            };
            if (last_term(target) > last_term(*n)) continue;
            target.Crash();
            target.InstallTabletCopy(*n);
            if (!target.Start(rng_()).ok()) abort();
            ++tablet_copies_;
            if (on_tablet_copy) on_tablet_copy(target.uuid());
          }
        }
        if (!n->up()) break;
      }
    }
    checker_.CheckLeaders();
  }
}

bool Cluster::IsCut(const Cuts& cuts, const std::string& a, const std::string& b) {
  return cuts.count({a, b}) > 0 || cuts.count({b, a}) > 0;
}

bool Cluster::Connected(const std::string& a, const std::string& b) const {
  return !IsCut(cut_, a, b);
}

void Cluster::Deliver(const consensus::RaftMessagePB& m) {
  auto it = by_uuid_.find(m.to_uuid());
  if (it == by_uuid_.end() || !it->second->up()) return;
  if (!Connected(m.from_uuid(), m.to_uuid())) return;
  if (IsCut(groups_cut_, m.from_uuid(), m.to_uuid())) return;
  if (liveness_) last_heard_[{m.to_uuid(), m.from_uuid()}] = now_;
  absl::Status s = it->second->core()->Step(m);
  if (!s.ok()) {
    // Every message in the simulation is well-formed: a rejection is a bug.
    abort();
  }
}

void Cluster::DeliverDue(int rounds) {
  ProcessReadies();
  for (int r = 0; r < rounds; ++r) {
    std::vector<InFlight> due;
    std::vector<InFlight> later;
    for (auto& f : queue_) (f.deliver_at <= now_ ? due : later).push_back(std::move(f));
    queue_ = std::move(later);
    if (due.empty()) break;
    // Reordering: a random permutation (Fisher-Yates with our own mapping).
    for (size_t i = due.size(); i > 1; --i) {
      std::swap(due[i - 1], due[RandomBelow(i)]);
    }
    for (const InFlight& f : due) {
      Deliver(f.msg);
      checker_.CheckLeaders();
    }
    ProcessReadies();
  }
}

void Cluster::Stabilize() {
  for (int i = 0; i < 1000; ++i) {
    ProcessReadies();
    if (queue_.empty()) return;
    for (auto& f : queue_) f.deliver_at = std::min(f.deliver_at, now_);
    DeliverDue(1);
  }
}

void Cluster::Tick(const std::string& uuid) {
  SimNode& n = node(uuid);
  if (n.up()) n.core()->Tick();
  checker_.CheckLeaders();
}

int64_t Cluster::SilentTicks(const std::string& listener, const std::string& speaker) const {
  auto it = last_heard_.find({listener, speaker});
  return it == last_heard_.end() ? now_ : now_ - it->second;
}

void Cluster::TickAll() {
  ++now_;
  if (liveness_) {
    for (SimNode* a : node_ptrs_) {
      for (SimNode* b : node_ptrs_) {
        if (a == b || !a->up() || !b->up() || !Connected(a->uuid(), b->uuid())) continue;
        if (Chance(faults.loss)) continue;
        last_heard_[{b->uuid(), a->uuid()}] = now_;
      }
    }
  }
  for (SimNode* n : node_ptrs_) {
    if (!n->up()) continue;
    // As the server's driver does before each tick (lib/consensus).
    for (const std::string& w : n->core()->ServersToWatch()) {
      const int64_t silent = SilentTicks(n->uuid(), w);
      if (silent >= kSilentTicks) n->core()->ReportSilentServer(w, silent);
    }
    n->core()->Tick();
  }
  checker_.CheckLeaders();
  DeliverDue();
}

void Cluster::Cut(const std::string& a, const std::string& b) { cut_.insert({a, b}); }

void Cluster::Isolate(const std::string& uuid) {
  for (SimNode* n : node_ptrs_) {
    if (n->uuid() != uuid) Cut(uuid, n->uuid());
  }
}

void Cluster::CutGroupsOnly(const std::string& a, const std::string& b) {
  groups_cut_.insert({a, b});
}

void Cluster::HealNetwork() {
  cut_.clear();
  groups_cut_.clear();
}

void Cluster::Crash(const std::string& uuid) { node(uuid).Crash(); }

void Cluster::Restart(const std::string& uuid) {
  SimNode& n = node(uuid);
  if (n.up()) return;
  absl::Status s = n.Start(rng_());
  if (!s.ok()) abort();
}

void Cluster::DropQueued(const std::function<bool(const consensus::RaftMessagePB&)>& pred) {
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const InFlight& f) { return pred(f.msg); }),
               queue_.end());
}

void Cluster::MutateQueued(const std::function<void(consensus::RaftMessagePB*)>& mutate) {
  for (InFlight& f : queue_) mutate(&f.msg);
}

std::vector<consensus::RaftMessagePB> Cluster::Queued() const {
  std::vector<consensus::RaftMessagePB> out;
  for (const auto& f : queue_) out.push_back(f.msg);
  return out;
}

std::string Cluster::Leader() const {
  std::string best;
  int64_t best_term = -1;
  for (const SimNode* n : node_ptrs_) {
    if (n->up() && n->core()->role() == raft::Role::kLeader && n->core()->term() > best_term) {
      best = n->uuid();
      best_term = n->core()->term();
    }
  }
  return best;
}

absl::StatusOr<consensus::OpId> Cluster::ProposeAt(const std::string& uuid,
                                                   const std::string& payload) {
  SimNode& n = node(uuid);
  if (!n.up()) return absl::UnavailableError(absl::StrCat(uuid, " is down"));
  consensus::ReplicateMsg m;
  m.set_op_type(consensus::NO_OP);
  m.set_timestamp(0);
  m.mutable_noop_request()->set_payload_for_tests(payload);
  return n.core()->Propose(std::move(m));
}

}  // namespace kmend::raftsim
