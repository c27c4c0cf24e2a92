// libFuzzer target: the pcap reader behind netlab-pcap and the ladders
// (classic pcap, either byte order, down to TCP segments and UDP datagrams)
// and the flow grouping on top of it. Bad input may throw, never crash.
#include "netlab/pcap.hpp"

#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto packets = netlab::parse_pcap(std::string_view(reinterpret_cast<const char*>(data), size));
    (void)netlab::group_flows(packets);
    for (const auto& packet : packets) (void)packet;
  } catch (const std::exception&) {
    // A malformed capture is reported as an error: that is the contract.
  }
  return 0;
}
