#include "isns.hpp"

#include "capture/pcap.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/value_from.hpp>

#include <optional>
#include <vector>

namespace netlab::handshake {
namespace {

using namespace tcp_flag;

// One handshake in the capture: the two ISNs and the acks that answered them.
struct Synchronised {
  std::string client;             // "ip:port" of the side that sent the SYN
  std::uint32_t client_isn = 0;   // the SYN's seq
  std::uint32_t syn_ack_ack = 0;  // the SYN-ACK's ack: the client's ISN + 1 when acknowledged
  std::uint32_t server_isn = 0;   // the SYN-ACK's seq
  bool third_segment = false;     // the client answered the SYN-ACK with an ACK (not an RST)
  std::uint32_t third_ack = 0;    // that ACK's ack: the server's ISN + 1 when acknowledged
};
BOOST_DESCRIBE_STRUCT(Synchronised, (), (client, client_isn, syn_ack_ack, server_isn, third_segment, third_ack))

struct Observed {
  std::size_t handshakes = 0;        // connections with SYN, SYN-ACK and a third segment (an ACK)
  std::size_t client_isn_acked = 0;  // of them, SYN-ACK ack = client ISN + 1
  std::size_t server_isn_acked = 0;  // of them, third segment's ack = server ISN + 1
  std::size_t unanswered = 0;        // SYN-ACKs answered by no ACK (an RST, or nothing captured)
  std::vector<Synchronised> connections;
};
BOOST_DESCRIBE_STRUCT(Observed, (), (handshakes, client_isn_acked, server_isn_acked, unanswered, connections))

// The first SYN, the first SYN-ACK after it, and the client's first ACK after that.
std::optional<Synchronised> synchronised(const Flow& flow) {
  const Packet* syn = nullptr;
  const Packet* syn_ack = nullptr;
  Synchronised s{.client = flow.client};
  for (const auto& p : flow.packets) {
    if (!syn) {
      if (flow.from_client(p) && p.flags == tcp_flag::syn) syn = &p;
    } else if (!syn_ack) {
      if (!flow.from_client(p) && p.flags == (tcp_flag::syn | tcp_flag::ack)) syn_ack = &p;
    } else if (flow.from_client(p) && (p.flags & tcp_flag::ack) && !(p.flags & (tcp_flag::syn | tcp_flag::rst))) {
      s.third_segment = true;
      s.third_ack = p.ack;
      break;
    }
  }
  if (!syn || !syn_ack) return std::nullopt;
  s.client_isn = syn->seq;
  s.syn_ack_ack = syn_ack->ack;
  s.server_isn = syn_ack->seq;
  return s;
}

}  // namespace

void judge_isns(const std::string& pcap, std::uint16_t port, Result& result) {
  Observed o;
  for (const auto& flow : group_flows(read_pcap(pcap), port)) {
    if (!flow.is_tcp) continue;
    auto s = synchronised(flow);
    if (!s) continue;
    if (!s->third_segment) {
      ++o.unanswered;
    } else {
      ++o.handshakes;
      o.client_isn_acked += s->syn_ack_ack == s->client_isn + 1;  // modulo 2^32, as the sequence space
      o.server_isn_acked += s->third_ack == s->server_isn + 1;
    }
    o.connections.push_back(std::move(*s));
  }
  result.set_params(boost::json::object{{"mode", "isn-capture"}, {"pcap", pcap}, {"port", port}});
  result.set_observed(o);
  const auto n = [](std::size_t v) { return std::to_string(v); };
  const bool all = o.client_isn_acked == o.handshakes && o.server_isn_acked == o.handshakes;
  result.add_check(
      {.id = "isn-acknowledged",
       .claim = "the three segments synchronise the sequence numbers: each side's ISN is acknowledged",
       .expected = "SYN-ACK ack = client ISN + 1 and the third segment's ack = server ISN + 1, every handshake",
       .observed = n(o.handshakes) + " handshakes: the SYN-ACK acked the client's ISN + 1 in " + n(o.client_isn_acked) +
                   ", the third segment acked the server's ISN + 1 in " + n(o.server_isn_acked) +
                   (o.unanswered ? "; " + n(o.unanswered) + " SYN-ACK answered by no ACK (not counted)" : ""),
       .verdict = o.handshakes == 0 ? Verdict::skipped
                  : all             ? Verdict::confirmed
                                    : Verdict::refuted,
       .evidence = "seq and ack of each connection's SYN, SYN-ACK and third segment in " + pcap + " (RFC 9293 §3.4)"});
}

}  // namespace netlab::handshake
