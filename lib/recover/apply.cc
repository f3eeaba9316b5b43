#include "lib/recover/apply.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/recover/force_config.h"
#include "lib/recover/force_safety.h"

namespace kmend::recover {

namespace {

std::vector<std::string> Uuids(const consensus::RaftConfigPB& c) {
  std::vector<std::string> out;
  for (const auto& p : c.peers()) out.push_back(p.permanent_uuid());
  std::sort(out.begin(), out.end());
  return out;
}

EntryResult ForceOne(const PlanEntry& e, const ApplyOptions& opt) {
  EntryResult r{e.tablet_id, e.table_name, e.survivor_uuid};
  ForceRequest req;
  req.tserver = e.survivor_address;
  req.tablet_id = e.tablet_id;
  req.voters = e.new_voters;
  req.timeout = opt.timeout;
  req.peer_timeout = opt.peer_timeout;
  req.lease_wait = opt.lease_wait;
  req.force = false;  // recover never overrides a live leader's lease
  req.caller_id = opt.caller_id;
  absl::StatusOr<ForcePlan> fp = MakeForcePlanWaitingForLeases(req, {});
  if (!fp.ok()) {
    r.outcome = Outcome::kFailed;
    r.message = std::string(fp.status().message());
    return r;
  }
  if (fp->server_uuid != e.survivor_uuid) {
    r.outcome = Outcome::kRefused;
    r.message = absl::StrCat("the server at ", e.survivor_address, " is ", fp->server_uuid,
                             ", not the planned survivor ", e.survivor_uuid);
    return r;
  }
  absl::Status safety = JudgeSafety(*fp);
  if (!safety.ok()) {
    r.outcome = Outcome::kRefused;
    r.message = std::string(safety.message());
    return r;
  }
  const check::OpId logged{fp->last_logged.term(), fp->last_logged.index()};
  if (!(logged == e.survivor_last_logged)) {
    r.outcome = Outcome::kRefused;
    r.message = absl::StrCat("the survivor moved on: last logged ", e.survivor_last_logged.term,
                             ".", e.survivor_last_logged.index, " when planned, ", logged.term,
                             ".", logged.index, " now");
    return r;
  }
  absl::StatusOr<consensus::RaftConfigPB> forced =
      ApplyForce(req, *fp, opt.backup_dir, &r.backup);
  if (!forced.ok()) {
    r.outcome = forced.status().code() == absl::StatusCode::kFailedPrecondition
                    ? Outcome::kRefused
                    : Outcome::kFailed;
    r.message = std::string(forced.status().message());
    return r;
  }
  r.outcome = Outcome::kApplied;
  r.message = absl::StrCat("voters now ", absl::StrJoin(Uuids(*forced), ", "));
  return r;
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kWouldApply:
      return "would_apply";
    case Outcome::kApplied:
      return "applied";
    case Outcome::kAlreadyApplied:
      return "already_applied";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kFailed:
      return "failed";
  }
  return "?";
}

int ApplyReport::ExitCode() const {
  if (!match.matches()) return 2;
  for (const EntryResult& e : entries) {
    if (e.outcome == Outcome::kSkipped || e.outcome == Outcome::kRefused ||
        e.outcome == Outcome::kFailed) {
      return 1;
    }
  }
  return 0;
}

ApplyReport ApplyPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now,
                      const ApplyOptions& options,
                      const std::function<void(const EntryResult&)>& on_done) {
  ApplyReport report;
  report.match = MatchPlan(plan, now);
  if (!report.match.matches()) return report;

  report.entries.resize(plan.entries.size());
  std::vector<size_t> to_force;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const PlanEntry& e = plan.entries[i];
    EntryResult& r = report.entries[i];
    r = EntryResult{e.tablet_id, e.table_name, e.survivor_uuid};
    if (report.match.applied.count(e.tablet_id)) {
      r.outcome = Outcome::kAlreadyApplied;
      r.message = "forced before; nothing to do";
    } else if (!e.warnings.empty() && !options.accept_warnings) {
      r.outcome = Outcome::kSkipped;
      r.message = absl::StrCat("has warnings (", absl::StrJoin(e.warnings, "; "),
                               "); --accept_warnings to force it anyway");
    } else if (!options.yes) {
      r.outcome = Outcome::kWouldApply;
      r.message = absl::StrCat("would force ", e.survivor_uuid, " to voters ",
                               absl::StrJoin(e.new_voters, ", "));
    } else {
      to_force.push_back(i);
      continue;
    }
  }
  std::mutex mu;
  for (size_t i = 0; i < report.entries.size(); ++i) {
    if (std::find(to_force.begin(), to_force.end(), i) != to_force.end()) continue;
    if (on_done) on_done(report.entries[i]);
  }

  std::atomic<size_t> next{0};
  const int threads =
      std::max(1, std::min<int>(options.concurrency, static_cast<int>(to_force.size())));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads && !to_force.empty(); ++t) {
    pool.emplace_back([&] {
      for (size_t k = next++; k < to_force.size(); k = next++) {
        const size_t i = to_force[k];
        const auto start = std::chrono::steady_clock::now();
        EntryResult r = ForceOne(plan.entries[i], options);
        r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
        std::lock_guard<std::mutex> lock(mu);
        report.entries[i] = std::move(r);
        if (on_done) on_done(report.entries[i]);
      }
    });
  }
  for (std::thread& th : pool) th.join();
  return report;
}

}  // namespace kmend::recover
