#include "checks.hpp"

#include <boost/json/value_from.hpp>

#include <cstdio>

namespace netlab::transport {

namespace {

namespace json = boost::json;

std::uint64_t number(const json::value& v) { return v.to_number<std::uint64_t>(); }

std::string share(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

bool slow_reader(const json::object& s) { return number(s.at("reader_delay_us")) > 0; }

}  // namespace

std::string account_text(const json::object& s) {
  return std::to_string(number(s.at("unique"))) + " of " + std::to_string(number(s.at("expected"))) +
         " arrived; lost " + std::to_string(number(s.at("lost"))) + ", reordered " +
         std::to_string(number(s.at("reordered"))) + ", duplicated " + std::to_string(number(s.at("duplicated"))) +
         ", corrupted " + std::to_string(number(s.at("corrupted")));
}

void tcp_checks(Result& result, const json::object& tcp) {
  const auto& s = tcp.at("server").as_object();
  const bool perfect = number(s.at("unique")) == number(s.at("expected")) && number(s.at("lost")) == 0 &&
                       number(s.at("reordered")) == 0 && number(s.at("duplicated")) == 0 &&
                       number(s.at("corrupted")) == 0;
  const std::uint64_t retrans = tcp.contains("total_retrans") ? number(tcp.at("total_retrans")) : 0;
  result.add_check({.id = "tcp-reliable-ordered", .claim = "TCP is reliable and ordered (acks and retransmission)",
                    .expected = "every message once, in order, even when segments were lost underneath",
                    .observed = account_text(s) + "; " + std::to_string(retrans) + " segments retransmitted",
                    .verdict = !perfect ? Verdict::refuted : retrans > 0 ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = retrans > 0 ? "the server's per-sender account; tcpi_total_retrans of the sender"
                                : "the server's per-sender account; nothing was lost underneath (0 retransmissions), "
                                  "so this run shows order and completeness, not recovery — see the lossy link"});
}

void udp_checks(Result& result, const json::object& udp, bool relay, double link_loss) {
  const auto& s = udp.at("server").as_object();
  const std::uint64_t lost = number(s.at("lost")), reordered = number(s.at("reordered")),
                      duplicated = number(s.at("duplicated"));
  std::string observed = account_text(s) + " (loss " + share(lost, number(s.at("expected"))) + ")";
  if (link_loss > 0) observed += "; configured link loss " + share(static_cast<std::uint64_t>(link_loss * 1e6), 1'000'000);
  result.add_check({.id = "udp-no-guarantee", .claim = "UDP does not guarantee delivery or order",
                    .expected = "messages lost, reordered or duplicated with nothing in UDP to notice or repair it", .observed = observed,
                    .verdict = lost + reordered + duplicated > 0 ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = lost + reordered + duplicated > 0
                        ? "the server's per-sender account of the numbered datagrams"
                        : "nothing went wrong on this path: with room in the buffers, loopback loses and reorders "
                          "nothing — UDP did not repair anything, there was nothing to repair"});
  // The loss a slow reader causes is the kernel's drop at a full receive buffer.
  if (!relay && link_loss == 0 && (lost > 0 || number(s.at("socket_drops")) > 0)) {
    const std::uint64_t kernel = number(s.at("socket_drops_of_data"));
    const bool has_snmp = s.contains("udp_rcvbuf_errors_delta");
    const std::int64_t snmp = has_snmp ? s.at("udp_rcvbuf_errors_delta").to_number<std::int64_t>() : -1;
    const bool agree = kernel == lost && (!has_snmp || snmp >= static_cast<std::int64_t>(number(s.at("socket_drops"))));
    result.add_check({.id = "udp-loss-is-kernel-drop", .claim = "UDP has no flow control: a slow receiver loses datagrams",
                      .expected = "the receiver's count of lost messages equals the kernel's count of drops",
                      .observed = "server counted " + std::to_string(lost) + " lost; SO_RXQ_OVFL counted " +
                          std::to_string(kernel) + " data drops on the socket; UdpRcvbufErrors grew by " +
                          (has_snmp ? std::to_string(snmp) : std::string("(unreadable)")) + " (whole host)",
                      .verdict = agree ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "SO_RXQ_OVFL stamps on the server's datagrams; /proc/net/snmp before and after"});
  }
  if (udp.contains("relay")) {
    const auto& r = udp.at("relay").as_object();
    const bool equal = number(r.at("lost")) == lost && number(r.at("reordered")) == reordered &&
                       number(r.at("duplicated_out")) == duplicated &&
                       number(r.at("garbage_forwarded")) == number(s.at("corrupted"));
    result.add_check({.id = "relay-equals-server", .claim = "the impaired path: what the relay did is what the receiver saw",
                      .expected = "server's lost/reordered/duplicated/corrupted = relay's dropped/reordered/duplicated/garbage",
                      .observed = "relay dropped " + std::to_string(number(r.at("dropped"))) + ", duplicated " +
                          std::to_string(number(r.at("duplicated"))) + ", sent " + std::to_string(number(r.at("reordered"))) +
                          " out of order; server: " + account_text(s),
                      .verdict = equal ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "netlab-relay's counts (relay_query) against the server's account of the same stream"});
  }
}

void comparison_checks(Result& result, const json::object& tcp, const json::object& udp) {
  const auto& ts = tcp.at("server").as_object();
  const auto& us = udp.at("server").as_object();
  if (slow_reader(ts) || slow_reader(us)) {
    const std::uint64_t udp_lost = number(us.at("lost")), tcp_lost = number(ts.at("lost"));
    const bool throttled = number(tcp.at("would_block")) > 0 ||
                           (tcp.contains("rwnd_limited_ms") && tcp.at("rwnd_limited_ms").as_double() > 0);
    std::string observed = "TCP: lost " + std::to_string(tcp_lost) + ", sender refused " +
                           std::to_string(number(tcp.at("would_block"))) + " times, blocked " +
                           std::to_string(static_cast<long>(tcp.at("blocked_seconds").as_double() * 1000)) + " ms";
    if (tcp.contains("rwnd_limited_ms"))
      observed += ", rwnd-limited " + std::to_string(static_cast<long>(tcp.at("rwnd_limited_ms").as_double())) + " ms";
    if (tcp.contains("min_peer_window")) observed += ", smallest window seen " + std::to_string(number(tcp.at("min_peer_window"))) + " B";
    observed += "; UDP: lost " + std::to_string(udp_lost) + " of " + std::to_string(number(us.at("expected")));
    result.add_check({.id = "flow-control", .claim = "TCP has flow control, UDP has none",
                      .expected = "slow reader: TCP loses nothing and the sender waits; UDP's sender never waits and datagrams drop",
                      .observed = observed,
                      .verdict = tcp_lost > 0 ? Verdict::refuted
                      : (throttled && udp_lost > 0) ? Verdict::confirmed : Verdict::nuanced,
                      .evidence = (throttled && udp_lost > 0)
                          ? "EAGAIN on the TCP sender's socket, TCP_INFO, the server's accounts"
                          : "the reader kept up in this run (no drop or no wait): slow it further (--reader-delay-us, --rcvbuf)"});
  }
  // Bytes on the wire, from header sizes: IPv4 20 + TCP 20 (+12 with timestamps) per segment
  // (segments counted by TCP_INFO, both directions) against IPv4 20 + UDP 8 per datagram.
  if (!tcp.contains("segs_out")) return;
  const double n = static_cast<double>(number(tcp.at("sent")));
  const double tcp_header = 40 + (tcp.at("timestamps").as_bool() ? 12 : 0);
  const double tcp_packets = static_cast<double>(number(tcp.at("segs_out")) + number(tcp.at("segs_in")));
  const double tcp_bytes = static_cast<double>(number(tcp.at("bytes_sent")) + number(tcp.at("bytes_received"))) +
                           tcp_packets * tcp_header;
  const double udp_packets = static_cast<double>(number(udp.at("sent")) + 2 * number(udp.at("done_attempts")));
  const double udp_bytes = static_cast<double>(number(udp.at("bytes_sent"))) + udp_packets * 28;
  json::object overhead{{"source", "header sizes x packet counts (TCP_INFO segs_out+segs_in; datagrams sent)"},
                        {"tcp_packets_per_message", tcp_packets / n}, {"udp_packets_per_message", udp_packets / n},
                        {"tcp_wire_bytes_per_message", tcp_bytes / n}, {"udp_wire_bytes_per_message", udp_bytes / n}};
  char text[200];
  std::snprintf(text, sizeof text, "per message: TCP %.1f bytes in %.3f packets, UDP %.1f bytes in %.3f packets",
                tcp_bytes / n, tcp_packets / n, udp_bytes / n, udp_packets / n);
  result.observed()["overhead"] = overhead;
  const bool costlier = tcp_bytes > udp_bytes;
  result.add_check({.id = "tcp-costs-more", .claim = "TCP is heavier: more header bytes and packets per message",
                    .expected = "more bytes on the wire per message over TCP than over UDP", .observed = text,
                    .verdict = costlier ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = costlier ? "estimated from header sizes (see the capture for exact bytes)"
                             : "estimated from header sizes: TCP packed many messages into each segment (a byte "
                               "stream), so its headers cost less per message than one UDP header per datagram"});
}

json::object to_json(const Semantics& semantics) {
  auto out = json::value_from(semantics).as_object();
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
  result.add_check({.id = "tcp-needs-connection", .claim = "TCP needs a connection, UDP does not",
                    .expected = "TCP connect to a closed port fails (RST); UDP sendto there succeeds and nothing comes back",
                    .observed = "TCP connect: " + s.tcp_connect_error + " after " +
                        std::to_string(s.tcp_connect_ms).substr(0, 5) + " ms; UDP sendto: " +
                        std::to_string(s.udp_sendto_bytes) + " bytes accepted, then " +
                        (udp_silent ? std::string("nothing") : s.udp_unconnected_then) +
                        "; connected UDP: " + s.udp_connected_then,
                    .verdict = s.tcp_connect_refused && udp_silent ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "return codes of connect(), sendto() and the next receive; a connected UDP socket does learn of "
                    "the ICMP port unreachable (ECONNREFUSED) — the kernel, not UDP, tells it"});
  if (s.tcp_one_message) {
    const auto tcp_packets = s.tcp_one_message->packets;
    result.add_check({.id = "tcp-costs-more-packets", .claim = "TCP costs more: one message takes a handshake, acks and a teardown",
                      .expected = "more packets than UDP's single datagram",
                      .observed = "one message: TCP " + std::to_string(tcp_packets) + " packets (both directions), UDP 1 datagram" +
                          (s.udp_one_message_arrived ? " (it arrived)" : " (it did not arrive)"),
                      .verdict = tcp_packets > 1 ? Verdict::confirmed : Verdict::refuted,
                      .evidence = "TCP_INFO segs_out + segs_in at the end of the connection; the capture shows each packet"});
  }
}

}  // namespace netlab::transport
