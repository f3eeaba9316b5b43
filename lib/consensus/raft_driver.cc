#include "lib/consensus/raft_driver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/consensus/held_sends.h"
#include "lib/consensus/inline_sync.h"
#include "lib/consensus/wal_log.h"
#include "lib/meta/cmeta.h"

namespace kmend::consensus_driver {

RaftDriver::RaftDriver(DriverOptions options, Transport* transport)
    : options_(std::move(options)), transport_(transport) {}

absl::StatusOr<std::unique_ptr<RaftDriver>> RaftDriver::Open(DriverOptions options,
                                                             Transport* transport) {
  std::unique_ptr<RaftDriver> d(new RaftDriver(std::move(options), transport));
  absl::Status s = d->Init();
  if (!s.ok()) return s;
  RaftDriver* p = d.get();
  {
    absl::MutexLock l(&p->mu_);
    p->next_tick_ =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(p->options_.tick_interval);
  }
  p->scheduler_ = p->options_.scheduler != nullptr ? p->options_.scheduler
                                                   : RaftScheduler::Shared();
  p->slot_ = p->scheduler_->Register(
      [p] { p->OnTick(); }, [p] { p->RunReady(); }, p->options_.tick_interval,
      RaftScheduler::RoundHooks{[p] { return p->PrepareRound(); }, [p] { p->SyncRound(); },
                                [p] { p->FinishRound(); }});
  // Replayed entries to apply, a term to store: the first Ready may be due.
  absl::MutexLock l(&p->mu_);
  p->MaybeScheduleLocked();
  return d;
}

absl::Status RaftDriver::Init() {
  const std::string& tablet = options_.core.tablet_id;
  // 1. The log: replay the WAL.
  if (options_.wal_dir.empty()) {
    log_ = std::make_unique<MemoryDurableLog>();
  } else {
    wal::LogOptions wo = options_.wal_options;
    if (wo.tablet_id.empty()) wo.tablet_id = tablet;
    absl::StatusOr<std::unique_ptr<wal::Log>> wal = wal::Log::Open(options_.wal_dir, wo);
    if (!wal.ok()) return wal.status();
    wal_ = std::move(*wal);
    absl::StatusOr<std::unique_ptr<WalLog>> wl = WalLog::Open(wal_.get());
    if (!wl.ok()) return wl.status();
    log_ = std::move(*wl);
  }
  // 2. Consensus metadata.
  bool store = false;
  if (!options_.cmeta_path.empty()) {
    absl::StatusOr<consensus::ConsensusMetadataPB> loaded =
        meta::LoadConsensusMeta(options_.cmeta_path);
    if (loaded.ok()) {
      cmeta_ = std::move(*loaded);
    } else if (loaded.status().code() == absl::StatusCode::kNotFound) {
      store = true;
    } else {
      return loaded.status();
    }
  } else {
    store = true;  // in memory: start from the bootstrap config
  }
  if (store) {
    if (options_.bootstrap_config.peers_size() == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tablet ", tablet, ": no consensus metadata at ", options_.cmeta_path,
          " and no bootstrap config"));
    }
    *cmeta_.mutable_committed_config() = options_.bootstrap_config;
    if (!cmeta_.committed_config().has_opid_index()) {
      cmeta_.mutable_committed_config()->set_opid_index(-1);
    }
    cmeta_.set_current_term(0);
    if (!options_.cmeta_path.empty()) {
      absl::Status s = meta::StoreConsensusMeta(options_.cmeta_path, cmeta_);
      if (!s.ok()) return s;
    }
  }
  // 3. The core.
  raft::CoreOptions co = options_.core;
  // Without a liveness table a quiesced follower could not notice a dead
  // leader; a silence threshold at or past the election timeout would delay
  // elections. Either way: no quiescence.
  if (options_.liveness == nullptr || options_.quiesce_silent_ticks < 1 ||
      options_.quiesce_silent_ticks >= co.election_ticks) {
    co.quiesce = false;
  }
  // Check-quorum's second window for a leader whose voters' servers talk
  // (CoreOptions::server_heard_recently): the liveness table knows.
  if (options_.liveness != nullptr && !co.server_heard_recently) {
    PeerLiveness* liveness = options_.liveness;
    const absl::Duration window = options_.tick_interval * co.election_ticks;
    co.server_heard_recently = [liveness, window](const std::string& uuid) {
      return liveness->SilentFor(uuid) < window;
    };
  }
  if (!co.timestamp_source) {
    co.timestamp_source = [] { return static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())); };
  }
  raft::InitialState init;
  init.hard_state.term = cmeta_.current_term();
  init.hard_state.voted_for = cmeta_.voted_for();
  init.committed_config = cmeta_.committed_config();
  init.applied_index = options_.applied_index;
  absl::StatusOr<std::unique_ptr<raft::RaftCore>> core =
      raft::RaftCore::Create(co, init, log_.get());
  if (!core.ok()) return core.status();
  absl::MutexLock l(&mu_);
  core_ = std::move(*core);
  applied_index_ = core_->log().applied();
  return absl::OkStatus();
}

RaftDriver::~RaftDriver() { Shutdown(); }

absl::StatusOr<int> RaftDriver::GarbageCollectLog(int64_t retention_index) {
  if (wal_ == nullptr) return 0;
  // log_ is the WalLog made in Init whenever wal_ is set.
  return static_cast<WalLog*>(log_.get())->GarbageCollect(retention_index);
}

void RaftDriver::Shutdown() {
  if (shut_down_.exchange(true)) return;
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    // An inline Ready (Receive) runs on the caller's thread, which Detach
    // below does not wait for.
    auto no_inline = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inline_running_ == 0; };
    mu_.Await(absl::Condition(&no_inline));
    if (options_.liveness != nullptr) {
      for (uint64_t id : watch_ids_) options_.liveness->Unwatch(id);
    }
    watch_ids_.clear();
  }
  // After this no tick or Ready of this driver runs, nor will.
  if (slot_ != nullptr) scheduler_->Detach(slot_);
  // Waiters left now were not applied: stop_ answers them all.
  std::vector<ApplyWaiter> waiters;
  {
    absl::MutexLock l(&mu_);
    waiters = TakeAnsweredWaitersLocked(absl::Now());
  }
  AnswerWaiters(std::move(waiters));
  if (wal_) (void)wal_->Close();
}

void RaftDriver::MaybeScheduleLocked() {
  if (scheduled_ || stop_ || slot_ == nullptr || !core_->HasReady()) return;
  scheduled_ = true;
  scheduler_->Schedule(slot_);
}

namespace {
// Ticks delivered at once after a long stop (or sleep): beyond an election
// timeout's worth more change nothing (leases and timers have all lapsed).
constexpr int kMaxCatchUpTicks = 1000;
}  // namespace

void RaftDriver::OnTick() {
  using Clock = std::chrono::steady_clock;
  const auto interval = absl::ToChronoNanoseconds(options_.tick_interval);
  std::vector<ApplyWaiter> expired;
  absl::ReleasableMutexLock l(&mu_);
  if (stop_) return;
  // Woken by a liveness watch (a watched server went silent or restarted).
  OnInputLocked();
  // The scheduler's timer fires once per interval, once after a stall. A
  // leader gets every tick that fell due: after SIGSTOP/SIGCONT (or a long
  // stall) it must see the time that passed, or its tick-counted read lease
  // would outlive the followers' election timers (a stale read found by
  // testing/nemesis, seed 1003). Other roles get one tick: a slow election
  // timer is safe, and followers that all caught up at once after a common
  // stall would campaign together. (Re-checked per tick: a leader deposed by
  // check-quorum mid-way stops.)
  const auto now = Clock::now();
  if (options_.reachable != nullptr && !options_.reachable->load(std::memory_order_acquire)) {
    // Not reachable yet: time stands still for the core (DriverOptions::reachable).
    next_tick_ = now + interval;
    return;
  }
  CheckWatchedServersLocked();
  int n = 0;
  do {
    // The first tick is on time (messages were handled before it); the rest
    // are replayed (RaftCore::ReplayTick: check-quorum waits for a real one).
    if (n == 0) {
      core_->Tick();
    } else {
      core_->ReplayTick();
    }
    next_tick_ += interval;
    ++n;
  } while (next_tick_ <= now && core_->role() == raft::Role::kLeader && n < kMaxCatchUpTicks);
  if (next_tick_ <= now) next_tick_ = now + interval;
  MaybeScheduleLocked();
  MaybeSleepLocked();
  if (apply_waiters_.empty()) return;
  expired = TakeAnsweredWaitersLocked(absl::Now());
  l.Release();
  AnswerWaiters(std::move(expired));
}

void RaftDriver::MaybeSleepLocked() {
  if (asleep_ || stop_ || options_.liveness == nullptr || !failed_.ok() || scheduled_ ||
      !core_->quiesced() || core_->HasReady() || !apply_waiters_.empty()) {
    return;
  }
  // A watched server already silent or restarted was just reported to the
  // core (CheckWatchedServersLocked), which then is no longer quiesced.
  asleep_ = true;
  ++sleep_count_;
  // Sleep before watching: a watch that fires at once must find the slot
  // asleep, so that its Wake is not undone.
  scheduler_->Sleep(slot_);
  const absl::Duration silence = options_.tick_interval * options_.quiesce_silent_ticks;
  std::weak_ptr<RaftScheduler::Slot> weak = slot_;
  RaftScheduler* scheduler = scheduler_;
  auto wake = [weak, scheduler] {
    // The driver may be gone: a detached or freed slot is never ticked.
    if (std::shared_ptr<RaftScheduler::Slot> slot = weak.lock()) scheduler->Wake(slot);
  };
  for (const std::string& server : core_->ServersToWatch()) {
    auto inc = watched_incarnations_.find(server);
    watch_ids_.push_back(options_.liveness->Watch(
        server, inc == watched_incarnations_.end() ? 0 : inc->second, silence, wake, scheduler_,
        options_.tick_interval));
  }
}

void RaftDriver::ResumeTicksLocked() {
  if (!asleep_) return;
  asleep_ = false;
  for (uint64_t id : watch_ids_) options_.liveness->Unwatch(id);
  watch_ids_.clear();
  // The core's tick count is its clock (leases, acknowledgement ages): give
  // it the ticks it slept through. A quiesced core only counts them.
  const auto now = std::chrono::steady_clock::now();
  const auto interval = absl::ToChronoNanoseconds(options_.tick_interval);
  for (int n = 0; next_tick_ <= now && n < kMaxCatchUpTicks && core_->quiesced(); ++n) {
    core_->Tick();
    next_tick_ += interval;
  }
  if (next_tick_ <= now) next_tick_ = now + interval;
  scheduler_->Wake(slot_);
}

bool RaftDriver::asleep() const {
  absl::MutexLock l(&mu_);
  return asleep_;
}

int64_t RaftDriver::sleep_count() const {
  absl::MutexLock l(&mu_);
  return sleep_count_;
}

void RaftDriver::CheckWatchedServersLocked() {
  if (options_.liveness == nullptr || !core_->quiesced()) {
    watched_incarnations_.clear();
    return;
  }
  for (const std::string& server : core_->ServersToWatch()) {
    const absl::Duration silent = options_.liveness->SilentFor(server);
    absl::Duration rest;
    int64_t ticks = silent == absl::InfiniteDuration()
                        ? int64_t{1} << 30
                        : absl::IDivDuration(silent, options_.tick_interval, &rest);
    // A server that restarted while this group was quiesced answers the
    // liveness exchange again, but the replica it had may be FAILED or gone
    // (and a leader's leadership is gone for sure): as silent as a dead one.
    if (const uint64_t inc = options_.liveness->Incarnation(server); inc != 0) {
      auto [it, first] = watched_incarnations_.emplace(server, inc);
      if (!first && it->second != inc) {
        it->second = inc;
        ticks = std::max<int64_t>(ticks, options_.quiesce_silent_ticks);
      }
    }
    if (ticks >= options_.quiesce_silent_ticks) core_->ReportSilentServer(server, ticks);
  }
}

namespace {
// At most this many entries applied by an inline Ready (a follower catching
// up applies in larger batches, on a worker).
constexpr size_t kMaxInlineApplies = 64;

// A Ready the receiving thread may handle (DriverOptions::inline_light_readies):
// nothing to persist (unless the thread allows it, inline_sync.h, and it is
// only new entries: a vote or a new term, two cmeta syncs, always goes to a
// worker, so that an election burst after a server's death never queues on a
// reader in front of the surviving leaders' heartbeats), no tablet copy to
// start, nothing to log, and only in-memory applies.
bool IsLight(const raft::Ready& rd) {
  const bool may_sync = AllowInlineSync::Active() && !rd.hard_state && !rd.truncate_after;
  if ((rd.MustSync() && !may_sync) || rd.committed_config ||
      !rd.need_tablet_copy.empty() ||
      !rd.events.empty() || rd.committed_entries.size() > kMaxInlineApplies) {
    return false;
  }
  for (const consensus::ReplicateMsg& e : rd.committed_entries) {
    if (e.op_type() != consensus::WRITE_OP && e.op_type() != consensus::NO_OP) return false;
  }
  return true;
}
}  // namespace

void RaftDriver::RunReady() { RunReadyOn(/*inline_call=*/false); }

void RaftDriver::RunReadyOn(bool inline_call) {
  // An inline caller goes on with what arrived during its Ready (the
  // acknowledgements that came in during its fsync, say) rather than waking
  // a worker for it, for a few rounds: a busy group then returns to the
  // workers' queue, where it does not hold up the caller's other work.
  constexpr int kMaxInlineRounds = 3;
  for (int round = 1; RunOneReady(inline_call, inline_call && round < kMaxInlineRounds); ++round) {
  }
}

bool RaftDriver::RunOneReady(bool inline_call, bool may_continue) {
  raft::Ready rd;
  if (!TakeReady(inline_call, &rd)) return false;
  const bool apply_first = BeginReady(rd, /*in_round=*/false);
  absl::Status s = Persist(rd, /*sync=*/true);
  return FinishReady(rd, apply_first, s, may_continue, /*in_round=*/false);
}

bool RaftDriver::TakeReady(bool inline_call, raft::Ready* rd) {
  absl::MutexLock l(&mu_);
  if (stop_ || (!handed_over_ && !core_->HasReady())) {
    scheduled_ = false;
    return false;
  }
  if (handed_over_) {
    *rd = std::move(*handed_over_);
    handed_over_.reset();
  } else {
    *rd = core_->GetReady();
  }
  if (inline_call && !IsLight(*rd)) {
    // To a worker, which handles it first (scheduled_ stays set: it owns
    // the driver's Readies from here).
    handed_over_ = std::move(*rd);
    scheduler_->Schedule(slot_);
    return false;
  }
  return true;
}

bool RaftDriver::BeginReady(const raft::Ready& rd, bool in_round) {
  // Logged first: an election whose persist then hangs or fails is in the log.
  if (options_.log_event) {
    for (const std::string& e : rd.events) options_.log_event(e);
  }
  // A leader's appends go out before its own fsync (ready.h, step 0).
  for (const consensus::RaftMessagePB& m : rd.early_messages) {
    transport_->Send(m.to_uuid(), m);
  }
  // A worker holds the sends of consecutive Readies (held_sends.h), but
  // none behind an fsync: what earlier Readies and step 0 sent leaves now.
  // (A round worker flushes once, after every group's first half.)
  if (rd.MustSync() && !in_round) HoldSends::FlushNow();
  // Committed entries are persisted already (ready.h, step 5), so they are
  // applied and their clients answered before this Ready's own fsync, not
  // after it: a leader under load has new entries to sync in nearly every
  // Ready, and a commit waited one fsync more (etcd's server applies in
  // parallel with its WAL write too). Not when the Ready truncates the log
  // or commits a config: those keep the order of ready.h.
  const bool apply_first =
      !rd.committed_entries.empty() && !rd.truncate_after && !rd.committed_config;
  if (apply_first) AnswerWaiters(ApplyCommitted(rd));
  return apply_first;
}

bool RaftDriver::FinishReady(const raft::Ready& rd, bool apply_first, const absl::Status& persisted,
                             bool may_continue, bool in_round) {
  if (!persisted.ok()) {
    std::vector<ApplyWaiter> waiters;
    {
      absl::MutexLock l(&mu_);
      failed_ = Annotate(persisted, absl::StrCat("tablet ", options_.core.tablet_id, " replica ",
                                                 options_.core.self_uuid, ": persisting a Ready"));
      activity_.fetch_add(1, std::memory_order_release);  // health() changed
      waiters = TakeAnsweredWaitersLocked(absl::Now());   // all: failed_ is set
    }
    AnswerWaiters(std::move(waiters));
    return false;  // fail-stop: scheduled_ stays set, nothing is sent or applied again
  }
  for (const consensus::RaftMessagePB& m : rd.messages) transport_->Send(m.to_uuid(), m);
  // An acknowledgement of what was just synced does not wait for the next
  // Readies (a light Ready's messages may: it cost no fsync). A round
  // worker's leave together at the end of its round.
  if (rd.MustSync() && !in_round) HoldSends::FlushNow();
  std::vector<ApplyWaiter> applied;
  if (!apply_first && !rd.committed_entries.empty()) applied = ApplyCommitted(rd);
  bool go_on = false;
  {
    absl::MutexLock l(&mu_);
    core_->Advance();
    activity_.fetch_add(1, std::memory_order_release);
    if (may_continue && !stop_ && core_->HasReady()) {
      go_on = true;  // scheduled_ stays set: still ours
    } else {
      // The next Ready (what arrived meanwhile) goes to the back of the
      // queue: a busy group does not hold a worker from the others.
      scheduled_ = false;
      MaybeScheduleLocked();
    }
  }
  // The clients' answers go out while the next Ready may already run on
  // another worker (scheduled_ was cleared): they overlap its fsync.
  AnswerWaiters(std::move(applied));
  return go_on;
}

bool RaftDriver::PrepareRound() {
  raft::Ready rd;
  if (!TakeReady(/*inline_call=*/false, &rd)) return false;
  const bool apply_first = BeginReady(rd, /*in_round=*/true);
  absl::Status s = Persist(rd, /*sync=*/false);
  if (!s.ok() || rd.entries.empty()) {
    // Nothing left unsynced (no entries; a truncation or a term or vote is
    // synced by Persist itself): the second half runs now.
    FinishReady(rd, apply_first, s, /*may_continue=*/false, /*in_round=*/true);
    return false;
  }
  halfway_.emplace(HalfwayReady{std::move(rd), apply_first, absl::OkStatus()});
  return true;
}

void RaftDriver::SyncRound() {
  if (halfway_) halfway_->persisted = log_->Sync();
}

void RaftDriver::FinishRound() {
  if (!halfway_) return;
  HalfwayReady h = std::move(*halfway_);
  halfway_.reset();
  FinishReady(h.rd, h.apply_first, h.persisted, /*may_continue=*/false, /*in_round=*/true);
}

std::vector<RaftDriver::ApplyWaiter> RaftDriver::ApplyCommitted(const raft::Ready& rd) {
  for (const consensus::ReplicateMsg& e : rd.committed_entries) {
    if (options_.apply) options_.apply(e);
  }
  absl::MutexLock l(&mu_);
  applied_index_ = rd.committed_entries.back().id().index();
  // Before Advance when applied ahead of the persist: the core's reads and
  // status agree with the answers (a no-op otherwise, Advance does it).
  core_->AppliedEarly();
  // Deadlines are the ticks' business: only the applied are taken.
  if (apply_waiters_.empty()) return {};
  return TakeAnsweredWaitersLocked(absl::InfinitePast());
}

absl::Status RaftDriver::Persist(const raft::Ready& rd, bool sync) {
  if (rd.truncate_after) {
    absl::Status s = log_->TruncateAfter(*rd.truncate_after);
    if (!s.ok()) return s;
  }
  if (!rd.entries.empty()) {
    absl::Status s = sync ? log_->Append(rd.entries) : log_->Write(rd.entries);
    if (!s.ok()) return s;
  }
  if (rd.hard_state || rd.committed_config) {
    if (rd.hard_state) {
      cmeta_.set_current_term(rd.hard_state->term);
      if (rd.hard_state->voted_for.empty()) {
        cmeta_.clear_voted_for();
      } else {
        cmeta_.set_voted_for(rd.hard_state->voted_for);
      }
    }
    if (rd.committed_config) *cmeta_.mutable_committed_config() = *rd.committed_config;
    if (!options_.cmeta_path.empty()) {
      absl::Status s = meta::StoreConsensusMeta(options_.cmeta_path, cmeta_);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RaftDriver::Annotate(const absl::Status& s, const std::string& context) {
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

absl::Status RaftDriver::Receive(const consensus::RaftMessagePB& msg) {
  absl::Status s;
  {
    absl::MutexLock l(&mu_);
    if (stop_) return absl::UnavailableError("replica shut down");
    if (!failed_.ok()) return failed_;  // fail-stop: don't accumulate unsent work
    OnInputLocked();
    s = core_->Step(msg);
    if (!options_.inline_light_readies || scheduled_ || slot_ == nullptr || !core_->HasReady() ||
        RoundWorkerBusy()) {
      MaybeScheduleLocked();
      return s;
    }
    // Ours now, as a worker's would be (DriverOptions::inline_light_readies).
    scheduled_ = true;
    ++inline_running_;
  }
  RunReadyOn(/*inline_call=*/true);
  absl::MutexLock l(&mu_);
  --inline_running_;
  return s;
}

absl::StatusOr<consensus::OpId> RaftDriver::Propose(consensus::ReplicateMsg msg,
                                                    bool run_ready_here) {
  absl::StatusOr<consensus::OpId> id;
  {
    absl::MutexLock l(&mu_);
    if (!failed_.ok()) return failed_;
    OnInputLocked();
    id = core_->Propose(std::move(msg));
    if (!run_ready_here || !options_.inline_light_readies || scheduled_ || stop_ ||
        slot_ == nullptr || !core_->HasReady() || RoundWorkerBusy()) {
      MaybeScheduleLocked();
      return id;
    }
    scheduled_ = true;  // ours now, as in Receive
    ++inline_running_;
  }
  {
    AllowInlineSync sync_here;  // the new entry's fsync, on this thread
    RunReadyOn(/*inline_call=*/true);
  }
  absl::MutexLock l(&mu_);
  --inline_running_;
  return id;
}

absl::Status RaftDriver::WaitForApplied(const consensus::OpId& id, absl::Duration timeout) {
  {
    absl::MutexLock l(&mu_);
    auto applied = [this, &id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return applied_index_ >= id.index() || stop_ || !failed_.ok();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&applied), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "op ", id.term(), ".", id.index(), " not applied within ",
          absl::FormatDuration(timeout), " (applied through ", applied_index_, ")"));
    }
    if (!failed_.ok()) return failed_;
    if (applied_index_ < id.index()) return absl::UnavailableError("replica shut down");
  }
  return CheckAppliedTerm(id);
}

absl::Status RaftDriver::CheckAppliedTerm(const consensus::OpId& id) const {
  // Applied entries are committed, hence final in the log.
  absl::StatusOr<int64_t> term = log_->Term(id.index());
  if (term.ok() && *term != id.term()) {
    return absl::AbortedError(absl::StrCat("op ", id.term(), ".", id.index(),
                                           " was replaced by an entry of term ", *term));
  }
  return absl::OkStatus();
}

void RaftDriver::NotifyWhenApplied(const consensus::OpId& id, absl::Time deadline,
                                   std::function<void(absl::Status)> done) {
  std::vector<ApplyWaiter> now;
  {
    absl::MutexLock l(&mu_);
    ApplyWaiter w;
    w.id = id;
    w.deadline = deadline;
    w.done = std::move(done);
    apply_waiters_.emplace(id.index(), std::move(w));
    // Answered at once when already applied, stopped or failed; otherwise
    // the ticks must run to enforce the deadline.
    now = TakeAnsweredWaitersLocked(absl::InfinitePast());
    if (now.empty()) ResumeTicksLocked();
  }
  AnswerWaiters(std::move(now));
}

std::vector<RaftDriver::ApplyWaiter> RaftDriver::TakeAnsweredWaitersLocked(absl::Time now) {
  std::vector<ApplyWaiter> out;
  const bool all = stop_ || !failed_.ok();
  for (auto it = apply_waiters_.begin(); it != apply_waiters_.end();) {
    ApplyWaiter& w = it->second;
    if (it->first <= applied_index_) {
      w.applied = true;
    } else if (!failed_.ok()) {
      w.answer = failed_;
    } else if (stop_) {
      w.answer = absl::UnavailableError("replica shut down");
    } else if (w.deadline <= now) {
      w.answer = absl::DeadlineExceededError(
          absl::StrCat("op ", w.id.term(), ".", w.id.index(), " not applied by its deadline",
                       " (applied through ", applied_index_, ")"));
    } else {
      // Keyed by index: past the first unapplied one only deadlines and
      // stop/failure can answer.
      if (!all && now == absl::InfinitePast()) break;
      ++it;
      continue;
    }
    out.push_back(std::move(w));
    it = apply_waiters_.erase(it);
  }
  return out;
}

void RaftDriver::AnswerWaiters(std::vector<ApplyWaiter> waiters) {
  for (ApplyWaiter& w : waiters) {
    absl::Status s = w.applied ? CheckAppliedTerm(w.id) : std::move(w.answer);
    w.done(std::move(s));
  }
}

absl::StatusOr<consensus::OpId> RaftDriver::Replicate(consensus::ReplicateMsg msg,
                                                      absl::Duration timeout) {
  absl::StatusOr<consensus::OpId> id = Propose(std::move(msg));
  if (!id.ok()) return id;
  absl::Status s = WaitForApplied(*id, timeout);
  if (!s.ok()) return s;
  return id;
}

absl::StatusOr<consensus::OpId> RaftDriver::ChangeConfig(const raft::ConfigChange& change) {
  absl::MutexLock l(&mu_);
  OnInputLocked();
  absl::StatusOr<consensus::OpId> id = core_->ProposeConfigChange(change);
  MaybeScheduleLocked();
  return id;
}

absl::Status RaftDriver::TransferLeadership(const std::string& to_uuid) {
  absl::MutexLock l(&mu_);
  OnInputLocked();
  absl::Status s = core_->TransferLeadership(to_uuid);
  MaybeScheduleLocked();
  return s;
}

absl::Status RaftDriver::StepDown() {
  absl::MutexLock l(&mu_);
  OnInputLocked();
  absl::Status s = core_->StepDown();
  MaybeScheduleLocked();
  return s;
}

absl::Status RaftDriver::Campaign() {
  absl::MutexLock l(&mu_);
  OnInputLocked();
  absl::Status s = core_->Campaign();
  MaybeScheduleLocked();
  return s;
}

absl::StatusOr<consensus::OpId> RaftDriver::UnsafeChangeConfig(
    consensus::RaftConfigPB new_config, bool force, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  if (!failed_.ok()) return failed_;
  OnInputLocked();
  absl::StatusOr<consensus::OpId> id = core_->UnsafeChangeConfig(std::move(new_config), force);
  if (!id.ok()) return id;
  MaybeScheduleLocked();
  // The entry is the last of the log and of the highest term, so nothing can
  // replace it; wait until a Ready has made it durable.
  auto durable = [this, index = id->index()]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return core_->log().StableLastIndex() >= index || stop_ || !failed_.ok();
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&durable), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "unsafe config change at op ", id->term(), ".", id->index(), " not durable within ",
        absl::FormatDuration(timeout)));
  }
  if (!failed_.ok()) return failed_;
  if (core_->log().StableLastIndex() < id->index()) {
    return absl::UnavailableError("replica shut down before the forced config was durable");
  }
  return id;
}

absl::Status RaftDriver::CheckLeaderRead(absl::Duration wake_wait) {
  absl::MutexLock l(&mu_);
  if (!failed_.ok()) return failed_;
  OnInputLocked();
  if (core_->quiesced() && core_->role() == raft::Role::kLeader) {
    // Wake-on-read: the heartbeat round the wake sends is answered through
    // Receive (which takes mu_, re-evaluating the condition).
    core_->Wake();
    MaybeScheduleLocked();
    auto leased = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || core_->role() != raft::Role::kLeader || core_->CheckLeaderRead().ok();
    };
    mu_.AwaitWithTimeout(absl::Condition(&leased), wake_wait);
  }
  // Ticks overdue by more than an interval: the lease the core computes is
  // stale until the ticker delivers them (see OnTick).
  if (std::chrono::steady_clock::now() - next_tick_ >
      absl::ToChronoNanoseconds(options_.tick_interval)) {
    return absl::UnavailableError(
        "replica's ticks are behind the clock (process stopped or stalled)");
  }
  return core_->CheckLeaderRead();
}

raft::RaftStatus RaftDriver::GetStatus() const {
  absl::MutexLock l(&mu_);
  return core_->GetStatus();
}

absl::Status RaftDriver::health() const {
  absl::MutexLock l(&mu_);
  return failed_;
}

}  // namespace kmend::consensus_driver
