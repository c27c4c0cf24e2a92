#pragma once
// The tcp和udp note's claims, against what the transport client measured
// (docs/labs/transport.md): the stream over TCP, over UDP, the two side by side,
// and the semantics probe. Each reads the observed JSON of its part and adds
// its checks to the result.
#include "program/result.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace netlab::transport {

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
  std::optional<OneMessage> tcp_one_message;  // none when TCP_INFO was unreadable
  int udp_one_message_packets = 0;
  bool udp_one_message_arrived = false;
};
BOOST_DESCRIBE_STRUCT(Semantics, (),
                      (dead_port, tcp_connect_error, tcp_connect_refused, tcp_connect_ms, udp_sendto_error,
                       udp_sendto_bytes, udp_unconnected_then, udp_connected_send_error, udp_connected_then,
                       udp_connected_refused, udp_one_message_packets, udp_one_message_arrived))

// The result's "semantics": the fields above, tcp_one_message as tcp_one_message_* when measured.
boost::json::object to_json(const Semantics& semantics);

// "N of M arrived; lost ..., reordered ..., duplicated ..., corrupted ...": the server's account.
std::string account_text(const boost::json::object& server);

void tcp_checks(Result& result, const boost::json::object& tcp);
// `relay`: the UDP stream went through netlab-relay; `link_loss`: the lossy link's configured share.
void udp_checks(Result& result, const boost::json::object& udp, bool relay, double link_loss);
void comparison_checks(Result& result, const boost::json::object& tcp, const boost::json::object& udp);
void semantics_checks(Result& result, const Semantics& semantics);

}  // namespace netlab::transport
