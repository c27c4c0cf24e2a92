// libFuzzer target: the delimiter and length-header codecs. The first byte
// picks the codec and how the input is cut into chunks (as reads would cut
// it); the invariants are those the framing server relies on: every decoded
// frame is within the cap, and after an error decoding stops for good.
#include "proto/codec.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

template <typename Codec>
void run(Codec codec, std::string_view input, std::size_t chunk) {
  std::vector<std::string> frames;
  bool failed = false;
  while (!input.empty()) {
    const auto piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    frames.clear();
    const auto error = codec.decode(piece, frames);
    if (failed && !frames.empty()) std::abort();  // no frame after an error
    for (const auto& frame : frames)
      if (frame.size() > codec.max_frame()) std::abort();
    if (error) failed = true;
  }
  (void)codec.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t chunk = 1 + (control >> 1) % 64;
  // A small cap so the fuzzer reaches "over the cap" without megabyte inputs.
  if (control & 1)
    run(netlab::LengthHeaderCodec(256), input, chunk);
  else
    run(netlab::DelimiterCodec('\n', 256), input, chunk);
  return 0;
}
