#include "server/master/rereplicator.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"

namespace kmend::master {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point t, Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

// Steps that finish a replacement (or clean up) start before those that
// begin new work, when workers are short.
int Priority(RereplicationAction::Type t) {
  switch (t) {
    case RereplicationAction::kRemove:
    case RereplicationAction::kPromote:
    case RereplicationAction::kDeleteFailed:
      return 0;
    case RereplicationAction::kCopy:
      return 1;
    default:
      return 2;
  }
}

// How long after a step its servers' reports are awaited at most: a server
// that stops heartbeating must not freeze the tablet (the policy handles it).
constexpr int64_t kMaxReportWaitMs = 10000;

// Steps a worker may go on to after the one it was given: those that finish
// the replacement under way. A new placement is RunOnce's to make.
bool IsFollowOn(RereplicationAction::Type t) {
  return t == RereplicationAction::kCopy || t == RereplicationAction::kPromote ||
         t == RereplicationAction::kRemove || t == RereplicationAction::kDeleteFailed;
}

// A worker's bound on steps per task (add, copy, promote, remove, delete
// is five); then the tablet goes back to RunOnce.
constexpr int kMaxStepsPerTask = 6;

}  // namespace

Rereplicator::Rereplicator(TServerRegistry* registry, CatalogManager* catalog, int64_t delay_ms,
                           std::chrono::milliseconds rpc_timeout, int max_copies_per_server)
    : Rereplicator(registry, catalog, [&] {
        RereplicatorOptions o;
        o.delay_ms = delay_ms;
        o.rpc_timeout = rpc_timeout;
        o.max_copies_per_server = max_copies_per_server;
        return o;
      }()) {}

Rereplicator::Rereplicator(TServerRegistry* registry, CatalogManager* catalog,
                           RereplicatorOptions options)
    : registry_(registry),
      catalog_(catalog),
      options_(options),
      tasks_(options.num_workers, options.max_copies_per_server) {}

Rereplicator::~Rereplicator() { Shutdown(); }

void Rereplicator::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (grpc::ClientContext* ctx : calls_) ctx->TryCancel();
  }
  tasks_.Shutdown();
}

Rereplicator::Counters Rereplicator::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

bool Rereplicator::AwaitingReports(const std::string& tablet_id,
                                   const std::map<std::string, ServerView>& servers) {
  absl::MutexLock lock(&mu_);
  auto it = finished_.find(tablet_id);
  if (it == finished_.end()) return false;
  const int64_t since = MillisSince(it->second.at, Clock::now());
  if (since >= kMaxReportWaitMs) {
    finished_.erase(it);
    return false;
  }
  for (const std::string* uuid : {&it->second.leader_uuid, &it->second.peer_uuid}) {
    auto s = servers.find(*uuid);
    if (s == servers.end() || !s->second.live) continue;
    if (s->second.millis_since_heartbeat >= since) return true;
  }
  finished_.erase(it);
  return false;
}

Rereplicator::Snapshot Rereplicator::TakeSnapshot(const std::string& own_tablet) {
  const Clock::time_point now = Clock::now();
  std::vector<TServerSnapshot> all = registry_->List();
  Snapshot snap;
  std::map<std::string, ServerView>& servers = snap.servers;
  {
    absl::MutexLock lock(&mu_);
    for (const TServerSnapshot& ts : all) {
      const std::string& uuid = ts.registration.permanent_uuid();
      ServerView& v = servers[uuid];
      v.address = server::HostPortToString(ts.registration.rpc_address());
      v.live = ts.live;
      v.reported = ts.reported;
      v.disk_full = ts.disk_full();
      v.millis_since_heartbeat = ts.millis_since_heartbeat;
      v.in_maintenance = catalog_->InMaintenance(uuid);
      for (const auto& [id, report] : *ts.replicas) {
        const server::ReplicaStatusPB& r = *report;
        ReplicaView rv(r.data_state());
        if (r.has_last_logged_opid()) rv.last_logged_index = r.last_logged_opid().index();
        if (r.has_last_committed_opid()) {
          rv.last_committed_index = r.last_committed_opid().index();
        }
        auto f = failed_since_.find({uuid, id});
        if (f != failed_since_.end()) rv.failed_for_ms = MillisSince(f->second, now);
        v.replicas[id] = rv;
      }
    }
    for (auto it = copy_failures_.begin(); it != copy_failures_.end();) {
      if (MillisSince(it->second, now) >= options_.copy_failure_backoff_ms) {
        it = copy_failures_.erase(it);
        continue;
      }
      auto v = servers.find(it->first.second);
      if (v != servers.end()) v->second.recent_copy_failures.insert(it->first.first);
      ++it;
    }
  }

  // Every RUNNING tablet's leader (the highest term among live servers'
  // reports) and the config it reports (newer than or equal to the
  // catalog's).
  for (const TableInfoPB& info : catalog_->ListTables("")) {
    auto table = catalog_->GetTable("", info.table_id());
    if (!table.ok()) continue;
    for (const SysTabletPB& t : table->tablets) {
      if (t.state() != RUNNING) continue;
      TabletState st;
      st.tablet_id = t.tablet_id();
      st.replication_factor = info.num_replicas();
      st.config = t.config();
      int64_t leader_term = -1;
      const consensus::ConsensusStatePB* leader_cs = nullptr;
      for (const TServerSnapshot& ts : all) {
        if (!ts.live) continue;
        auto r = ts.replicas->find(t.tablet_id());
        if (r == ts.replicas->end() || r->second->role() != consensus::RaftPeerPB::LEADER) {
          continue;
        }
        const auto& cs = r->second->consensus_state();
        if (cs.current_term() > leader_term) {
          leader_term = cs.current_term();
          st.leader = ts.registration.permanent_uuid();
          leader_cs = &cs;
          if (raft::ConfigVersionOf(cs.committed_config()) >= raft::ConfigVersionOf(st.config)) {
            st.config = cs.committed_config();
          }
        }
      }
      // The leader puts its per-peer health reports on its *active* config
      // (the pending one while a change is in flight), and the catalog's
      // copy (newer when a follower's report raced ahead of the leader's)
      // has none. Carry them over by uuid, so that a peer the leader reports
      // FAILED_UNRECOVERABLE is not taken for healthy for want of a report
      // (found by unrecoverable_voter_test: the replacement was dropped as
      // "no longer needed" right after its copy).
      if (leader_cs != nullptr) {
        const consensus::RaftConfigPB& active = leader_cs->has_pending_config()
                                                    ? leader_cs->pending_config()
                                                    : leader_cs->committed_config();
        for (consensus::RaftPeerPB& p : *st.config.mutable_peers()) {
          if (p.has_health_report()) continue;
          for (const consensus::RaftPeerPB& q : active.peers()) {
            if (q.permanent_uuid() == p.permanent_uuid() && q.has_health_report()) {
              *p.mutable_health_report() = q.health_report();
            }
          }
        }
      }
      snap.tablets.push_back(std::move(st));
    }
  }

  // Incoming copies per server: running (ours in flight, or reported
  // COPYING) and waiting (a replacement placed there without data).
  std::map<std::string, std::set<std::string>> running = tasks_.CopiesInFlight();
  for (auto& [uuid, ids] : running) ids.erase(own_tablet);
  for (const auto& [uuid, v] : servers) {
    for (const auto& [id, r] : v.replicas) {
      if (r.state == server::TABLET_DATA_COPYING) running[uuid].insert(id);
    }
  }
  for (const TabletState& st : snap.tablets) {
    for (const auto& p : st.config.peers()) {
      if (p.member_type() != consensus::RaftPeerPB::NON_VOTER || !p.attrs().promote()) continue;
      auto s = servers.find(p.permanent_uuid());
      if (s == servers.end()) continue;
      if (running[p.permanent_uuid()].count(st.tablet_id) > 0) continue;
      auto r = s->second.replicas.find(st.tablet_id);
      if (r == s->second.replicas.end() || r->second.state == server::TABLET_DATA_TOMBSTONED ||
          r->second.state == server::TABLET_DATA_DELETED) {
        ++s->second.copies_waiting;
      }
    }
  }
  for (auto& [uuid, v] : servers) v.copies_running = static_cast<int>(running[uuid].size());
  snap.load = catalog_->ReplicaCounts();
  return snap;
}

RereplicationParams Rereplicator::Params(int replication_factor) const {
  RereplicationParams params;
  params.replication_factor = replication_factor;
  params.delay_ms = options_.delay_ms;
  params.failed_grace_ms = options_.failed_grace_ms;
  params.max_copies_per_server = options_.max_copies_per_server;
  params.promote_max_lag_ops = options_.promote_max_lag_ops;
  return params;
}

RereplicationAction Rereplicator::DecideFor(const std::string& tablet_id) {
  Snapshot snap = TakeSnapshot(tablet_id);
  for (const TabletState& st : snap.tablets) {
    if (st.tablet_id != tablet_id) continue;
    return NextRereplicationStep(st.tablet_id, st.config, st.leader, snap.servers, snap.load,
                                 Params(st.replication_factor));
  }
  RereplicationAction none;
  none.tablet_id = tablet_id;
  return none;
}

bool Rereplicator::WaitForReports(const std::vector<std::string>& uuids, Clock::time_point since,
                                  Clock::time_point deadline) {
  for (;;) {
    const Clock::time_point now = Clock::now();
    const int64_t elapsed_ms = MillisSince(since, now);
    bool all = true;
    for (const std::string& uuid : uuids) {
      if (uuid.empty()) continue;
      auto ts = registry_->Get(uuid);
      // A server that is gone reports nothing: the policy deals with it.
      if (!ts.has_value() || !ts->live) continue;
      all &= ts->millis_since_heartbeat < elapsed_ms;
    }
    if (all) return true;
    if (now >= deadline) return false;
    absl::MutexLock lock(&mu_);
    // Sleeps 20 ms unless shutting down.
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(20))) return false;
  }
}

int Rereplicator::RunOnce() {
  const Clock::time_point now = Clock::now();
  const std::vector<TServerSnapshot> all = registry_->List();
  const QuietInputs inputs = QuietInputs::Of(all, *catalog_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return 0;
    // The cheap exit: nothing changed since a pass that found every tablet
    // fine, and that pass's outcome depended on no clock.
    if (quiet_ && *quiet_ == inputs && failed_since_.empty() && copy_failures_.empty() &&
        finished_.empty()) {
      return 0;
    }
    quiet_.reset();
    // FAILED replicas on live servers, and how long each has been FAILED
    // without a break in this master's eyes (a restart of the master or of
    // the server starts the grace over: conservative).
    std::map<std::pair<std::string, std::string>, Clock::time_point> failed_now;
    for (const TServerSnapshot& ts : all) {
      if (!ts.live) continue;
      for (const auto& [id, r] : *ts.replicas) {
        if (r->data_state() != server::TABLET_DATA_FAILED) continue;
        auto key = std::make_pair(ts.registration.permanent_uuid(), id);
        auto seen = failed_since_.find(key);
        failed_now[key] = seen == failed_since_.end() ? now : seen->second;
      }
    }
    failed_since_ = std::move(failed_now);
  }
  // An under-replicated config (fewer voters than the table's replication
  // factor, e.g. after an unsafe config change) needs work with every
  // server healthy: such a pass has a step or a wait, so it is not quiet.
  Snapshot snap = TakeSnapshot("");
  std::map<std::string, ServerView>& servers = snap.servers;
  std::map<std::string, int64_t>& load = snap.load;
  const std::set<std::string> in_flight = tasks_.TabletsInFlight();

  std::vector<RereplicationAction> steps;
  bool quiet = inputs.all_live && in_flight.empty();
  for (const TabletState& st : snap.tablets) {
    if (in_flight.count(st.tablet_id) > 0) continue;
    if (AwaitingReports(st.tablet_id, servers)) {
      quiet = false;
      continue;
    }
    RereplicationAction a = NextRereplicationStep(st.tablet_id, st.config, st.leader, servers,
                                                  load, Params(st.replication_factor));
    if (a.type != RereplicationAction::kNone || !a.reason.empty()) quiet = false;
    if (a.type == RereplicationAction::kNone) {
      // Log what a tablet waits for, once per change of reason.
      std::string& last = last_wait_reason_[st.tablet_id];
      if (!a.reason.empty() && a.reason != last) {
        KLOG(INFO) << "re-replication of tablet " << st.tablet_id << ": " << a.reason;
      }
      last = a.reason;
      continue;
    }
    last_wait_reason_.erase(st.tablet_id);
    // Later tablets of this pass see the placements made so far.
    if (a.type == RereplicationAction::kAddNonVoter) {
      ++load[a.peer_uuid];
      ++servers[a.peer_uuid].copies_waiting;
    } else if (a.type == RereplicationAction::kCopy) {
      ServerView& v = servers[a.peer_uuid];
      ++v.copies_running;
      v.copies_waiting = std::max(0, v.copies_waiting - 1);
    }
    steps.push_back(std::move(a));
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const RereplicationAction& x, const RereplicationAction& y) {
                     return Priority(x.type) < Priority(y.type);
                   });

  int started = 0;
  for (const RereplicationAction& a : steps) {
    RereplicationTasks::Task task;
    task.tablet_id = a.tablet_id;
    if (a.type == RereplicationAction::kCopy) task.copy_destination = a.peer_uuid;
    task.run = [this, a] { Run(a); };
    // No free worker, or no copy slot after all: a later pass decides
    // afresh.
    if (!tasks_.TryStart(std::move(task))) continue;
    KLOG(INFO) << "re-replication of tablet " << a.tablet_id << ": " << ActionName(a.type) << " "
               << a.peer_uuid << " (" << a.reason << ")";
    ++started;
  }
  if (quiet && steps.empty()) quiet_ = inputs;
  absl::MutexLock lock(&mu_);
  counters_.started += started;
  return started;
}

void Rereplicator::Run(RereplicationAction a) {
  for (int step = 1;; ++step) {
    const Clock::time_point start = Clock::now();
    absl::Status s = Execute(a);
    const Clock::time_point end = Clock::now();
    if (s.ok()) {
      KLOG(INFO) << "re-replication of tablet " << a.tablet_id << ": " << ActionName(a.type)
                 << " " << a.peer_uuid << " done in " << MillisSince(start, end) << " ms";
    } else {
      KLOG(WARNING) << "re-replication of tablet " << a.tablet_id << ": " << ActionName(a.type)
                    << " " << a.peer_uuid << " after " << MillisSince(start, end) << " ms: " << s;
    }
    {
      absl::MutexLock lock(&mu_);
      ++(s.ok() ? counters_.succeeded : counters_.failed);
      // A copy that failed, or a replacement dropped because its copy did
      // not work out: try other servers for this tablet for a while.
      if ((a.type == RereplicationAction::kCopy && !s.ok()) ||
          (a.type == RereplicationAction::kRemove && a.copy_failed && s.ok())) {
        copy_failures_[{a.tablet_id, a.peer_uuid}] = end;
      }
    }
    // The copy slot is free again, whatever the outcome.
    if (a.type == RereplicationAction::kCopy) tasks_.SetCopyDestination(a.tablet_id, "");

    // Go on with the same replacement once the servers involved reported
    // this step's effect; while it waits for progress (catch-up, copy
    // slot), look again after each round of reports, within a bound.
    RereplicationAction next;
    bool go_on = false;
    if (s.ok() && step < kMaxStepsPerTask) {
      const Clock::time_point deadline = end + std::chrono::milliseconds(kMaxReportWaitMs);
      Clock::time_point since = end;
      while (WaitForReports({a.leader_uuid, a.peer_uuid}, since, deadline)) {
        next = DecideFor(a.tablet_id);
        if (IsFollowOn(next.type)) {
          go_on = true;
          break;
        }
        if (next.type != RereplicationAction::kNone || !next.in_progress) break;
        since = Clock::now();
      }
    }
    if (go_on && next.type == RereplicationAction::kCopy &&
        !tasks_.SetCopyDestination(next.tablet_id, next.peer_uuid)) {
      go_on = false;  // no copy slot after all: a later pass retries
    }
    if (!go_on) {
      absl::MutexLock lock(&mu_);
      finished_[a.tablet_id] = Finished{Clock::now(), a.leader_uuid, a.peer_uuid};
      return;
    }
    KLOG(INFO) << "re-replication of tablet " << next.tablet_id << ": " << ActionName(next.type)
               << " " << next.peer_uuid << " (" << next.reason << "; follows "
               << ActionName(a.type) << ")";
    {
      absl::MutexLock lock(&mu_);
      ++counters_.started;
    }
    a = std::move(next);
  }
}

absl::Status Rereplicator::Track(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::CancelledError("re-replication is shutting down");
  calls_.insert(ctx);
  return absl::OkStatus();
}

void Rereplicator::Untrack(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  calls_.erase(ctx);
}

absl::Status Rereplicator::Execute(const RereplicationAction& a) {
  switch (a.type) {
    case RereplicationAction::kCopy:
      return ExecuteCopy(a);
    case RereplicationAction::kDeleteFailed:
      return ExecuteDelete(a);
    case RereplicationAction::kAddNonVoter:
    case RereplicationAction::kPromote:
    case RereplicationAction::kRemove:
      return ExecuteChangeConfig(a);
    case RereplicationAction::kNone:
      break;
  }
  return absl::InternalError("unexpected re-replication step");
}

absl::Status Rereplicator::ExecuteCopy(const RereplicationAction& a) {
  auto stub = tserver::TabletServerService::NewStub(server::NewChannel(a.peer_address));
  tserver::CreateTabletRequestPB req;
  req.set_dest_uuid(a.peer_uuid);
  req.set_tablet_id(a.tablet_id);
  req.set_copy_from_address(a.leader_address);
  tserver::CreateTabletResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, options_.rpc_timeout * 10);
  absl::Status tracked = Track(&ctx);
  if (!tracked.ok()) return tracked;
  absl::Status s = server::FromGrpcStatus(
      stub->CreateTablet(&ctx, req, &resp),
      absl::StrCat("CreateTablet (copy from ", a.leader_address, ") on ", a.peer_uuid));
  Untrack(&ctx);
  // A copy that finished after the snapshot this step was decided on: done.
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::Status Rereplicator::ExecuteDelete(const RereplicationAction& a) {
  auto stub = tserver::TabletServerService::NewStub(server::NewChannel(a.peer_address));
  tserver::DeleteTabletRequestPB req;
  req.set_dest_uuid(a.peer_uuid);
  req.set_tablet_id(a.tablet_id);
  // A FAILED replica cannot be tombstoned (its files may not even parse):
  // delete it whole. The bound keeps a replica whose own config is newer
  // than the one it was judged by.
  req.set_tombstone(false);
  req.set_cas_config_opid_index_less_or_equal(a.cas_config_opid_index);
  req.set_reason(absl::StrCat("re-replication: FAILED replica evicted from the config at opid_index ",
                              a.cas_config_opid_index));
  tserver::DeleteTabletResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, options_.rpc_timeout);
  absl::Status tracked = Track(&ctx);
  if (!tracked.ok()) return tracked;
  absl::Status s = server::FromGrpcStatus(stub->DeleteTablet(&ctx, req, &resp),
                                          absl::StrCat("DeleteTablet on ", a.peer_uuid));
  Untrack(&ctx);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::Status Rereplicator::ExecuteChangeConfig(const RereplicationAction& a) {
  tserver::ChangeConfigRequestPB req;
  req.set_tablet_id(a.tablet_id);
  req.set_cas_config_opid_index(a.cas_config_opid_index);
  consensus::RaftPeerPB* peer = req.mutable_peer();
  peer->set_permanent_uuid(a.peer_uuid);
  switch (a.type) {
    case RereplicationAction::kAddNonVoter: {
      req.set_type(tserver::ADD_PEER);
      peer->set_member_type(consensus::RaftPeerPB::NON_VOTER);
      peer->mutable_attrs()->set_promote(true);
      auto ts = registry_->Get(a.peer_uuid);
      if (!ts.has_value()) return absl::NotFoundError("target server left the registry");
      *peer->mutable_last_known_addr() = ts->registration.rpc_address();
      break;
    }
    case RereplicationAction::kPromote:
      req.set_type(tserver::MODIFY_PEER);
      peer->set_member_type(consensus::RaftPeerPB::VOTER);
      peer->mutable_attrs()->set_promote(false);
      break;
    case RereplicationAction::kRemove:
      req.set_type(tserver::REMOVE_PEER);
      break;
    default:
      return absl::InternalError("unexpected re-replication config step");
  }
  auto stub = tserver::ConsensusService::NewStub(server::NewChannel(a.leader_address));
  tserver::ChangeConfigResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, options_.rpc_timeout);
  absl::Status tracked = Track(&ctx);
  if (!tracked.ok()) return tracked;
  absl::Status s = server::FromGrpcStatus(
      stub->ChangeConfig(&ctx, req, &resp),
      absl::StrCat("ChangeConfig ", ActionName(a.type), " ", a.peer_uuid, " on leader ",
                   a.leader_uuid, " (", a.leader_address, ")"));
  Untrack(&ctx);
  return s;
}

}  // namespace kmend::master
