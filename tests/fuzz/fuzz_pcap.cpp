// libFuzzer target: a capture file as netlab-pcap and the lab scripts read it.
// libpcap reads the file (pcap in either byte order, micro or nanosecond
// stamps, pcapng) from an fmemopen FILE*; our decoding of what it hands over
// (Ethernet / VLAN / Linux cooked v1, v2 / NULL / raw IP, down to TCP segments
// and UDP datagrams), the flow grouping, the capture facts (handshake, close,
// the TCP analysis' classes) both ways (vector and streamed), and the ladder
// renderer on every flow: text, Mermaid and SVG, TLS records named; and the
// rpc lab's HTTP/2 reading of a flow (grpc-is-http2): each direction
// reassembled in sequence order, then read as the preface and frames.
// Bad input may throw std::runtime_error (the tool prints it), never crash.
#include "capture/capture.hpp"
#include "capture/h2_frames.hpp"
#include "capture/ladder.hpp"
#include "capture/pcap.hpp"

#include <cstdint>
#include <cstdio>
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
  // The streamed reading (netlab-pcap facts) sees the same packets.
  {
    std::FILE* file = ::fmemopen(const_cast<std::uint8_t*>(data), size, "rb");
    if (!file) return 0;
    netlab::PcapReader reader(file, "fuzz");  // opened above already, so it does not throw
    netlab::Frame frame;
    netlab::PacketView view;
    std::size_t decoded = 0;
    while (reader.next(frame)) {
      if (!netlab::decode_frame(reader.link(), frame.bytes, view)) continue;
      ++decoded;
      check(view.payload.size() <= view.payload_length);
      check(view.payload.size() <= frame.bytes.size());
    }
    check(reader.error().empty() && decoded == packets.size());
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
      // At most one of the kinds of resend / out of order per segment.
      namespace a = netlab::tcp_analysis;
      for (const auto classes : netlab::tcp_analysis_of(flow)) {
        const auto kind = classes & (a::any_retransmission | a::out_of_order);
        check((kind & (kind - 1)) == 0);
      }
      const auto rows = netlab::ladder_rows(flow, options);
      check(!rows.empty());
      check(!netlab::ladder_text(flow, options).empty());
      check(!netlab::ladder_mermaid(flow, options).empty());
      check(!netlab::ladder_svg(flow, options).empty());
      if (port != 0) continue;
      // Each payload byte at most once per direction, and no frame counted past the bytes.
      std::size_t payload = 0;
      for (const auto& packet : flow.packets) payload += packet.payload.size();
      const auto streams = netlab::h2::reassemble(flow);
      check(streams.from_client.size() + streams.from_server.size() <= payload);
      for (const bool client : {true, false}) {
        const std::string& bytes = client ? streams.from_client : streams.from_server;
        const auto count = netlab::h2::count_frames(bytes, client);
        check(count.bytes == bytes.size());
        check(count.frames * netlab::h2::frame_header_size + count.header_block_bytes + count.data_bytes <=
              bytes.size());
      }
    }
    if (port == 0) check(grouped == packets.size());
    const int chosen = netlab::representative_flow(flows);
    check(chosen < static_cast<int>(flows.size()) && (chosen >= 0 || flows.empty()));
    (void)netlab::capture_contains(flows, "GET /");
  }
  return 0;
}
