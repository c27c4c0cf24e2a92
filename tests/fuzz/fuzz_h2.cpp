// libFuzzer target: the bytes of one h2c connection to netlab-http-server as
// its HTTP/2 session (servers/http/h2.cpp) takes them, without sockets: fed in
// reads of a size fixed per input, each followed by what the server would send
// (output()), until the session ends or the bytes do. nghttp2 parses the
// frames and the HPACK blocks; each stream that ends becomes a Beast request
// for the server's own routes (common/proto/http_routes.cpp) and its response
// goes back through nghttp2 as HEADERS + DATA. The limits are the server's
// defaults, with 4 concurrent streams so that the refusal path is reached.
//
// Invariants beside "no crash, no sanitizer report": a request that reaches a
// route has a method and stays within the body cap; a connection error is
// reported once and ends the session.
#include "http/h2.hpp"
#include "proto/http_routes.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace h2 = netlab::h2;
  const h2::Limits limits{.max_concurrent_streams = 4, .max_header_bytes = 8 * 1024, .max_body_bytes = 64 * 1024};
  h2::Counts counts;
  h2::H2Connection session(
      [&](h2::Request& req) {
        check(req.body().size() <= limits.max_body_bytes);
        return netlab::http_routes::route(req, {});
      },
      limits, counts);
  const std::size_t read_size = 1 + size % 509;
  std::size_t sent = session.output().size();  // the server's SETTINGS
  check(sent > 0);
  for (std::size_t at = 0; at < size && session.alive(); at += read_size) {
    const std::size_t n = std::min(read_size, size - at);
    const std::string failure = session.receive({data + at, n});
    sent += session.output().size();
    if (!failure.empty()) {
      check(counts.protocol_errors == 1);
      break;
    }
  }
  check(counts.protocol_errors <= 1 && counts.connections == 1);
  check(counts.streams + counts.refused_streams <= size);
  return 0;
}
