#include "checks.hpp"

#include <boost/json/value_from.hpp>

#include <cstdio>

namespace netlab::transport {

namespace {

namespace json = boost::json;

std::uint64_t number(const json::object& o, std::string_view key) { return o.at(key).to_number<std::uint64_t>(); }
std::uint64_t number_or_zero(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->to_number<std::uint64_t>() : 0;
}

std::string share(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%",
                whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

bool slow_reader(const ServerAccount& s) { return s.reader_delay_us > 0; }

}  // namespace

ServerAccount read_account(json::object report) {
  ServerAccount a{.expected = number(report, "expected"),
                  .unique = number(report, "unique"),
                  .lost = number(report, "lost"),
                  .reordered = number(report, "reordered"),
                  .duplicated = number(report, "duplicated"),
                  .corrupted = number(report, "corrupted"),
                  .reader_delay_us = number(report, "reader_delay_us"),
                  .socket_drops = number_or_zero(report, "socket_drops"),
                  .socket_drops_of_data = number_or_zero(report, "socket_drops_of_data")};
  if (const auto* delta = report.if_contains("udp_rcvbuf_errors_delta"))
    a.udp_rcvbuf_errors_delta = delta->to_number<std::int64_t>();
  a.report = std::move(report);
  return a;
}

RelayCounts read_relay(json::object session) {
  const auto n = [&](std::string_view key) { return number(session, key); };
  RelayCounts r{n("dropped"), n("duplicated"), n("lost"), n("reordered"), n("duplicated_out"), n("garbage_forwarded")};
  r.session = std::move(session);
  return r;
}

std::string account_text(const ServerAccount& s) {
  return std::to_string(s.unique) + " of " + std::to_string(s.expected) + " arrived; lost " + std::to_string(s.lost) +
         ", reordered " + std::to_string(s.reordered) + ", duplicated " + std::to_string(s.duplicated) +
         ", corrupted " + std::to_string(s.corrupted);
}

void tcp_checks(Result& result, const TcpStream& tcp) {
  const auto& s = tcp.server;
  const bool perfect =
      s.unique == s.expected && s.lost == 0 && s.reordered == 0 && s.duplicated == 0 && s.corrupted == 0;
  const std::uint64_t retrans = tcp.total_retrans.value_or(0);
  result.add_check(
      {.id = "tcp-reliable-ordered",
       .claim = "TCP is reliable and ordered (acks and retransmission)",
       .expected = "every message once, in order, even when segments were lost underneath",
       .observed = account_text(s) + "; " + std::to_string(retrans) + " segments retransmitted",
       .verdict = !perfect      ? Verdict::refuted
                  : retrans > 0 ? Verdict::confirmed
                                : Verdict::nuanced,
       .evidence = retrans > 0 ? "the server's per-sender account; tcpi_total_retrans of the sender"
                               : "the server's per-sender account; nothing was lost underneath (0 retransmissions), "
                                 "so this run shows order and completeness, not recovery — see the lossy link"});
}

void udp_checks(Result& result, const UdpStream& udp, bool relay, double link_loss) {
  const auto& s = udp.server;
  const std::uint64_t lost = s.lost, reordered = s.reordered, duplicated = s.duplicated;
  std::string observed = account_text(s) + " (loss " + share(lost, s.expected) + ")";
  if (link_loss > 0)
    observed += "; configured link loss " + share(static_cast<std::uint64_t>(link_loss * 1e6), 1'000'000);
  result.add_check(
      {.id = "udp-no-guarantee",
       .claim = "UDP does not guarantee delivery or order",
       .expected = "messages lost, reordered or duplicated with nothing in UDP to notice or repair it",
       .observed = observed,
       .verdict = lost + reordered + duplicated > 0 ? Verdict::confirmed : Verdict::nuanced,
       .evidence = lost + reordered + duplicated > 0
                       ? "the server's per-sender account of the numbered datagrams"
                       : "nothing went wrong on this path: with room in the buffers, loopback loses and reorders "
                         "nothing — UDP did not repair anything, there was nothing to repair"});
  // The loss a slow reader causes is the kernel's drop at a full receive buffer.
  if (!relay && link_loss == 0 && (lost > 0 || s.socket_drops > 0)) {
    const std::uint64_t kernel = s.socket_drops_of_data;
    const auto& snmp = s.udp_rcvbuf_errors_delta;
    const bool agree = kernel == lost && (!snmp || *snmp >= static_cast<std::int64_t>(s.socket_drops));
    result.add_check({.id = "udp-loss-is-kernel-drop",
                      .claim = "UDP has no flow control: a slow receiver loses datagrams",
                      .expected = "the receiver's count of lost messages equals the kernel's count of drops",
                      .observed = "server counted " + std::to_string(lost) + " lost; SO_RXQ_OVFL counted " +
                                  std::to_string(kernel) + " data drops on the socket; UdpRcvbufErrors grew by " +
                                  (snmp ? std::to_string(*snmp) : std::string("(unreadable)")) + " (whole host)",
                      .verdict = agree ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "SO_RXQ_OVFL stamps on the server's datagrams; /proc/net/snmp before and after"});
  }
  if (udp.relay) {
    const auto& r = *udp.relay;
    // The server's own receive buffer is a second place a datagram can die on
    // this host (a busy machine that does not schedule the server for a few
    // tens of milliseconds). Each such drop (SO_RXQ_OVFL) either loses a
    // message or takes one copy of a duplicated one: the accounts are then
    // compared within those drops, and the claim cannot be confirmed exactly.
    const std::uint64_t kernel = s.socket_drops_of_data;
    const bool equal = r.lost == lost && r.reordered == reordered && r.duplicated_out == duplicated &&
                       r.garbage_forwarded == s.corrupted;
    const bool within =
        lost >= r.lost && duplicated <= r.duplicated_out && reordered <= r.reordered &&
        s.corrupted <= r.garbage_forwarded &&
        (lost - r.lost) + (r.duplicated_out - duplicated) + (r.garbage_forwarded - s.corrupted) <= kernel;
    std::string relay_observed = "relay dropped " + std::to_string(r.dropped) + ", duplicated " +
                                 std::to_string(r.duplicated) + ", sent " + std::to_string(r.reordered) +
                                 " out of order; server: " + account_text(s);
    if (kernel > 0)
      relay_observed +=
          "; the server's receive buffer dropped " + std::to_string(kernel) + " datagrams itself (SO_RXQ_OVFL)";
    result.add_check(
        {.id = "relay-equals-server",
         .claim = "the impaired path: what the relay did is what the receiver saw",
         .expected = "server's lost/reordered/duplicated/corrupted = relay's dropped/reordered/duplicated/garbage",
         .observed = relay_observed,
         .verdict = kernel == 0 ? (equal ? Verdict::confirmed : Verdict::refuted)
                                : (within ? Verdict::nuanced : Verdict::refuted),
         .evidence = kernel == 0
                         ? "netlab-relay's counts (relay_query) against the server's account of the same stream"
                         : "netlab-relay's counts against the server's account: the difference is no more than the "
                           "server's own socket drops, a second cause on this host, so equality could not be shown"});
  }
}

std::optional<Overhead> comparison_checks(Result& result, const TcpStream& tcp, const UdpStream& udp,
                                          OverheadCheck bytes_check) {
  const auto& ts = tcp.server;
  const auto& us = udp.server;
  if (slow_reader(ts) || slow_reader(us)) {
    const std::uint64_t udp_lost = us.lost, tcp_lost = ts.lost;
    // Flow control is the receiver's window (RFC 9293 §3.8.6): the sender is
    // held back by it when TCP_INFO counts time limited by the receiver's
    // window, or when it saw that window at zero. EAGAIN alone is only a full
    // send buffer, which a slow network would give too.
    const bool window_closed =
        (tcp.rwnd_limited_ms && *tcp.rwnd_limited_ms > 0) || (tcp.zero_window_samples && *tcp.zero_window_samples > 0);
    std::string observed = "TCP: lost " + std::to_string(tcp_lost) + ", sender refused " +
                           std::to_string(tcp.would_block) + " times, blocked " +
                           std::to_string(static_cast<long>(tcp.blocked_seconds * 1000)) + " ms";
    observed += tcp.rwnd_limited_ms
                    ? ", rwnd-limited " + std::to_string(static_cast<long>(*tcp.rwnd_limited_ms)) + " ms"
                    : std::string(", rwnd-limited time unreadable");
    if (tcp.min_peer_window)
      observed += ", smallest window seen " + std::to_string(*tcp.min_peer_window) + " B (" +
                  std::to_string(tcp.zero_window_samples.value_or(0)) + " samples at 0)";
    observed += "; UDP: lost " + std::to_string(udp_lost) + " of " + std::to_string(us.expected);
    result.add_check(
        {.id = "flow-control",
         .claim = "TCP has flow control, UDP has none",
         .expected = "slow reader: TCP loses nothing and the sender is held by the receiver's window; "
                     "UDP's sender never waits and datagrams drop",
         .observed = observed,
         .verdict = tcp_lost > 0                      ? Verdict::refuted
                    : (window_closed && udp_lost > 0) ? Verdict::confirmed
                                                      : Verdict::nuanced,
         .evidence = (window_closed && udp_lost > 0)
                         ? "TCP_INFO tcpi_rwnd_limited and tcpi_snd_wnd of the sender (the receiver's window), "
                           "the server's accounts"
                     : !window_closed
                         ? "TCP_INFO never showed the receiver's window holding the sender back (no rwnd-limited "
                           "time, no zero window): slow the reader further (--reader-delay-us, --rcvbuf)"
                         : "UDP lost nothing: the reader kept up with it in this run"});
  }
  // Bytes on the wire, from header sizes: IPv4 20 + TCP 20 (+12 with timestamps) per segment
  // (segments counted by TCP_INFO, both directions) against IPv4 20 + UDP 8 per datagram.
  if (!tcp.segs_out) return std::nullopt;
  const double n = static_cast<double>(tcp.sent);
  const double tcp_header = 40 + (tcp.timestamps.value_or(false) ? 12 : 0);
  const double tcp_packets = static_cast<double>(std::uint64_t{*tcp.segs_out} + tcp.segs_in.value_or(0));
  const double tcp_bytes = static_cast<double>(tcp.bytes_sent + tcp.bytes_received) + tcp_packets * tcp_header;
  const double udp_packets = static_cast<double>(udp.sent + 2 * static_cast<std::uint64_t>(udp.done_attempts));
  const double udp_bytes = static_cast<double>(udp.bytes_sent) + udp_packets * 28;
  Overhead overhead{.source = "header sizes x packet counts (TCP_INFO segs_out+segs_in; datagrams sent)",
                    .tcp_packets_per_message = tcp_packets / n,
                    .udp_packets_per_message = udp_packets / n,
                    .tcp_wire_bytes_per_message = tcp_bytes / n,
                    .udp_wire_bytes_per_message = udp_bytes / n};
  if (bytes_check == OverheadCheck::from_headers) costs_more_check(result, overhead);
  return overhead;
}

void costs_more_check(Result& result, const Overhead& o) {
  if (o.tcp_packets_per_message <= 0 || o.udp_packets_per_message <= 0) {
    result.add_check({.id = "tcp-costs-more",
                      .claim = "TCP is heavier: more header bytes and packets per message",
                      .expected = "more bytes on the wire per message over TCP than over UDP",
                      .observed = "not run",
                      .verdict = Verdict::skipped,
                      .evidence = "no TCP or no UDP packet of this run in the " + o.source});
    return;
  }
  char text[200];
  std::snprintf(text, sizeof text, "per message: TCP %.1f bytes in %.3f packets, UDP %.1f bytes in %.3f packets",
                o.tcp_wire_bytes_per_message, o.tcp_packets_per_message, o.udp_wire_bytes_per_message,
                o.udp_packets_per_message);
  const bool costlier = o.tcp_wire_bytes_per_message > o.udp_wire_bytes_per_message;
  const std::string from = o.source.rfind("capture", 0) == 0
                               ? "the IP bytes of every packet in the " + o.source
                               : "estimated from " + o.source + ", not counted in a capture";
  result.add_check({.id = "tcp-costs-more",
                    .claim = "TCP is heavier: more header bytes and packets per message",
                    .expected = "more bytes on the wire per message over TCP than over UDP",
                    .observed = text,
                    .verdict = costlier ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = costlier
                                    ? from
                                    : from + ": TCP packed many messages into each segment (a byte stream), so "
                                             "its headers cost less per message than one UDP header per datagram"});
}

json::object to_json(const Semantics& semantics) {
  auto out = present_members(semantics);  // its described fields (not through tag_invoke, which calls this)
  if (const auto& one = semantics.tcp_one_message) {
    // The keys the result has always had, in their place before the UDP message's.
    json::object ordered;
    for (const auto& [key, value] : out) {
      if (key == "udp_one_message_packets") {
        ordered["tcp_one_message_segs_out"] = one->segs_out;
        ordered["tcp_one_message_segs_in"] = one->segs_in;
        ordered["tcp_one_message_packets"] = one->packets;
      }
      ordered[key] = value;
    }
    out = std::move(ordered);
  }
  return out;
}

void semantics_checks(Result& result, const Semantics& s) {
  const bool udp_silent = s.udp_sendto_error == "none" && s.udp_unconnected_then.empty();
  result.add_check(
      {.id = "tcp-needs-connection",
       .claim = "TCP needs a connection, UDP does not",
       .expected = "TCP connect to a closed port fails (RST); UDP sendto there succeeds and nothing comes back",
       .observed = "TCP connect: " + s.tcp_connect_error + " after " + std::to_string(s.tcp_connect_ms).substr(0, 5) +
                   " ms; UDP sendto: " + std::to_string(s.udp_sendto_bytes) + " bytes accepted, then " +
                   (udp_silent ? std::string("nothing") : s.udp_unconnected_then) +
                   "; connected UDP: " + s.udp_connected_then,
       .verdict = s.tcp_connect_refused && udp_silent ? Verdict::confirmed : Verdict::refuted,
       .evidence = "return codes of connect(), sendto() and the next receive; a connected UDP socket does learn of "
                   "the ICMP port unreachable (ECONNREFUSED) — the kernel, not UDP, tells it"});
  if (s.tcp_one_message) {
    const auto tcp_packets = s.tcp_one_message->packets;
    result.add_check(
        {.id = "tcp-costs-more-packets",
         .claim = "TCP costs more: one message takes a handshake, acks and a teardown",
         .expected = "more packets than UDP's single datagram",
         .observed = "one message: TCP " + std::to_string(tcp_packets) + " packets (both directions), UDP 1 datagram" +
                     (s.udp_one_message_arrived ? " (it arrived)" : " (it did not arrive)"),
         // A fact: a TCP connection is opened and closed by segments of its own.
         .verdict = Verdict::fact,
         .evidence = "TCP_INFO segs_out + segs_in at the end of the connection; the capture shows each packet"});
  }
}

}  // namespace netlab::transport
