#include "bench/failover/failover_runner.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace kmend::bench {
namespace {

using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Per-survivor observations, the first time each event was seen. Written by
// the survivor's poller thread only; read after it joined.
struct PollerResult {
  Clock::time_point term_bump{};  // term above old_term
  Clock::time_point leader_known{};  // a leader other than the dead one, at term > old
  int64_t new_term = -1;
  bool saw_bump = false;
  bool saw_leader = false;
};

void PollSurvivor(FailoverTarget* target, int member, int64_t old_term,
                  const std::string& dead_id, std::chrono::milliseconds interval,
                  const std::atomic<bool>* stop, PollerResult* out) {
  while (!stop->load()) {
    auto p = target->ProbeMember(member);
    Clock::time_point now = Clock::now();
    if (p.ok() && p->term > old_term) {
      if (!out->saw_bump) {
        out->saw_bump = true;
        out->term_bump = now;
      }
      if (!out->saw_leader && !p->leader_id.empty() && p->leader_id != dead_id) {
        out->saw_leader = true;
        out->leader_known = now;
        out->new_term = p->term;
      }
    }
    if (out->saw_leader) return;
    std::this_thread::sleep_for(interval);
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

absl::StatusOr<TrialResult> RunOneTrial(FailoverTarget* target, const FailoverOptions& options,
                                        std::atomic<int64_t>* seq) {
  TrialResult r;
  auto leader = target->FindLeader();
  if (!leader.ok()) return leader.status();
  r.killed = *leader;
  auto lp = target->ProbeMember(r.killed);
  if (!lp.ok()) return lp.status();
  r.old_term = lp->term;
  const std::string dead_id = lp->self_id;

  // Writer: single writes back to back. After the kill it records the first
  // acknowledgement received after the kill (from a term above the old one
  // when the store reports terms).
  std::atomic<bool> stop_writer{false};
  std::atomic<bool> killed{false};
  std::atomic<int64_t> acks_before{0};
  std::atomic<bool> got_ack_after{false};
  Clock::time_point kill_time{};
  Clock::time_point ack_after{};
  std::mutex mu;  // guards kill_time/ack_after hand-over
  std::thread writer([&] {
    while (!stop_writer.load()) {
      int64_t term = -1;
      const bool started_after_kill = killed.load();
      absl::Status s = target->WriteOne(seq->fetch_add(1), &term);
      Clock::time_point now = Clock::now();
      if (!s.ok()) continue;
      if (!killed.load()) {
        acks_before.fetch_add(1);
        continue;
      }
      if (term >= 0 && term <= r.old_term) continue;  // acked by the old leader
      // Without a term in the answer, only a write sent after the kill
      // surely reached the new leader (costs at most one write's latency).
      if (term < 0 && !started_after_kill) continue;
      std::lock_guard<std::mutex> l(mu);
      if (now > kill_time) {
        ack_after = now;
        got_ack_after.store(true);
        return;
      }
    }
  });

  // Warm up: writes must be flowing before the kill.
  Clock::time_point warm_end = Clock::now() + options.warmup;
  while (Clock::now() < warm_end || acks_before.load() == 0) {
    if (Clock::now() > warm_end + std::chrono::seconds(10)) {
      stop_writer.store(true);
      writer.join();
      return absl::UnavailableError(
          absl::StrCat(target->name(), ": no write acknowledged in 10 s before the kill"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::atomic<bool> stop_pollers{false};
  std::vector<int> survivors;
  for (int i = 0; i < target->num_members(); ++i) {
    if (i != r.killed) survivors.push_back(i);
  }
  std::vector<PollerResult> polls(survivors.size());
  std::vector<std::thread> pollers;
  for (size_t k = 0; k < survivors.size(); ++k) {
    pollers.emplace_back(PollSurvivor, target, survivors[k], r.old_term, dead_id,
                         options.poll_interval, &stop_pollers, &polls[k]);
  }

  {
    std::lock_guard<std::mutex> l(mu);
    kill_time = Clock::now();
    r.writes_before_kill = acks_before.load();
    killed.store(true);
  }
  absl::Status ks = target->Kill(r.killed);

  Clock::time_point give_up = kill_time + options.give_up;
  auto pollers_done = [&] {
    return std::all_of(polls.begin(), polls.end(), [](const PollerResult& p) {
      return p.saw_leader;
    });
  };
  // Pollers' flags are read racily here only to decide when to stop
  // waiting; the values used are read after join.
  while (Clock::now() < give_up && !(got_ack_after.load() && pollers_done())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop_writer.store(true);
  stop_pollers.store(true);
  writer.join();
  for (auto& t : pollers) t.join();
  if (!ks.ok()) return ks;

  bool any_bump = false, any_leader = false;
  Clock::time_point bump{}, lead{};
  for (const auto& p : polls) {
    if (p.saw_bump && (!any_bump || p.term_bump < bump)) {
      bump = p.term_bump;
      any_bump = true;
    }
    if (p.saw_leader && (!any_leader || p.leader_known < lead)) {
      lead = p.leader_known;
      r.new_term = p.new_term;
      any_leader = true;
    }
  }
  absl::Status restart = target->Restart(r.killed);
  if (!got_ack_after.load()) {
    return absl::DeadlineExceededError(absl::StrCat(
        target->name(), ": no write acknowledged within ", options.give_up.count(),
        " ms after killing member ", r.killed));
  }
  if (!any_bump || !any_leader) {
    return absl::DeadlineExceededError(absl::StrCat(
        target->name(), ": survivors never reported ",
        any_bump ? "a new leader" : "a term above ", any_bump ? "" : std::to_string(r.old_term)));
  }
  if (!restart.ok()) return restart;
  r.total_ms = MsBetween(kill_time, ack_after);
  r.detection_ms = MsBetween(kill_time, bump);
  r.election_ms = MsBetween(bump, lead);
  r.rediscovery_ms = r.total_ms - r.detection_ms - r.election_ms;
  std::this_thread::sleep_for(options.settle);
  return r;
}

}  // namespace

absl::StatusOr<FailoverSummary> RunFailoverTrials(FailoverTarget* target,
                                                  const FailoverOptions& options) {
  FailoverSummary sum;
  sum.target = target->name();
  std::atomic<int64_t> seq{0};
  for (int t = 0; t < options.trials; ++t) {
    auto r = RunOneTrial(target, options, &seq);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("trial ", t + 1, ": ", r.status().message()));
    }
    std::fprintf(stderr,
                 "%s trial %d: killed member %d (term %lld -> %lld): detection %.1f ms, "
                 "election %.1f ms, T_failover %.1f ms\n",
                 target->name().c_str(), t + 1, r->killed, static_cast<long long>(r->old_term),
                 static_cast<long long>(r->new_term), r->detection_ms, r->election_ms,
                 r->total_ms);
    sum.trials.push_back(*r);
  }
  std::vector<double> d, e, tot, rd;
  for (const auto& r : sum.trials) {
    d.push_back(r.detection_ms);
    e.push_back(r.election_ms);
    tot.push_back(r.total_ms);
    rd.push_back(r.rediscovery_ms);
  }
  sum.detection_median_ms = Median(d);
  sum.detection_max_ms = Max(d);
  sum.election_median_ms = Median(e);
  sum.election_max_ms = Max(e);
  sum.total_median_ms = Median(tot);
  sum.total_max_ms = Max(tot);
  sum.rediscovery_median_ms = Median(rd);
  sum.rediscovery_max_ms = Max(rd);
  return sum;
}

std::string SummaryToJson(const FailoverSummary& s) {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["target"] = s.target;
  j["detection_median_ms"] = s.detection_median_ms;
  j["detection_max_ms"] = s.detection_max_ms;
  j["election_median_ms"] = s.election_median_ms;
  j["election_max_ms"] = s.election_max_ms;
  j["total_median_ms"] = s.total_median_ms;
  j["total_max_ms"] = s.total_max_ms;
  j["rediscovery_median_ms"] = s.rediscovery_median_ms;
  j["rediscovery_max_ms"] = s.rediscovery_max_ms;
  j["trials"] = nlohmann::json::array();
  for (const auto& r : s.trials) {
    j["trials"].push_back({{"killed", r.killed},
                           {"old_term", r.old_term},
                           {"new_term", r.new_term},
                           {"detection_ms", r.detection_ms},
                           {"election_ms", r.election_ms},
                           {"rediscovery_ms", r.rediscovery_ms},
                           {"total_ms", r.total_ms},
                           {"writes_before_kill", r.writes_before_kill}});
  }
  return j.dump(2);
}

std::string SummaryToText(const FailoverSummary& s) {
  return absl::StrFormat(
      "%s: %d trials; T_failover median %.0f ms (max %.0f): detection %.0f (max %.0f) + "
      "election %.0f (max %.0f) + client rediscovery %.0f (max %.0f)\n",
      s.target, static_cast<int>(s.trials.size()), s.total_median_ms, s.total_max_ms,
      s.detection_median_ms, s.detection_max_ms, s.election_median_ms, s.election_max_ms,
      s.rediscovery_median_ms, s.rediscovery_max_ms);
}

FailoverFlags ParseFailoverFlags(int argc, char** argv) {
  FailoverFlags f;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--trials=")) {
      int n = 0;
      if (absl::SimpleAtoi(a, &n) && n > 0) f.trials = n;
    } else if (absl::ConsumePrefix(&a, "--out=")) {
      f.out = std::string(a);
    }
  }
  return f;
}

int RunFailoverMain(const std::string& prog, int argc, char** argv, FailoverTarget* target,
                    const std::function<absl::Status()>& start) {
  FailoverFlags flags = ParseFailoverFlags(argc, argv);
  absl::Status s = start();
  if (!s.ok()) {
    std::cerr << prog << ": cluster: " << s << "\n";
    return 1;
  }
  FailoverOptions opts;
  opts.trials = flags.trials;
  auto sum = RunFailoverTrials(target, opts);
  if (!sum.ok()) {
    std::cerr << prog << ": " << sum.status() << "\n";
    return 1;
  }
  std::cout << SummaryToText(*sum);
  if (!flags.out.empty()) {
    std::ofstream(flags.out) << SummaryToJson(*sum) << "\n";
  }
  return 0;
}

}  // namespace kmend::bench
