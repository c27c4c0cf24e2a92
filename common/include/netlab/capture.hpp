#pragma once
// Questions answered from a capture, so that the packet-level checks of the
// labs ("three segments to connect", "three or four to close", "RST instead
// of FIN", "the page text is not on the wire") come from the packets.
#include "netlab/pcap.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

struct FlowFacts {
  std::string client, server;
  bool is_tcp = false;
  std::size_t packets = 0;
  std::size_t payload_bytes = 0;       // application bytes, both directions
  std::size_t ip_bytes = 0;            // everything above the link layer, both directions
  std::size_t data_segments = 0;       // segments carrying payload
  // Segments from the first SYN to the client's first ACK of the SYN-ACK
  // (3 for a clean handshake; more when a SYN was retransmitted); 0 if no SYN was captured.
  std::size_t handshake_segments = 0;
  bool handshake_complete = false;
  std::size_t syn_segments = 0;        // SYN without ACK, sent again ones included
  std::size_t syn_ack_segments = 0;
  std::uint32_t client_isn = 0, server_isn = 0;  // of the first SYN and SYN-ACK; 0 when none was captured
  // FIN segments plus the first segment of each side acknowledging the other's
  // FIN: 4 for FIN/ACK/FIN/ACK, 3 when the ACK of the first FIN rides on the
  // second FIN; 0 if no FIN was captured.
  std::size_t close_segments = 0;
  std::string first_fin_from;          // "client", "server" or "" (no FIN)
  std::size_t fin_segments = 0;        // segments with FIN, both sides, sent again ones included
  // Of those, FINs resending one already sent: the peer did not acknowledge it
  // in time (e.g. the last ACK of a close was lost).
  std::size_t fin_retransmissions = 0;
  std::size_t rst_segments = 0;
  std::size_t rst_from_server = 0;     // of those, sent by the server (the side the SYN went to)
  std::string first_rst_from;
  std::size_t zero_window_segments = 0;  // a receiver announcing a window of 0 (flow control)
  std::size_t zero_window_from_server = 0;  // of those, sent by the server: its receive buffer was full
  std::size_t retransmissions = 0;       // segments resending sequence space already sent
};

FlowFacts analyse_flow(const Flow& flow);

// For each packet of a flow: true when it resends sequence space (payload, SYN
// or FIN) that its side had already sent. Always false for UDP.
std::vector<bool> retransmissions(const Flow& flow);

// True when `needle` appears in a packet's payload or across the payloads of
// one direction of a flow laid end to end.
bool capture_contains(const std::vector<Flow>& flows, std::string_view needle);

}  // namespace netlab
