// libFuzzer target: the rpc lab's binary frame (LengthHeaderCodec with the RPC
// cap) and its request/response bodies, plus the JSON payloads of the HTTP
// side. A decoded request must re-encode to the frame it came from.
#include "netlab/codec.hpp"
#include "netlab/rpc_protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace rpc = netlab::rpc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The body alone, as the server sees it after the codec.
  rpc::Request request;
  if (!rpc::decode_request(input, request)) {
    std::string frame;
    rpc::encode_request(request, frame);
    if (frame.substr(4) != input) std::abort();
  }
  rpc::Response response;
  (void)rpc::decode_response(input, response);
  // JSON bodies of the HTTP transport, under each method name.
  for (const char* method : {"get", "put", "add", "nope"}) {
    rpc::Request json_request;
    (void)rpc::parse_json_request(method, input, json_request);
  }
  (void)rpc::parse_json_response(input, response);
  // And the same bytes as a stream of frames.
  netlab::LengthHeaderCodec codec(rpc::max_frame);
  std::vector<std::string> frames;
  (void)codec.decode(input, frames);
  for (const auto& frame : frames) {
    rpc::Request r;
    (void)rpc::decode_request(frame, r);
  }
  return 0;
}
