// zero-rtt-replay-refused graded, and the 0-RTT step printed: no sockets here
// (unit-tested in tests/unit/test_tls_trace.cpp).
#include "zero_rtt.hpp"

#include "notes.hpp"

#include <charconv>

namespace netlab::https {

std::optional<std::size_t> early_data_count(const std::string& counts, const std::string& name) {
  const std::string key = name + "=";
  std::size_t at = 0;
  while ((at = counts.find(key, at)) != std::string::npos) {
    if (at == 0 || (at >= 2 && counts.compare(at - 2, 2, "; ") == 0)) {
      std::size_t value = 0;
      const char* first = counts.data() + at + key.size();
      const auto [end, error] = std::from_chars(first, counts.data() + counts.size(), value);
      if (error == std::errc{} && end != first) return value;
      return std::nullopt;
    }
    at += key.size();
  }
  return std::nullopt;
}

void print_zero_rtt(std::ostream& out, const ZeroRtt& z) {
  const auto line = [&](std::string_view name, const EarlyConnection& c) {
    out << "    " << name << (c.resumed ? "resumed" : "full handshake")
        << (c.early_data_sent ? ", GET as early data (" + std::to_string(c.early_data_bytes) + " B), " : ", ")
        << "early data " << c.early_data_status << "; server: " << (c.server_says.empty() ? "-" : c.server_says)
        << "; first answer byte after " << c.round_trips_to_answer << " round trip(s)"
        << (c.error.empty() ? "" : " — " + c.error) << "\n";
  };
  out << "  0-RTT (--zero-rtt): the ticket allows " << z.max_early_data << " B of early data\n";
  line("full:    ", z.full);
  line("resumed: ", z.resumed);
  line("0-RTT:   ", z.early);
  if (const auto hello = client_hello_detail(z.trace); !hello.empty())
    out << "    0-RTT ClientHello: " << hello << "\n";
  if (!z.replay) {
    out << "    replay: not tried (the early data was not accepted: nothing to replay)\n";
    return;
  }
  const Replay& r = *z.replay;
  out << "    replay: " << r.bytes << " B (ClientHello + early data, from " << r.source
      << ") sent again on a new connection; the server answered " << r.server_answer
      << (r.error.empty() ? "" : " — " + r.error) << "\n"
      << "    server counts before the replay: " << z.early.server_counts << "\n"
      << "                  after the replay:  " << r.counts_after << "\n";
}

Check replay_check(const ZeroRtt& z) {
  Check check{.id = "zero-rtt-replay-refused",
              .claim = "0-RTT early data replayed by an attacker is not served again",
              .expected =
                  "the original early data accepted; after the same ClientHello + early data sent again on a new "
                  "connection, the server's count of requests answered from early data has not grown and it counted "
                  "the replay as rejected",
              .observed = "",
              .verdict = Verdict::skipped,
              .evidence =
                  "SSL_write_early_data / SSL_get_early_data_status on the client; the first flight's bytes replayed; "
                  "the server's X-Netlab-Early-Data-Counts before and after (SSL_read_early_data, single-use "
                  "tickets)"};
  const EarlyConnection& e = z.early;
  if (!e.error.empty() || e.early_data_status != "accepted") {
    check.observed = "the original early data was not accepted (" +
                     (e.error.empty() ? "early data " + e.early_data_status + ", server: " + e.server_says : e.error) +
                     "): nothing to replay";
    check.verdict = Verdict::nuanced;
    return check;
  }
  if (!z.replay || !z.replay->error.empty()) {
    check.observed = "replay not measured: " + (z.replay ? z.replay->error : std::string("not run"));
    return check;
  }
  const Replay& r = *z.replay;
  const auto served_before = early_data_count(e.server_counts, "served");
  const auto served_after = early_data_count(r.counts_after, "served");
  const auto offered_before = early_data_count(e.server_counts, "offered");
  const auto accepted_before = early_data_count(e.server_counts, "accepted");
  const auto offered_after = early_data_count(r.counts_after, "offered");
  const auto accepted_after = early_data_count(r.counts_after, "accepted");
  if (!served_before || !served_after || !offered_before || !offered_after || !accepted_before || !accepted_after) {
    check.observed =
        "the server's counts are unreadable: before '" + e.server_counts + "', after '" + r.counts_after + "'";
    return check;
  }
  std::string rejected_as;
  for (const char* reason : {"ticket already used", "ticket unknown", "no ticket", "too much data",
                             "refused after resumption", "ClientHello not in one read"}) {
    const auto before = early_data_count(e.server_counts, reason).value_or(0);
    const auto after = early_data_count(r.counts_after, reason).value_or(0);
    if (after > before) rejected_as += (rejected_as.empty() ? "" : ", ") + std::string(reason);
  }
  check.observed = "original: " + std::to_string(e.early_data_bytes) + " B early data accepted, answered after " +
                   std::to_string(e.round_trips_to_answer) + " round trip(s); replay of " + std::to_string(r.bytes) +
                   " B (from " + r.source + "): server answered " + r.server_answer +
                   "; requests answered from early data " + std::to_string(*served_before) + " -> " +
                   std::to_string(*served_after) + ", early data accepted " + std::to_string(*accepted_before) +
                   " -> " + std::to_string(*accepted_after) + ", replay " +
                   (rejected_as.empty() ? "not counted as rejected" : "rejected as " + rejected_as);
  if (*served_after > *served_before || *accepted_after > *accepted_before)
    check.verdict = Verdict::refuted;  // the replayed request was taken again
  else if (*offered_after > *offered_before && !rejected_as.empty())
    check.verdict = Verdict::confirmed;
  else
    check.verdict = Verdict::nuanced;  // not served, but the server never saw it as an early-data offer
  return check;
}

}  // namespace netlab::https
