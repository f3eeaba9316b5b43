// The drill's pure parts: figures from a timeline, spreads, rendering, the
// command substitutions and the restart's argument pinning.
#include <unistd.h>

#include <gtest/gtest.h>

#include "lib/drill/local_process.h"
#include "lib/drill/report.h"
#include "lib/drill/runner.h"
#include "lib/drill/timeline.h"

namespace kmend::drill {
namespace {

// Writes every 20 ms, acked after 5 ms, except in [from, to).
std::vector<WriteSample> SteadyWrites(double end, double from, double to) {
  std::vector<WriteSample> w;
  for (double t = 0; t + 5 <= end; t += 20) {
    bool down = t >= from && t < to;
    w.push_back({t, down ? t + 15 : t + 5, !down});
  }
  return w;
}

TrialTrace OneTabletTrial() {
  TrialTrace trial;
  trial.fault_ms = 1000;
  trial.load_end_ms = 5000;
  TabletTrace t;
  t.tablet_id = "a";
  t.leader_faulted = true;
  t.term_at_fault = 3;
  t.election_seen_ms = 2200;  // T_check 1200
  t.new_leader_seen_ms = 2300;
  t.writes = SteadyWrites(5000, 1000, 2400);  // first ack after: start 2400 -> end 2405
  trial.tablets.push_back(t);
  return trial;
}

TEST(TimelineTest, FiguresFromEvents) {
  TrialTrace trial = OneTabletTrial();
  TrialFigures f = AnalyzeTrial(trial, AnalyzeOptions{});
  ASSERT_TRUE(f.t_check_ms.has_value());
  EXPECT_DOUBLE_EQ(*f.t_check_ms, 1200);
  EXPECT_DOUBLE_EQ(*f.t_recover_ms, 205);
  EXPECT_DOUBLE_EQ(*f.t_failover_ms, 1405);
  // Last ack before: write started 980, acked 985; next ack 2405.
  EXPECT_DOUBLE_EQ(f.unavailable_ms, 2405 - 985);
  EXPECT_DOUBLE_EQ(f.measured_ms, 5000);
  EXPECT_NEAR(f.availability, 1 - 1420.0 / 5000, 1e-12);
  EXPECT_EQ(f.tablets[0].writes_failed, 70);
}

TEST(TimelineTest, ShortGapsAreNotUnavailability) {
  TrialTrace trial = OneTabletTrial();
  trial.tablets[0].writes = SteadyWrites(5000, 1000, 1000);
  TrialFigures f = AnalyzeTrial(trial, AnalyzeOptions{});
  EXPECT_DOUBLE_EQ(f.unavailable_ms, 0);
  EXPECT_DOUBLE_EQ(f.availability, 1);
}

TEST(TimelineTest, NoAckAfterElectionMeansNoRecovery) {
  TrialTrace trial = OneTabletTrial();
  trial.tablets[0].writes = SteadyWrites(5000, 1000, 6000);
  TrialFigures f = AnalyzeTrial(trial, AnalyzeOptions{});
  EXPECT_TRUE(f.t_check_ms.has_value());
  EXPECT_FALSE(f.t_recover_ms.has_value());
  EXPECT_FALSE(f.t_failover_ms.has_value());
  EXPECT_DOUBLE_EQ(f.unavailable_ms, 5000 - 985);
}

TEST(TimelineTest, SlowestFaultedTabletDefinesTheTrialAndOthersCountForA) {
  TrialTrace trial = OneTabletTrial();
  TabletTrace b = trial.tablets[0];
  b.tablet_id = "b";
  b.election_seen_ms = 1500;
  b.writes = SteadyWrites(5000, 1000, 1600);
  trial.tablets.push_back(b);
  TabletTrace c;  // leader elsewhere: never unwritable
  c.tablet_id = "c";
  c.writes = SteadyWrites(5000, 0, 0);
  trial.tablets.push_back(c);
  TrialFigures f = AnalyzeTrial(trial, AnalyzeOptions{});
  EXPECT_DOUBLE_EQ(*f.t_check_ms, 1200);
  EXPECT_DOUBLE_EQ(*f.t_failover_ms, 1405);
  EXPECT_FALSE(f.tablets[2].t_check_ms.has_value());
  EXPECT_DOUBLE_EQ(f.measured_ms, 15000);
  EXPECT_DOUBLE_EQ(f.unavailable_ms, (2405 - 985) + (1605 - 985));
}

TEST(TimelineTest, SpreadIsMedianMinMax) {
  Spread s = SpreadOf({5, 1, 3, 10});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.median, 4);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(SpreadOf({7, 2, 9}).median, 7);
  EXPECT_EQ(SpreadOf({}).n, 0);
}

TEST(TimelineTest, SummaryOverTrials) {
  TrialTrace a = OneTabletTrial(), b = OneTabletTrial();
  b.tablets[0].election_seen_ms = 1800;
  std::vector<TrialFigures> f = {AnalyzeTrial(a, {}), AnalyzeTrial(b, {})};
  DrillSummary s = Summarize(f);
  EXPECT_EQ(s.t_check_ms.n, 2);
  EXPECT_DOUBLE_EQ(s.t_check_ms.median, 1000);
  EXPECT_DOUBLE_EQ(s.t_check_ms.min, 800);
  EXPECT_DOUBLE_EQ(s.t_check_ms.max, 1200);
}

DrillReport SampleReport() {
  DrillReport r;
  r.table = "orders<1>";
  r.replication_factor = 3;
  r.num_tablets = 1;
  r.fault = "kill-leader";
  r.trials_requested = 1;
  r.rows_per_s = 50;
  r.traces = {OneTabletTrial()};
  r.traces[0].target_address = "127.0.0.1:7050";
  r.traces[0].restore_ms = 3000;
  r.figures = {AnalyzeTrial(r.traces[0], {})};
  r.summary = Summarize(r.figures);
  return r;
}

TEST(ReportTest, JsonIsVersionedAndCarriesFigures) {
  nlohmann::json j = RenderJson(SampleReport(), /*include_writes=*/false);
  EXPECT_EQ(j["schema"], "kmend.drill/1");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["replication_factor"], 3);
  EXPECT_EQ(j["completed"], true);
  EXPECT_DOUBLE_EQ(j["trials"][0]["t_check_ms"].get<double>(), 1200);
  EXPECT_DOUBLE_EQ(j["summary"]["t_failover_ms"]["median"].get<double>(), 1405);
  EXPECT_FALSE(j["trials"][0]["tablets"][0].contains("writes"));
  nlohmann::json w = RenderJson(SampleReport(), /*include_writes=*/true);
  EXPECT_TRUE(w["trials"][0]["tablets"][0]["writes"].is_array());
}

TEST(ReportTest, PlainTableNamesEveryFigure) {
  std::string t = RenderPlain(SampleReport());
  for (const char* s : {"T_check", "T_recover", "T_failover", "1200 ms", "1405 ms", "RF=3"}) {
    EXPECT_NE(t.find(s), std::string::npos) << s << " in\n" << t;
  }
}

TEST(ReportTest, SvgMarksFaultElectionAndEscapes) {
  std::string svg = RenderSvg(SampleReport());
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find(">fault<"), std::string::npos);
  EXPECT_NE(svg.find(">election<"), std::string::npos);
  EXPECT_NE(svg.find(">first write acked<"), std::string::npos);
  EXPECT_NE(svg.find("orders&lt;1&gt;"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(RunnerTest, ExpandCommand) {
  FaultTarget t{"u1", "h:7050", "h", "/data/ts1", 7050, 42};
  EXPECT_EQ(ExpandCommand("kill -9 %i; echo %a %h %p %u %r 100%% %x", t),
            "kill -9 42; echo h:7050 h 7050 u1 /data/ts1 100% %x");
}

TEST(RunnerTest, FaultNames) {
  Fault f;
  ASSERT_TRUE(ParseFault("stop-tserver", &f));
  EXPECT_EQ(f, Fault::kStopTserver);
  EXPECT_FALSE(ParseFault("partition", &f));
}

TEST(RunnerTest, RefusesWithoutConfirmation) {
  DrillOptions o;
  o.masters = {"127.0.0.1:1"};
  o.table = "t";
  auto r = RunDrill(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LocalProcessTest, PinsOnlyAWildcardRpcBindPort) {
  EXPECT_EQ(PinRpcBindPort({"s", "tserver", "--rpc_bind=127.0.0.1:0", "--x=1"}, 4321),
            (std::vector<std::string>{"s", "tserver", "--rpc_bind=127.0.0.1:4321", "--x=1"}));
  EXPECT_EQ(PinRpcBindPort({"s", "--rpc_bind", "127.0.0.1:0"}, 9),
            (std::vector<std::string>{"s", "--rpc_bind", "127.0.0.1:9"}));
  EXPECT_EQ(PinRpcBindPort({"s", "--rpc_bind=127.0.0.1:7050"}, 9),
            (std::vector<std::string>{"s", "--rpc_bind=127.0.0.1:7050"}));
}

TEST(LocalProcessTest, CapturesAndRefusesAProcessThatDoesNotMentionTheRoot) {
  auto self = CaptureProcess(::getpid(), "");
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_FALSE(self->argv.empty());
  auto other = CaptureProcess(::getpid(), "/no/such/fs_root/anywhere");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LocalProcessTest, RespawnReportsAFailedExec) {
  ProcessImage img;
  img.exe = "/no/such/kmend-server";
  img.cwd = "/";
  auto bad = Respawn(img, {img.exe});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("execve"), std::string::npos) << bad.status();
  img.exe = "/bin/true";
  auto good = Respawn(img, {img.exe});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_GT(*good, 0);
}

}  // namespace
}  // namespace kmend::drill
