// libFuzzer target: the transport lab's 32-byte message header, as a UDP
// datagram (decode_datagram, peek_header) and as a TCP stream (StreamDecoder,
// fed in chunks). A decoded message must re-encode to the same bytes.
#include "proto/transport_message.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace tr = netlab::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto decoded = tr::decode_datagram(input);
  if (decoded.message) {
    if (decoded.error) std::abort();
    std::string again;
    const auto& h = decoded.message->header;
    tr::encode(h.kind, h.sequence, h.send_time_us, decoded.message->payload, again);
    if (again != input) std::abort();
  }
  (void)tr::peek_header(input);

  tr::StreamDecoder stream;
  std::vector<tr::StreamDecoder::Owned> messages;
  const std::size_t chunk = size ? 1 + data[0] % 97 : 1;
  for (std::size_t at = 0; at < size; at += chunk) {
    messages.clear();
    if (stream.feed(input.substr(at, chunk), messages)) break;
    for (const auto& m : messages)
      if (m.payload.size() > tr::max_payload) std::abort();
  }
  return 0;
}
