// zero-rtt-replay-refused graded from made-up counts, each way it can come out.
#include "zero_rtt.hpp"

#include <catch2/catch.hpp>

using netlab::Verdict;
using netlab::https::early_data_count;
using netlab::https::replay_check;
using netlab::https::ZeroRtt;

namespace {

std::string counts(int offered, int accepted, int served, int used) {
  return "offered=" + std::to_string(offered) + "; accepted=" + std::to_string(accepted) +
         "; served=" + std::to_string(served) + "; ticket already used=" + std::to_string(used) +
         "; ticket unknown=0; no ticket=0; too much data=0; refused after resumption=0";
}

ZeroRtt accepted_then(const std::string& after) {
  ZeroRtt z;
  z.early.early_data_status = "accepted";
  z.early.server_counts = counts(1, 1, 1, 0);
  auto& r = z.replay.emplace();
  r.counts_after = after;
  return z;
}

}  // namespace

TEST_CASE("early_data_count reads one counter of the server's header", "[zero-rtt]") {
  const std::string header = counts(2, 1, 1, 1);
  CHECK(early_data_count(header, "offered") == 2u);
  CHECK(early_data_count(header, "served") == 1u);
  CHECK(early_data_count(header, "ticket already used") == 1u);
  CHECK(!early_data_count(header, "used").has_value());  // only whole names
  CHECK(!early_data_count("served=x", "served").has_value());
  CHECK(!early_data_count("", "served").has_value());
}

TEST_CASE("zero-rtt-replay-refused: confirmed, refuted, nuanced, skipped", "[zero-rtt]") {
  // The replay rejected as a used ticket, nothing served again.
  CHECK(replay_check(accepted_then(counts(2, 1, 1, 1))).verdict == Verdict::confirmed);
  // The replayed request served again (anti-replay off).
  CHECK(replay_check(accepted_then(counts(2, 2, 2, 0))).verdict == Verdict::refuted);
  // Early data accepted again, even if the request was not answered.
  CHECK(replay_check(accepted_then(counts(2, 2, 1, 0))).verdict == Verdict::refuted);
  // Not served, but the server never saw an early-data offer: nothing was put to the test.
  CHECK(replay_check(accepted_then(counts(1, 1, 1, 0))).verdict == Verdict::nuanced);
  // The original was not accepted: nothing to replay.
  ZeroRtt rejected;
  rejected.early.early_data_status = "rejected";
  CHECK(replay_check(rejected).verdict == Verdict::nuanced);
  ZeroRtt failed = accepted_then(counts(2, 1, 1, 1));
  failed.early.error = "read page: unexpected message";
  CHECK(replay_check(failed).verdict == Verdict::nuanced);
  // Counts that cannot be read grade nothing.
  CHECK(replay_check(accepted_then("garbage")).verdict == Verdict::skipped);
  ZeroRtt broken = accepted_then(counts(2, 1, 1, 1));
  broken.replay->error = "replay write: broken pipe";
  CHECK(replay_check(broken).verdict == Verdict::skipped);
}
