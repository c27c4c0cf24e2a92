// The 粘包 note's claims against what the framing client measured.
#include "framing.hpp"

#include "format.hpp"

#include <algorithm>

namespace netlab::framing {

namespace {

// The claim the codec makes: its framing restores the boundaries.
Check restores_boundaries(const Config& config) {
  const bool delimiter = config.codec == CodecKind::delimiter;
  Check check;
  check.id = delimiter ? "delimiter-restores-boundaries" : "length-restores-boundaries";
  check.claim = delimiter ? "粘包的解决: a delimiter after each message restores the boundaries"
                          : "粘包的解决: a length header before each message restores the boundaries";
  return check;
}

}  // namespace

void raw_checks(const RawObserved& o, Result& result) {
  const bool boundaries_lost = o.merged_reads + o.split_writes > 0;
  const std::string numbers = std::to_string(o.writes) + " writes arrived as " + std::to_string(o.reads) +
                              " reads: " + std::to_string(o.merged_reads) + " reads merged several writes (up to " +
                              std::to_string(o.max_writes_in_one_read) + " in one), " + std::to_string(o.split_writes) +
                              " writes were split";
  result.add_check(
      {.id = "write-is-not-read",
       .claim = "TCP is a byte stream: one write is not one read (粘包/拆包)",
       .expected = "reads that merge writes or writes split over reads",
       .observed = numbers,
       .verdict = boundaries_lost ? Verdict::confirmed : Verdict::nuanced,
       .evidence = boundaries_lost
                       ? "the server's read sizes against our write sizes, over the same byte stream (CRC-32 equal)"
                       : "every read matched one write in this run — the boundaries were kept by timing, "
                         "not by TCP; run with more or smaller messages, or --nodelay off"});
}

void echo_checks(const Config& config, const EchoObserved& o, Result& result) {
  const std::size_t n = config.messages;
  const bool restored = o.intact == n && o.mismatches == 0 && o.missing == 0;
  Check check = restores_boundaries(config);
  check.expected = std::to_string(n) + " of " + std::to_string(n) + " messages echoed intact, in order";
  check.observed = std::to_string(o.intact) + " of " + std::to_string(n) + " intact, " + std::to_string(o.mismatches) +
                   " mismatched, " + std::to_string(o.missing) + " missing, over " + std::to_string(o.reads) + " reads";
  check.verdict = restored ? Verdict::confirmed : Verdict::refuted;
  check.evidence = "length and CRC-32C of every echoed frame compared, in order, with what was sent";
  result.add_check(std::move(check));
}

void one_way_checks(const Config& config, const OneWayObserved& o, Result& result) {
  const bool same_tally = o.server_frames_crc32c == o.frames_crc32c;
  const bool same = o.frames_counted_by_server == config.messages &&
                    o.payload_bytes_counted_by_server == o.payload_bytes && same_tally;
  Check check = restores_boundaries(config);
  check.expected = std::to_string(config.messages) + " frames counted by the server, with our sizes and bytes";
  check.observed = std::to_string(o.frames_counted_by_server) + " frames counted, " +
                   std::to_string(o.payload_bytes_counted_by_server) + " of " + std::to_string(o.payload_bytes) +
                   " payload bytes, frame tally (sizes and CRC-32C) " + (same_tally ? "equal" : "different");
  check.verdict = same ? Verdict::confirmed : Verdict::refuted;
  check.evidence = "--one-way: the server's frame count and its tally of every frame's size and CRC-32C, against ours";
  result.add_check(std::move(check));
}

}  // namespace netlab::framing

namespace netlab::framing {

void stall_checks(const StallObserved& o, Result& result) {
  if (o.variants.size() < 2) return;
  const StallVariant& nagle = o.variants.front();
  double slowest_fix = 0;
  std::string fixes;
  for (std::size_t i = 1; i < o.variants.size(); ++i) {
    const StallVariant& v = o.variants[i];
    slowest_fix = std::max(slowest_fix, v.median_ms);
    fixes += (fixes.empty() ? "" : ", ") + v.name + " " + fixed(v.median_ms, 2) + " ms";
  }
  // The kernel's own word that the receiver held its ACKs back, when it can be
  // read (the server in our namespace); across a wire, the hold measured:
  // Nagle's time less the slowest way out's less one round trip.
  const bool acks_delayed =
      nagle.delayed_acks ? *nagle.delayed_acks * 2 >= static_cast<std::int64_t>(nagle.requests) : o.ack_held_ms >= 20;
  // Every way out at most half Nagle's time: the stall is at least a whole request's time.
  const bool stalled = nagle.median_ms > 2 * slowest_fix;
  const bool all_fixed = stalled && acks_delayed;
  const std::string acks =
      nagle.delayed_acks         ? std::to_string(*nagle.delayed_acks) + " delayed ACKs counted by the kernel"
      : o.peer_in_this_namespace ? "the kernel's DelayedACKs counter was not readable"
                                 : "the server in another namespace; round trip " + fixed(nagle.min_rtt_ms, 1) +
                                       " ms, ACK held " + fixed(o.ack_held_ms, 1) + " ms";
  std::string loopback;
  if (o.loopback) {
    loopback = "; on loopback:";
    for (const auto& v : *o.loopback) loopback += " " + v.name + " " + fixed(v.median_ms, 2) + " ms";
  }
  result.add_check(
      {.id = "nagle-delayed-ack-stall",
       .claim =
           "asked next (粘包怎么解决): write-write-read meets Nagle and the delayed ACK; TCP_NODELAY, one writev or "
           "TCP_CORK take the stall away",
       .expected = "Nagle's requests wait for the delayed ACK (median more than twice every other way's); each way "
                   "out is fast",
       .observed = "median per request: nagle " + fixed(nagle.median_ms, 2) + " ms (" + acks + " over " +
                   std::to_string(nagle.requests) + " requests); " + fixes + "; decided by " + o.decided_by + loopback,
       .verdict = all_fixed ? Verdict::confirmed
                  : stalled ? Verdict::nuanced
                            : Verdict::refuted,
       .evidence =
           "each request timed from its first write to its whole echo, " + std::to_string(o.requests_per_variant) +
           " per variant on its own connection; TcpExt DelayedACKs of this network namespace around each when the "
           "server is in it, else TCP_INFO's min RTT and the hold it leaves"});
}

}  // namespace netlab::framing
