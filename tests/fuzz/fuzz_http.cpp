// libFuzzer target: the HTTP request path, the bytes of one connection to
// netlab-http-server (or to the HTTP side of netlab-rpc-server) as the server
// handles them: Beast's request parser with the servers' limits, fed as reads
// would feed it, then for each request netlab's routing, Basic authentication
// (parse_basic_authorization, base64) and, for /rpc/<method>, the JSON call
// and the key-value store. Keep-alive and pipelining as on a real connection:
// requests follow each other until one says Connection: close or a parse error
// ends the connection.
//
// The routing, the user check and the RPC calls are the servers' own code
// (common/proto/http_routes.cpp, which both servers call), and so are
// netlab-http-server's caching routes (servers/http/cache_routes.cpp: the
// If-None-Match, If-Modified-Since, Range and Accept-Encoding parsers); this
// harness adds round-trip checks on what a request carries and on what a 206
// or a 304 may hold.
//
// Like every netlab target, built with BOOST_ENABLE_ASSERT_DEBUG_HANDLER (and without NDEBUG): a failed
// Boost assertion aborts as assert() would, except one that is known to be
// wrong in Boost 1.81 (common/program/boost_assert.cpp).
#include "http/cache_routes.hpp"
#include "proto/http_basics.hpp"
#include "proto/http_routes.hpp"
#include "proto/http_session.hpp"
#include "proto/rpc_protocol.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;
namespace rpc = netlab::rpc;
namespace basics = netlab::http_basics;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// The servers' limits: netlab-http-server's --max-header-bytes and
// --max-body-bytes defaults; the rpc server reads with the same two numbers
// (8 KiB of header, rpc::max_frame of body).
constexpr std::uint32_t max_header_bytes = 8 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;
static_assert(max_body_bytes == rpc::max_frame);

void check(bool ok) {
  if (!ok) std::abort();
}

// netlab-http-server's default --user list, through its own parser.
const std::vector<basics::User>& users() {
  static const std::vector<basics::User> list = [] {
    std::vector<basics::User> parsed;
    for (const char* spec : {"alice:wonderland:reader", "admin:secret:admin"})
      parsed.push_back(*basics::parse_user(spec));
    return parsed;
  }();
  return list;
}

// Properties of what the request carries, checked beside the servers' own
// handling: Basic credentials and base64 survive a round trip.
void check_authorization(const Request& req) {
  const auto header = req.find(http::field::authorization);
  if (header == req.end()) return;
  const std::string_view value = header->value();
  check(basics::base64_decode(basics::base64_encode(value)) == std::string(value));
  const auto credentials = basics::parse_basic_authorization(value);
  if (!credentials) return;
  // A parsed user name has no ':', so the credentials survive a round trip.
  check(credentials->user.find(':') == std::string::npos);
  const auto again = basics::parse_basic_authorization(basics::basic_authorization(*credentials));
  check(again && again->user == credentials->user && again->password == credentials->password);
}

// ... and an RPC call the server accepts, the client's encoder makes again, and
// its JSON answer reads back to the same outcome.
void check_rpc_call(const Request& req, const Response& res) {
  const std::string_view target = req.target();
  rpc::Request request;
  if (target.rfind("/rpc/", 0) != 0 || req.method() != http::verb::post ||
      rpc::parse_json_request(target.substr(5), req.body(), request))
    return;
  check(request.key.size() <= rpc::max_key);
  rpc::Request again;
  check(!rpc::parse_json_request(target.substr(5), rpc::json_request_body(request), again));
  check(again.method == request.method && again.key == request.key && again.value == request.value);
  rpc::Response read_back;
  check(!rpc::parse_json_response(res.body(), read_back));
}

// A 304 has no body; a 206 holds exactly the bytes its Content-Range names,
// within the resource (RFC 9110 §14.4, §15.4.5).
void check_cache_answer(const Response& res) {
  if (res.result() == http::status::not_modified) check(res.body().empty());
  if (res.result() != http::status::partial_content) return;
  const std::string range(res[http::field::content_range]);
  unsigned long long first = 0, last = 0, length = 0;
  check(std::sscanf(range.c_str(), "bytes %llu-%llu/%llu", &first, &last, &length) == 3);
  check(first <= last && last < length && res.body().size() == last - first + 1);
}

// The peer's FIN, as http::read reports it: end_of_stream between requests,
// partial_message (from the parser) inside one.
void end_of_stream(http::request_parser<http::string_body>& parser, boost::system::error_code& ec) {
  if (parser.got_some())
    parser.put_eof(ec);
  else
    ec = http::error::end_of_stream;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // How much each read delivers: fixed per input, so a crash replays the same way.
  const std::size_t read_size = 1 + size % 509;
  std::size_t received = 0;  // bytes "read from the socket" so far
  std::size_t consumed = 0;  // bytes of them the parsers have taken
  rpc::KeyValueStore store;
  // One parser per request, as in the servers' session loops.
  for (int number = 0; number < 256; ++number) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_header_bytes);
    parser.body_limit(max_body_bytes);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      if (consumed == received) {
        if (received == size) {
          end_of_stream(parser, ec);
          break;
        }
        received = std::min(size, received + read_size);
      }
      consumed += parser.put(boost::asio::buffer(data + consumed, received - consumed), ec);
      if (ec == http::error::need_more) {
        // The parser wants the same bytes again with more after them.
        ec = {};
        if (received == size) {
          end_of_stream(parser, ec);
          break;
        }
        received = std::min(size, received + read_size);
        continue;
      }
      if (ec) break;
    }
    // The peer closed, between requests or inside one: the session just ends.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) break;
    if (ec) {
      // A request that does not parse: 400, or 431 / 413 for the limits, then close.
      const auto status = netlab::http_session::status_for_parse_error(ec);
      check(status == http::status::bad_request || status == http::status::request_header_fields_too_large ||
            status == http::status::payload_too_large);
      break;
    }
    if (!parser.is_done()) break;
    Request req = parser.release();
    check(req.body().size() <= max_body_bytes);
    // What each server does with it: its own routes (common/proto/http_routes.cpp).
    check_authorization(req);
    Response res;
    if (req.target().rfind("/rpc/", 0) == 0) {
      netlab::http_routes::RpcCounts counts;
      res = netlab::http_routes::rpc_call(req, store, counts);
      check(counts.calls + counts.error_answers >= 1);
      check_rpc_call(req, res);
    } else if (auto cached = netlab::httpd::cache_route(req)) {
      res = std::move(*cached);
      check_cache_answer(res);
    } else {
      res = netlab::http_routes::route(req, users());
    }
    // The answer goes out through Beast's serializer, as on the socket.
    std::ostringstream wire;
    wire << res;
    check(!wire.str().empty());
    if (!res.keep_alive()) break;  // Connection: close (or HTTP/1.0 without keep-alive)
  }
  return 0;
}
