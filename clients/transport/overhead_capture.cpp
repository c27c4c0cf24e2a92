// What one message costs on the wire, counted in the capture of the overhead
// step: every packet of the TCP connection (handshake, data, acks, teardown)
// and every UDP datagram (the stream, "done" and the report), IP headers and
// payload, divided by the messages sent over each.
#include "checks.hpp"

#include "capture/pcap.hpp"

namespace netlab::transport {

Overhead capture_overhead(const std::string& pcap, std::uint16_t port, std::size_t messages) {
  std::uint64_t tcp_packets = 0, udp_packets = 0, tcp_bytes = 0, udp_bytes = 0;
  for (const auto& flow : group_flows(read_pcap(pcap), port)) {
    for (const auto& p : flow.packets) {
      (p.is_tcp ? tcp_packets : udp_packets) += 1;
      (p.is_tcp ? tcp_bytes : udp_bytes) += p.ip_bytes;
    }
  }
  const double n = static_cast<double>(messages);
  return {.source = "capture " + pcap + " (" + std::to_string(tcp_packets) + " TCP and " + std::to_string(udp_packets) +
                    " UDP packets)",
          .tcp_packets_per_message = static_cast<double>(tcp_packets) / n,
          .udp_packets_per_message = static_cast<double>(udp_packets) / n,
          .tcp_wire_bytes_per_message = static_cast<double>(tcp_bytes) / n,
          .udp_wire_bytes_per_message = static_cast<double>(udp_bytes) / n};
}

}  // namespace netlab::transport
