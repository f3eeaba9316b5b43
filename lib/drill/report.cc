#include "lib/drill/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kmend::drill {
namespace {

using nlohmann::json;

json Opt(const std::optional<double>& v) { return v.has_value() ? json(*v) : json(nullptr); }

json SpreadJson(const Spread& s) {
  return json{{"n", s.n}, {"median", s.median}, {"min", s.min}, {"max", s.max}};
}

std::string Ms(const std::optional<double>& v) {
  return v.has_value() ? absl::StrFormat("%.0f", *v) : std::string("-");
}

}  // namespace

json RenderJson(const DrillReport& r, bool include_writes) {
  json doc;
  doc["schema"] = "kmend.drill/1";
  doc["schema_version"] = kDrillSchemaVersion;
  doc["table"] = r.table;
  doc["replication_factor"] = r.replication_factor;
  doc["num_tablets"] = r.num_tablets;
  doc["fault"] = r.fault;
  doc["trials_requested"] = r.trials_requested;
  doc["rows_per_s_per_tablet"] = r.rows_per_s;
  doc["unwritable_gap_ms"] = r.unwritable_gap_ms;
  doc["completed"] = r.stopped_reason.empty();
  if (!r.stopped_reason.empty()) doc["stopped_reason"] = r.stopped_reason;
  json trials = json::array();
  for (size_t i = 0; i < r.figures.size(); ++i) {
    const TrialFigures& f = r.figures[i];
    const TrialTrace& t = r.traces[i];
    json jt{{"trial", f.trial},
            {"target_uuid", t.target_uuid},
            {"target_address", t.target_address},
            {"fault_ms", t.fault_ms},
            {"restore_ms", t.restore_ms},
            {"load_end_ms", t.load_end_ms},
            {"healthy_ms", t.healthy_ms},
            {"t_check_ms", Opt(f.t_check_ms)},
            {"t_recover_ms", Opt(f.t_recover_ms)},
            {"t_failover_ms", Opt(f.t_failover_ms)},
            {"unavailable_ms", f.unavailable_ms},
            {"measured_ms", f.measured_ms},
            {"availability", f.availability}};
    json tablets = json::array();
    for (size_t k = 0; k < f.tablets.size(); ++k) {
      const TabletFigures& tf = f.tablets[k];
      json jtab{{"tablet_id", tf.tablet_id},
                {"leader_faulted", tf.leader_faulted},
                {"t_check_ms", Opt(tf.t_check_ms)},
                {"t_recover_ms", Opt(tf.t_recover_ms)},
                {"t_failover_ms", Opt(tf.t_failover_ms)},
                {"unavailable_ms", tf.unavailable_ms},
                {"availability", tf.availability},
                {"writes_acked", tf.writes_acked},
                {"writes_failed", tf.writes_failed}};
      const TabletTrace& tt = t.tablets[k];
      jtab["term_at_fault"] = tt.term_at_fault;
      jtab["election_seen_ms"] = Opt(tt.election_seen_ms);
      jtab["new_leader_seen_ms"] = Opt(tt.new_leader_seen_ms);
      if (include_writes) {
        json w = json::array();
        for (const WriteSample& s : tt.writes) w.push_back({s.start_ms, s.end_ms, s.acked});
        jtab["writes"] = std::move(w);  // [start_ms, end_ms, acked]
      }
      tablets.push_back(std::move(jtab));
    }
    jt["tablets"] = std::move(tablets);
    trials.push_back(std::move(jt));
  }
  doc["trials"] = std::move(trials);
  doc["summary"] = {{"t_check_ms", SpreadJson(r.summary.t_check_ms)},
                    {"t_recover_ms", SpreadJson(r.summary.t_recover_ms)},
                    {"t_failover_ms", SpreadJson(r.summary.t_failover_ms)},
                    {"unavailable_ms", SpreadJson(r.summary.unavailable_ms)},
                    {"availability", SpreadJson(r.summary.availability)}};
  return doc;
}

std::string RenderPlain(const DrillReport& r) {
  std::string out = absl::StrFormat(
      "Drill: table %s (RF=%d, %d tablets), fault %s, %d of %d trials, %.0f rows/s per tablet\n\n",
      r.table, r.replication_factor, r.num_tablets, r.fault, static_cast<int>(r.figures.size()),
      r.trials_requested, r.rows_per_s);
  out += absl::StrFormat("%5s  %-24s %9s %10s %11s %13s %9s\n", "trial", "faulted server",
                         "T_check", "T_recover", "T_failover", "unwritable", "A");
  for (size_t i = 0; i < r.figures.size(); ++i) {
    const TrialFigures& f = r.figures[i];
    out += absl::StrFormat("%5d  %-24s %9s %10s %11s %13s %9.5f\n", f.trial,
                           r.traces[i].target_address, Ms(f.t_check_ms) + " ms",
                           Ms(f.t_recover_ms) + " ms", Ms(f.t_failover_ms) + " ms",
                           absl::StrFormat("%.0f ms", f.unavailable_ms), f.availability);
  }
  auto line = [&](const char* name, const Spread& s, bool ratio) {
    if (s.n == 0) return absl::StrFormat("  %-11s -\n", name);
    if (ratio) {
      return absl::StrFormat("  %-11s median %.5f  (min %.5f, max %.5f; n=%d)\n", name, s.median,
                             s.min, s.max, s.n);
    }
    return absl::StrFormat("  %-11s median %6.0f ms  (min %.0f, max %.0f; n=%d)\n", name,
                           s.median, s.min, s.max, s.n);
  };
  out += "\nOver the trials:\n";
  out += line("T_check", r.summary.t_check_ms, false);
  out += line("T_recover", r.summary.t_recover_ms, false);
  out += line("T_failover", r.summary.t_failover_ms, false);
  out += line("unwritable", r.summary.unavailable_ms, false);
  out += line("A", r.summary.availability, true);
  if (!r.stopped_reason.empty()) out += "\nStopped early: " + r.stopped_reason + "\n";
  return out;
}

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string RenderSvg(const DrillReport& r) {
  // Layout: one panel per trial, stacked. x = ms since the fault, over the
  // load's window; y = write latency, log scale from 1 ms to 10 s.
  constexpr double kWidth = 900, kPanelH = 180, kLeft = 70, kRight = 20, kTop = 40, kGap = 40;
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kPanelH - 30;
  size_t n = r.traces.size();
  double height = kTop + n * (kPanelH + kGap) + 20;
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%.0f\" y=\"20\" font-size=\"14\">kmend drill: %s, fault %s, write latency "
      "(log scale) against time since the fault</text>\n",
      kWidth, height, kLeft, Escape(r.table), Escape(r.fault));
  auto ylog = [&](double ms) {
    double v = std::log10(std::clamp(ms, 1.0, 10000.0));  // 0..4
    return plot_h - v / 4.0 * plot_h;
  };
  for (size_t i = 0; i < n; ++i) {
    const TrialTrace& t = r.traces[i];
    const TrialFigures* f = i < r.figures.size() ? &r.figures[i] : nullptr;
    double x0 = t.load_start_ms - t.fault_ms, x1 = t.load_end_ms - t.fault_ms;
    if (x1 <= x0) x1 = x0 + 1;
    double oy = kTop + i * (kPanelH + kGap);
    auto x = [&](double ms_since_fault) {
      return kLeft + (ms_since_fault - x0) / (x1 - x0) * plot_w;
    };
    s += absl::StrFormat("<g transform=\"translate(0,%.0f)\">\n", oy);
    s += absl::StrFormat(
        "<text x=\"%.0f\" y=\"-6\">trial %d: %s on %s", kLeft, t.trial, Escape(t.fault),
        Escape(t.target_address));
    if (f != nullptr) {
      s += absl::StrFormat("  T_check %s ms, T_recover %s ms, T_failover %s ms, A %.4f",
                           Ms(f->t_check_ms), Ms(f->t_recover_ms), Ms(f->t_failover_ms),
                           f->availability);
    }
    s += "</text>\n";
    s += absl::StrFormat(
        "<rect x=\"%.0f\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n",
        kLeft, plot_w, plot_h);
    for (double ms : {1.0, 10.0, 100.0, 1000.0, 10000.0}) {
      s += absl::StrFormat(
          "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", kLeft - 4,
          ylog(ms) + 4, ms >= 1000 ? absl::StrCat(ms / 1000, " s") : absl::StrCat(ms, " ms"));
    }
    // x ticks each second.
    for (double ms = std::ceil(x0 / 1000) * 1000; ms <= x1; ms += 1000) {
      s += absl::StrFormat(
          "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ccc\"/>"
          "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f s</text>\n",
          x(ms), 0.0, x(ms), plot_h, x(ms), plot_h + 14, ms / 1000);
    }
    for (const TabletTrace& tab : t.tablets) {
      for (const WriteSample& w : tab.writes) {
        double wx = x(w.end_ms - t.fault_ms);
        if (w.acked) {
          s += absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" fill=\"%s\"/>\n", wx,
                               ylog(w.end_ms - w.start_ms), tab.leader_faulted ? "#1f77b4" : "#999");
        } else {
          s += absl::StrFormat(
              "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#d62728\"/>\n", wx,
              plot_h, wx, plot_h - 6);
        }
      }
    }
    auto mark = [&](double at_ms, const char* color, const char* label, int row) {
      double mx = x(at_ms - t.fault_ms);
      s += absl::StrFormat(
          "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"1.5\"/>"
          "<text x=\"%.1f\" y=\"%d\" fill=\"%s\">%s</text>\n",
          mx, mx, plot_h, color, mx + 3, 12 + 12 * row, color, label);
    };
    mark(t.fault_ms, "#d62728", "fault", 0);
    for (const TabletTrace& tab : t.tablets) {
      if (!tab.leader_faulted) continue;
      if (tab.election_seen_ms) mark(*tab.election_seen_ms, "#ff7f0e", "election", 1);
      if (f != nullptr) {
        for (const TabletFigures& tf : f->tablets) {
          if (tf.tablet_id == tab.tablet_id && tf.t_failover_ms) {
            mark(t.fault_ms + *tf.t_failover_ms, "#2ca02c", "first write acked", 2);
          }
        }
      }
      break;  // the first faulted tablet's marks keep the panel readable
    }
    if (t.restore_ms > t.fault_ms) mark(t.restore_ms, "#9467bd", "restored", 3);
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace kmend::drill
