#include "netlab/capture.hpp"

#include <algorithm>
#include <optional>

namespace netlab {

namespace {

// Sequence space a segment occupies: its payload, plus one for SYN and for FIN.
std::uint32_t sequence_length(const Packet& p) {
  return static_cast<std::uint32_t>(p.payload_length) + ((p.flags & tcp_flag::syn) ? 1u : 0u) +
         ((p.flags & tcp_flag::fin) ? 1u : 0u);
}

// a - b in sequence space (wraps at 2^32).
std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }

}  // namespace

std::vector<bool> retransmissions(const Flow& flow) {
  std::vector<bool> resent(flow.packets.size(), false);
  if (!flow.is_tcp) return resent;
  std::optional<std::uint32_t> next_seq[2];  // per direction: the end of the sequence space sent so far
  for (std::size_t i = 0; i < flow.packets.size(); ++i) {
    const auto& p = flow.packets[i];
    const int side = flow.from_client(p) ? 0 : 1;
    const std::uint32_t length = sequence_length(p);
    if (length == 0 || (p.flags & tcp_flag::rst)) continue;
    const std::uint32_t end = p.seq + length;
    if (next_seq[side] && seq_diff(end, *next_seq[side]) <= 0)
      resent[i] = true;
    else
      next_seq[side] = end;
  }
  return resent;
}

FlowFacts analyse_flow(const Flow& flow) {
  FlowFacts facts;
  facts.client = flow.client;
  facts.server = flow.server;
  facts.is_tcp = flow.is_tcp;
  facts.packets = flow.packets.size();
  const auto resent = retransmissions(flow);
  std::size_t index = 0;
  std::optional<std::uint32_t> fin_end[2];    // per direction: sequence just past its FIN
  bool fin_acked[2] = {false, false};
  bool syn_seen = false, syn_ack_seen = false;
  for (const auto& p : flow.packets) {
    const int side = flow.from_client(p) ? 0 : 1;
    const bool retransmitted = resent[index++];
    facts.payload_bytes += p.payload_length;
    facts.ip_bytes += p.ip_bytes;
    if (!flow.is_tcp) continue;
    if (p.payload_length > 0) ++facts.data_segments;
    if ((p.flags & tcp_flag::syn) && (p.flags & tcp_flag::ack))
      ++facts.syn_ack_segments;
    else if (p.flags & tcp_flag::syn)
      ++facts.syn_segments;

    // Handshake: count from the SYN until the client acknowledges the SYN-ACK.
    if (!facts.handshake_complete) {
      if (p.flags & tcp_flag::syn) {
        syn_seen = true;
        if (p.flags & tcp_flag::ack) {
          if (!syn_ack_seen) facts.server_isn = p.seq;
          syn_ack_seen = true;
        } else if (facts.syn_segments == 1) {
          facts.client_isn = p.seq;
        }
      }
      if (syn_seen) ++facts.handshake_segments;
      if (syn_ack_seen && side == 0 && !(p.flags & tcp_flag::syn) && (p.flags & tcp_flag::ack))
        facts.handshake_complete = true;
    }

    if (p.flags & tcp_flag::rst) {
      if (facts.rst_segments++ == 0) facts.first_rst_from = side == 0 ? "client" : "server";
      if (side == 1) ++facts.rst_from_server;
    } else if (p.window == 0 && !(p.flags & tcp_flag::syn)) {
      ++facts.zero_window_segments;
      if (side == 1) ++facts.zero_window_from_server;
    }

    if (retransmitted) ++facts.retransmissions;

    // Close: FINs, and the first segment of each side that acknowledges the other's FIN.
    bool counts_in_close = false;
    if (p.flags & tcp_flag::fin) {
      ++facts.fin_segments;
      if (retransmitted) ++facts.fin_retransmissions;
      if (!fin_end[side]) {
        fin_end[side] = p.seq + sequence_length(p);
        if (facts.first_fin_from.empty()) facts.first_fin_from = side == 0 ? "client" : "server";
      }
      counts_in_close = true;
    }
    const int other = 1 - side;
    if (fin_end[other] && !fin_acked[other] && (p.flags & tcp_flag::ack) &&
        seq_diff(p.ack, *fin_end[other]) >= 0) {
      fin_acked[other] = true;
      counts_in_close = true;
    }
    if (counts_in_close) ++facts.close_segments;
  }
  return facts;
}

bool capture_contains(const std::vector<Flow>& flows, std::string_view needle) {
  if (needle.empty()) return true;
  for (const auto& flow : flows) {
    std::string stream[2];
    for (const auto& p : flow.packets) {
      if (p.payload.find(needle) != std::string::npos) return true;
      stream[flow.from_client(p) ? 0 : 1] += p.payload;
    }
    // Laid end to end in capture order (retransmissions included: a needle
    // split over two segments is still found).
    for (const auto& s : stream)
      if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace netlab
