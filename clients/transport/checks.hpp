#pragma once
// The tcp和udp note's claims, against what the transport client measured
// (docs/labs/transport.md): the stream over TCP, over UDP, the two side by side,
// and the semantics probe. Each reads what its part measured and adds its
// checks to the result.
#include "observed.hpp"
#include "program/result.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace netlab::transport {

// The server's account of one stream, read once from its report
// (netlab-transport-server sends it as JSON at the end of the stream).
struct ServerAccount {
  std::uint64_t expected = 0, unique = 0, lost = 0, reordered = 0, duplicated = 0, corrupted = 0;
  std::uint64_t reader_delay_us = 0;
  std::uint64_t socket_drops = 0, socket_drops_of_data = 0;  // UDP: SO_RXQ_OVFL on the server's socket
  std::optional<std::int64_t> udp_rcvbuf_errors_delta{};     // UDP: when /proc/net/snmp was readable
  boost::json::object report{};                              // as the server sent it (the result's "server")

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ServerAccount& a) { v = a.report; }
};
ServerAccount read_account(boost::json::object report);

// What netlab-relay did to the stream (its relay_report's "session").
struct RelayCounts {
  std::uint64_t dropped = 0, duplicated = 0, lost = 0, reordered = 0, duplicated_out = 0, garbage_forwarded = 0;
  boost::json::object session{};  // as the relay sent it (the result's "relay")

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RelayCounts& r) { v = r.session; }
};
RelayCounts read_relay(boost::json::object session);

// --mode stream over TCP: the sender's side of flow control, and the server's account.
struct TcpStream {
  std::size_t sent = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  double send_seconds = 0;
  std::uint64_t would_block = 0;  // writes the kernel refused (EAGAIN)
  double blocked_seconds = 0;
  ServerAccount server{};
  std::optional<std::uint32_t> min_peer_window{};  // when the kernel reports the peer's window
  std::optional<std::uint64_t> zero_window_samples{};
  // TCP_INFO at the end of the stream, when it was readable
  std::optional<std::uint32_t> total_retrans{}, segs_out{}, segs_in{};
  std::optional<double> rwnd_limited_ms{}, sndbuf_limited_ms{};
  std::optional<bool> timestamps{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TcpStream& s) {
    v = present_members(s);
  }
};
BOOST_DESCRIBE_STRUCT(TcpStream, (),
                      (sent, bytes_sent, bytes_received, send_seconds, would_block, blocked_seconds, server,
                       min_peer_window, zero_window_samples, total_retrans, segs_out, segs_in, rwnd_limited_ms,
                       sndbuf_limited_ms, timestamps))

// --mode stream over UDP: what was sent, how many "done" it took, the server's account.
struct UdpStream {
  std::size_t sent = 0;
  std::uint64_t bytes_sent = 0;
  double send_seconds = 0;
  int done_attempts = 0;
  ServerAccount server{};
  std::optional<RelayCounts> relay{};  // --relay

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const UdpStream& s) {
    v = present_members(s);
  }
};
BOOST_DESCRIBE_STRUCT(UdpStream, (), (sent, bytes_sent, send_seconds, done_attempts, server, relay))

// Bytes and packets per message on the wire: estimated from header sizes, or
// counted in a capture (source says which).
struct Overhead {
  std::string source;
  double tcp_packets_per_message = 0, udp_packets_per_message = 0;
  double tcp_wire_bytes_per_message = 0, udp_wire_bytes_per_message = 0;
};
BOOST_DESCRIBE_STRUCT(Overhead, (),
                      (source, tcp_packets_per_message, udp_packets_per_message, tcp_wire_bytes_per_message,
                       udp_wire_bytes_per_message))

// One message over TCP, counted by TCP_INFO at the end of its connection.
struct OneMessage {
  std::uint64_t segs_out = 0, segs_in = 0, packets = 0;
};

// --mode semantics: a TCP connect and UDP datagrams to a port where nothing
// listens, then one message to the server over each protocol.
struct Semantics {
  std::uint16_t dead_port = 0;
  std::string tcp_connect_error;
  bool tcp_connect_refused = false;
  double tcp_connect_ms = 0;
  std::string udp_sendto_error;
  std::size_t udp_sendto_bytes = 0;
  std::string udp_unconnected_then;  // "" = nothing came back
  std::string udp_connected_send_error;
  std::string udp_connected_then;
  bool udp_connected_refused = false;
  std::optional<OneMessage> tcp_one_message{};  // none when TCP_INFO was unreadable
  int udp_one_message_packets = 0;
  bool udp_one_message_arrived = false;
};
BOOST_DESCRIBE_STRUCT(Semantics, (),
                      (dead_port, tcp_connect_error, tcp_connect_refused, tcp_connect_ms, udp_sendto_error,
                       udp_sendto_bytes, udp_unconnected_then, udp_connected_send_error, udp_connected_then,
                       udp_connected_refused, udp_one_message_packets, udp_one_message_arrived))

// The result's "semantics": the fields above, tcp_one_message as tcp_one_message_* when measured.
boost::json::object to_json(const Semantics& semantics);
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Semantics& s) { v = to_json(s); }

// What --mode stream and --mode semantics observed (the result's "observed"): the parts this run measured.
struct Observed {
  std::optional<Semantics> semantics{};
  std::optional<TcpStream> tcp{};
  std::optional<UdpStream> udp{};
  std::optional<Overhead> overhead{};  // --proto both, when TCP_INFO was readable

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(Observed, (), (semantics, tcp, udp, overhead))

// "N of M arrived; lost ..., reordered ..., duplicated ..., corrupted ...": the server's account.
std::string account_text(const ServerAccount& server);

void tcp_checks(Result& result, const TcpStream& tcp);
// `relay`: the UDP stream went through netlab-relay; `link_loss`: the lossy link's configured share.
void udp_checks(Result& result, const UdpStream& udp, bool relay, double link_loss);
// Who judges tcp-costs-more: the estimate from header sizes (by hand, no
// capture), or the capture of the run, read afterwards (--mode overhead-capture).
enum class OverheadCheck { from_headers, from_capture };
// The two side by side; the wire overhead per message when TCP_INFO counted the segments.
std::optional<Overhead> comparison_checks(Result& result, const TcpStream& tcp, const UdpStream& udp,
                                          OverheadCheck bytes_check);
// tcp-costs-more from bytes per message, said with where they came from (overhead.source);
// skipped when a protocol has no packet there.
void costs_more_check(Result& result, const Overhead& overhead);
// --mode overhead-capture: the bytes and packets per message of the TCP and UDP
// flows on `port` in `pcap`, `messages` sent over each; tcp-costs-more from them.
Overhead capture_overhead(const std::string& pcap, std::uint16_t port, std::size_t messages);
void semantics_checks(Result& result, const Semantics& semantics);

}  // namespace netlab::transport
