// libFuzzer target: a capture file as netlab-pcap and the lab scripts read it.
// The pcap reader (classic pcap, either byte order, micro or nanosecond stamps,
// Ethernet / Linux cooked / raw IP, down to TCP segments and UDP datagrams),
// the flow grouping, the capture facts (handshake, close, retransmissions) and
// the ladder renderer on every flow: text, Mermaid and SVG, TLS records named.
// Bad input may throw std::runtime_error (the tool prints it), never crash.
#include "netlab/capture.hpp"
#include "netlab/ladder.hpp"
#include "netlab/pcap.hpp"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<netlab::Packet> packets;
  std::vector<netlab::PortUnreachable> unreachables;
  try {
    // With the ICMP list, so the quoted-datagram decoder is fuzzed too.
    packets = netlab::parse_pcap(std::string_view(reinterpret_cast<const char*>(data), size), &unreachables);
  } catch (const std::runtime_error&) {
    return 0;  // a malformed capture is reported as an error: that is the contract
  }
  for (const auto& packet : packets) {
    // What was captured of a payload never exceeds what the headers say was sent.
    check(packet.payload.size() <= packet.payload_length);
    (void)netlab::tls_records(packet.payload);
    (void)netlab::flag_names(packet.flags);
  }
  // The ladder options vary with the input (fixed per input, so a crash replays the same way).
  netlab::LadderOptions options;
  options.full = size % 2 == 1;
  options.color = size % 3 == 0;
  options.width = size % 160;
  options.edge_rows = size % 7;
  for (const std::uint16_t port : {std::uint16_t{0}, std::uint16_t{7443}}) {
    const auto flows = netlab::group_flows(packets, port);
    std::size_t grouped = 0;
    for (const auto& flow : flows) {
      check(!flow.packets.empty());
      grouped += flow.packets.size();
      const auto facts = netlab::analyse_flow(flow);
      check(facts.packets == flow.packets.size());
      check(netlab::retransmissions(flow).size() == flow.packets.size());
      const auto rows = netlab::ladder_rows(flow, options);
      check(!rows.empty());
      check(!netlab::ladder_text(flow, options).empty());
      check(!netlab::ladder_mermaid(flow, options).empty());
      check(!netlab::ladder_svg(flow, options).empty());
    }
    if (port == 0) check(grouped == packets.size());
    const int chosen = netlab::representative_flow(flows);
    check(chosen < static_cast<int>(flows.size()) && (chosen >= 0 || flows.empty()));
    (void)netlab::capture_contains(flows, "GET /");
  }
  return 0;
}
