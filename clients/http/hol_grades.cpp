// netlab-http-client --hol-observed hol.tsv: TCP head-of-line blocking,
// measured by h2load across the lossy wire (scripts/labs/http.sh, hol_step)
// and graded here (hol.hpp says how). On one HTTP/2 connection a lost segment
// holds back every byte behind it — the other streams' too, though they
// arrived — until the retransmission fills the hole (RFC 9113 §1: multiplexing
// removes HTTP's head-of-line blocking, not TCP's); on ten HTTP/1.1
// connections it holds back only its own.
#include "http/hol.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace netlab::http_lab::hol {

namespace {

constexpr std::size_t max_log_lines = 100'000;
constexpr std::int64_t stall_gap_us = 1000;  // completions this close were released by the same arriving segment

double ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

// The nearest-rank percentile of sorted durations.
double percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return ms(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
}

Distribution describe(const Run& run, double threshold_ms) {
  std::vector<std::int64_t> durations;
  for (const auto& r : run.requests) durations.push_back(r.duration_us);
  std::sort(durations.begin(), durations.end());
  Distribution d{.count = run.requests.size(),
                 .failed = run.failed,
                 .p50_ms = percentile(durations, 0.5),
                 .p90_ms = percentile(durations, 0.9),
                 .p99_ms = percentile(durations, 0.99),
                 .max_ms = durations.empty() ? 0 : ms(durations.back()),
                 .threshold_ms = threshold_ms,
                 .dropped = run.dropped};
  std::vector<std::int64_t> ends;
  for (const auto& r : run.requests)
    if (ms(r.duration_us) >= threshold_ms) ends.push_back(r.end_us());
  std::sort(ends.begin(), ends.end());
  d.beyond = ends.size();
  for (std::size_t i = 0; i < ends.size(); ++i)
    if (i == 0 || ends[i] - ends[i - 1] > stall_gap_us) ++d.stalls;
  return d;
}

double per_loss(const Distribution& d) {
  return d.dropped == 0 ? 0 : static_cast<double>(d.delayed) / static_cast<double>(d.dropped);
}

std::string fixed(double value, int digits = 1) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string summary(const std::string& name, const Distribution& lossy) {
  const double together = lossy.stalls == 0 ? 0 : static_cast<double>(lossy.beyond) / static_cast<double>(lossy.stalls);
  return name + ": " + std::to_string(lossy.delayed) + " requests delayed (>= " + fixed(lossy.threshold_ms) +
         " ms) by " + std::to_string(lossy.dropped) + " dropped TCP frames = " + fixed(per_loss(lossy), 2) +
         " per loss; the " + std::to_string(lossy.beyond) + " beyond ended in " + std::to_string(lossy.stalls) +
         " stalls (" + fixed(together) + " together); p50 " + fixed(lossy.p50_ms) + " p99 " + fixed(lossy.p99_ms) +
         " max " + fixed(lossy.max_ms) + " ms";
}

Verdict verdict_of(const Distribution& h2, const Distribution& h1) {
  if (h2.count == 0 || h1.count == 0) return Verdict::skipped;
  if (h2.dropped < min_dropped || h1.dropped < min_dropped) return Verdict::nuanced;
  if (per_loss(h2) <= per_loss(h1)) return Verdict::refuted;
  return per_loss(h2) >= confirm_ratio * per_loss(h1) && h2.delayed > h1.delayed ? Verdict::confirmed
                                                                                 : Verdict::nuanced;
}

}  // namespace

Run read_h2load_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--hol-observed: cannot open h2load's log " + path);
  Run run;
  std::string line;
  for (std::size_t n = 1; n <= max_log_lines && std::getline(in, line); ++n) {
    std::istringstream fields(line);
    long long start = 0, status = 0, duration = 0;
    std::string rest;
    if (!(fields >> start >> status >> duration) || (fields >> rest) || duration < 0)
      throw std::runtime_error("--hol-observed: " + path + " line " + std::to_string(n) +
                               " is not 'start-us status duration-us': " + line.substr(0, 80));
    if (status < 0)
      ++run.failed;
    else
      run.requests.push_back({start, duration});
  }
  return run;
}

std::uint64_t read_wire_dropped(const std::string& path) {
  const auto stats = read_json_object(path, "--hol-observed: netlab-wire stats");
  std::uint64_t dropped = 0;
  try {
    for (const char* direction : {"left>right", "right>left"})
      dropped += stats.at("directions").at(direction).at("dropped").at("tcp").to_number<std::uint64_t>();
  } catch (const std::exception&) {
    throw std::runtime_error("--hol-observed: " + path + " has no /directions/*/dropped/tcp");
  }
  return dropped;
}

Graded grade(const Setup& setup, const Run& h2_clean, const Run& h1_clean, const Run& h2_lossy, const Run& h1_lossy) {
  Graded g;
  const auto pair = [&](const Run& clean, const Run& lossy, Distribution& c, Distribution& l) {
    const double threshold = describe(clean, 0).p50_ms + setup.rtt_ms / 2;
    c = describe(clean, threshold);
    l = describe(lossy, threshold);
    l.delayed = l.beyond > c.beyond ? l.beyond - c.beyond : 0;
  };
  pair(h2_clean, h2_lossy, g.h2_clean, g.h2_lossy);
  pair(h1_clean, h1_lossy, g.h1_clean, g.h1_lossy);
  const Verdict verdict = verdict_of(g.h2_lossy, g.h1_lossy);
  std::string observed =
      summary("HTTP/2, 1 connection x 10 streams", g.h2_lossy) + "; " + summary("HTTP/1.1, 10 connections", g.h1_lossy);
  if (g.h1_lossy.delayed > 0 && g.h1_lossy.dropped > 0 && g.h2_lossy.dropped > 0)
    observed += "; HTTP/2 " + fixed(per_loss(g.h2_lossy) / per_loss(g.h1_lossy), 2) + "x HTTP/1.1 per loss";
  if (g.h2_lossy.dropped < min_dropped || g.h1_lossy.dropped < min_dropped)
    observed += "; the wire dropped too little to tell (at least " + std::to_string(min_dropped) + " in each run)";
  g.check = {.id = "h2-hol-blocking-on-loss",
             .claim =
                 "asked next: HTTP/2 multiplexes many requests on one TCP connection, so one lost segment "
                 "stalls every stream in flight on it (TCP head-of-line blocking); on separate HTTP/1.1 "
                 "connections a loss stalls only its own",
             .expected = "the same " + std::to_string(h2_lossy.requests.size()) + " requests, " +
                         fixed(setup.rtt_ms, 0) + " ms round trip, " + fixed(setup.loss * 100, 0) +
                         " % loss: HTTP/2's requests delayed per dropped frame at least " + fixed(confirm_ratio) +
                         "x HTTP/1.1's (RFC 9113 §1, §5)",
             .observed = observed,
             .verdict = verdict,
             .evidence =
                 "h2load --log-file (each request's start and duration) of four runs across netlab-wire, "
                 "without and with loss; delayed = at least the clean run's median + half a round trip, "
                 "less the clean run's count; dropped = the wire's own count (wire-hol-*.json)"};
  return g;
}

std::string table(const Setup& setup, const Graded& g) {
  std::ostringstream out;
  out << "  head-of-line blocking: h2load across netlab-wire, " << fixed(setup.rtt_ms, 0) << " ms round trip, "
      << fixed(setup.loss * 100, 0) << " % loss in the lossy runs (latency in ms)\n";
  char line[200];
  std::snprintf(line, sizeof line, "  %-26s %5s %7s %7s %7s %7s %7s %8s %7s %6s\n", "run", "reqs", "p50", "p90", "p99",
                "max", "beyond", "dropped", "delayed", "stalls");
  out << line;
  const std::pair<const char*, const Distribution*> rows[] = {{"HTTP/2 1x10 no loss", &g.h2_clean},
                                                              {"HTTP/1.1 10x1 no loss", &g.h1_clean},
                                                              {"HTTP/2 1x10 loss", &g.h2_lossy},
                                                              {"HTTP/1.1 10x1 loss", &g.h1_lossy}};
  for (const auto& [name, d] : rows) {
    const bool lossy = d == &g.h2_lossy || d == &g.h1_lossy;
    std::snprintf(line, sizeof line, "  %-26s %5zu %7.1f %7.1f %7.1f %7.1f %7zu %8s %7s %6s\n", name, d->count,
                  d->p50_ms, d->p90_ms, d->p99_ms, d->max_ms, d->beyond,
                  lossy ? std::to_string(d->dropped).c_str() : "-", lossy ? std::to_string(d->delayed).c_str() : "-",
                  lossy ? std::to_string(d->stalls).c_str() : "-");
    out << line;
  }
  out << "  beyond: at least the clean run's median + " << fixed(setup.rtt_ms / 2) << " ms (HTTP/2 "
      << fixed(g.h2_clean.threshold_ms) << ", HTTP/1.1 " << fixed(g.h1_clean.threshold_ms)
      << " ms); delayed: beyond, less the clean run's; stalls: the ones beyond in groups finishing within 1 ms of each "
         "other\n";
  return out.str();
}

boost::json::object to_json(const Setup& setup, const Graded& g) {
  const auto row = [](const Distribution& d) {
    return boost::json::object{{"requests", d.count},
                               {"failed", d.failed},
                               {"p50_ms", d.p50_ms},
                               {"p90_ms", d.p90_ms},
                               {"p99_ms", d.p99_ms},
                               {"max_ms", d.max_ms},
                               {"threshold_ms", d.threshold_ms},
                               {"beyond", d.beyond},
                               {"delayed", d.delayed},
                               {"stalls", d.stalls},
                               {"dropped", d.dropped}};
  };
  return {{"rtt_ms", setup.rtt_ms},      {"loss", setup.loss},          {"h2_clean", row(g.h2_clean)},
          {"h1_clean", row(g.h1_clean)}, {"h2_lossy", row(g.h2_lossy)}, {"h1_lossy", row(g.h1_lossy)}};
}

Graded grade_manifest(const std::string& path, std::string& printed, boost::json::object& observed) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--hol-observed " + path + ": cannot open");
  const auto dir = std::filesystem::path(path).parent_path();
  Setup setup;
  std::map<std::string, Run> runs;
  std::string line, name, log, wire;
  if (!std::getline(in, line)) throw std::runtime_error("--hol-observed " + path + ": empty");
  std::istringstream head(line);
  std::string tag, rtt_key, loss_key;
  if (!(head >> tag >> rtt_key >> setup.rtt_ms >> loss_key >> setup.loss) || tag != "#hol" || rtt_key != "rtt_ms" ||
      loss_key != "loss" || setup.rtt_ms < 0 || setup.loss < 0 || setup.loss > 1)
    throw std::runtime_error("--hol-observed " + path +
                             ": expected '#hol rtt_ms N loss P' first, not: " + line.substr(0, 80));
  for (int n = 0; n < 8 && std::getline(in, line); ++n) {
    std::istringstream fields(line);
    if (!(fields >> name >> log >> wire))
      throw std::runtime_error("--hol-observed " + path + ": expected 'run log wire-json' in: " + line.substr(0, 80));
    Run run = read_h2load_log((dir / log).string());
    if (wire != "-") run.dropped = read_wire_dropped((dir / wire).string());
    runs[name] = std::move(run);
  }
  for (const char* needed : {"h2-clean", "h1-clean", "h2-lossy", "h1-lossy"})
    if (!runs.count(needed)) throw std::runtime_error("--hol-observed " + path + ": no line for " + needed);
  Graded g = grade(setup, runs["h2-clean"], runs["h1-clean"], runs["h2-lossy"], runs["h1-lossy"]);
  printed += table(setup, g);
  observed = to_json(setup, g);
  return g;
}

}  // namespace netlab::http_lab::hol
