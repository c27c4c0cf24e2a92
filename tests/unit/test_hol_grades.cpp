// The http lab's head-of-line blocking grade (clients/http/hol_grades.cpp) on
// synthetic h2load runs: one loss holding every stream of the one connection
// (confirmed), each loss holding only its own request (refuted), too little
// loss to tell (nuanced); and the files it reads (h2load's --log-file,
// netlab-wire's stats, the hol.tsv manifest), refused when malformed.
#include "http/hol.hpp"
#include "process.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace netlab;
using namespace netlab::http_lab;

namespace {

constexpr std::int64_t ms = 1000;  // h2load's unit is the microsecond

// `count` requests of `latency` ms, started 1 ms apart.
hol::Run steady(std::size_t count, std::int64_t latency) {
  hol::Run run;
  for (std::size_t i = 0; i < count; ++i) run.requests.push_back({static_cast<std::int64_t>(i) * ms, latency * ms});
  return run;
}

// `stalls` losses, each delaying `per_stall` requests by one 20 ms round trip,
// all of a stall finishing at the same instant (what one arriving retransmission frees).
hol::Run stalled(std::size_t stalls, std::size_t per_stall, std::uint64_t dropped) {
  hol::Run run = steady(200, 20);
  for (std::size_t s = 0; s < stalls; ++s)
    for (std::size_t k = 0; k < per_stall; ++k) {
      auto& r = run.requests[s * per_stall + k];
      r.start_us = static_cast<std::int64_t>(s) * 100 * ms + static_cast<std::int64_t>(k) * 100;
      r.duration_us = 40 * ms - static_cast<std::int64_t>(k) * 100;  // the same end
    }
  run.dropped = dropped;
  return run;
}

const hol::Setup setup{.rtt_ms = 20, .loss = 0.02};

}  // namespace

TEST_CASE(
    "one loss stalling every stream on the HTTP/2 connection confirms head-of-line blocking, the opposite "
    "refutes it",
    "[hol]") {
  const auto clean = steady(200, 20);
  // HTTP/2: 10 losses, each holding 10 streams; HTTP/1.1: 20 losses, each holding its own request.
  const auto h2 = stalled(10, 10, 20), h1 = stalled(20, 1, 20);
  auto graded = hol::grade(setup, clean, clean, h2, h1);
  CHECK(graded.h2_lossy.delayed == 100);
  CHECK(graded.h2_lossy.stalls == 10);
  CHECK(graded.h1_lossy.delayed == 20);
  CHECK(graded.h1_lossy.stalls == 20);
  CHECK(graded.h2_lossy.threshold_ms == Approx(30));
  CHECK(graded.h2_lossy.p50_ms == Approx(20));
  CHECK(graded.h2_lossy.max_ms == Approx(40));
  CHECK(graded.check.id == "h2-hol-blocking-on-loss");
  CHECK(graded.check.verdict == Verdict::confirmed);
  // The other way round: HTTP/2's losses delay one request each, HTTP/1.1's ten.
  graded = hol::grade(setup, clean, clean, h1, h2);
  CHECK(graded.check.verdict == Verdict::refuted);
  // HTTP/2 ahead, but by less than confirm_ratio: 25 against 20 per 20 losses.
  graded = hol::grade(setup, clean, clean, stalled(5, 5, 20), h1);
  CHECK(graded.check.verdict == Verdict::nuanced);
  // Too little loss to tell, whatever the latencies say.
  graded = hol::grade(setup, clean, clean, stalled(10, 10, 20), stalled(5, 1, hol::min_dropped - 1));
  CHECK(graded.check.verdict == Verdict::nuanced);
  CHECK(graded.check.observed.find("too little to tell") != std::string::npos);
  // What the clean run already had beyond the threshold (slow start's first round) is not the loss's doing.
  auto slow_start = clean;
  for (std::size_t i = 0; i < 10; ++i) slow_start.requests[i].duration_us = 60 * ms;
  graded = hol::grade(setup, slow_start, clean, h2, h1);
  CHECK(graded.h2_clean.beyond == 10);
  CHECK(graded.h2_lossy.delayed == 90);
}

TEST_CASE("the grade reads h2load's log, the wire's stats and the manifest, and refuses what is not them", "[hol]") {
  test::TempDir dir;
  const auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir.file(name)) << text; };
  write("clean.log", "1700000000000000\t200\t20000\n1700000000001000\t200\t21000\n1700000000002000\t-1\t5000\n");
  const auto run = hol::read_h2load_log(dir.file("clean.log"));
  CHECK(run.requests.size() == 2);
  CHECK(run.failed == 1);
  CHECK(run.requests[1].end_us() == 1700000000022000);
  write("bad.log", "1700000000000000\t200\ttwenty\n");
  CHECK_THROWS_WITH(hol::read_h2load_log(dir.file("bad.log")), Catch::Contains("bad.log line 1"));
  write("wire.json", R"({"directions":{"left>right":{"dropped":{"tcp":1}},"right>left":{"dropped":{"tcp":30}}}})");
  CHECK(hol::read_wire_dropped(dir.file("wire.json")) == 31);
  write("other.json", R"({"directions":{}})");
  CHECK_THROWS(hol::read_wire_dropped(dir.file("other.json")));

  write("hol.tsv",
        "#hol\trtt_ms\t20\tloss\t0.02\nh2-clean\tclean.log\t-\nh1-clean\tclean.log\t-\n"
        "h2-lossy\tclean.log\twire.json\nh1-lossy\tclean.log\twire.json\n");
  std::string printed;
  boost::json::object observed;
  const auto graded = hol::grade_manifest(dir.file("hol.tsv"), printed, observed);
  CHECK(graded.h2_lossy.dropped == 31);
  CHECK(graded.check.verdict == Verdict::refuted);  // the same latencies both ways: HTTP/2 no worse
  CHECK(printed.find("HTTP/1.1 10x1 loss") != std::string::npos);
  CHECK(observed.at("h2_lossy").at("dropped").to_number<int>() == 31);
  write("short.tsv", "#hol\trtt_ms\t20\tloss\t0.02\nh2-clean\tclean.log\t-\n");
  CHECK_THROWS_WITH(hol::grade_manifest(dir.file("short.tsv"), printed, observed), Catch::Contains("no line for"));
  write("head.tsv", "h2-clean\tclean.log\t-\n");
  CHECK_THROWS_WITH(hol::grade_manifest(dir.file("head.tsv"), printed, observed), Catch::Contains("#hol"));
}
