// libFuzzer target: the HTTP request path, the bytes of one connection to
// netlab-http-server (or to the HTTP side of netlab-rpc-server) as the server
// handles them: Beast's request parser with the servers' limits, fed as reads
// would feed it, then for each request netlab's routing, Basic authentication
// (parse_basic_authorization, base64) and, for /rpc/<method>, the JSON call
// and the key-value store. Keep-alive and pipelining as on a real connection:
// requests follow each other until one says Connection: close or a parse error
// ends the connection.
//
// The routing and the user check live in servers/http_server.cpp (route,
// authenticate, echo_headers) and servers/rpc_server.cpp (handle), inside
// their anonymous namespaces; until they move to common/, this harness follows
// them step for step below. Everything they call is netlab's real code.
//
// Like every netlab target, built with BOOST_ENABLE_ASSERT_HANDLER: a failed
// Boost assertion aborts as assert() would, except one that is known to be
// wrong in Boost 1.81 (common/src/boost_assert.cpp).
#include "netlab/http_basics.hpp"
#include "netlab/http_session.hpp"
#include "netlab/rpc_protocol.hpp"

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

Response make_response(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::server, "netlab-fuzz");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// http_server.cpp authenticate(): nullptr without valid credentials of a known user.
const basics::User* authenticate(const Request& req) {
  const auto header = req.find(http::field::authorization);
  if (header == req.end()) return nullptr;
  const std::string_view value = header->value();
  const auto credentials = basics::parse_basic_authorization(value);
  // Base64 must give back what it was given, whatever the header held.
  check(basics::base64_decode(basics::base64_encode(value)) == std::string(value));
  if (!credentials) return nullptr;
  // A parsed user name has no ':', so the credentials survive a round trip.
  check(credentials->user.find(':') == std::string::npos);
  const auto again = basics::parse_basic_authorization(basics::basic_authorization(*credentials));
  check(again && again->user == credentials->user && again->password == credentials->password);
  for (const auto& user : users())
    if (user.name == credentials->user && user.password == credentials->password) return &user;
  return nullptr;
}

// http_server.cpp echo_headers(): the request's headers as JSON, repeated ones comma-joined.
std::string echo_headers(const Request& req) {
  boost::json::object headers;
  for (const auto& field : req) {
    const std::string name(field.name_string());
    const std::string value(field.value());
    if (auto* seen = headers.if_contains(name))
      seen->as_string().append(", " + value);
    else
      headers[name] = value;
  }
  const boost::json::object body{{"method", std::string(req.method_string())},
                                 {"target", std::string(req.target())},
                                 {"headers", std::move(headers)}};
  return boost::json::serialize(body);
}

// http_server.cpp route().
Response route_http_lab(const Request& req) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  const bool known = path == "/" || path == "/old" || path == "/private" || path == "/admin" || path == "/headers";
  if (!known) return make_response(req, http::status::not_found, "no such path " + std::string(path));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = make_response(req, http::status::method_not_allowed, std::string(req.method_string()));
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/") return make_response(req, http::status::ok, "home page");
  if (path == "/old") {
    auto res = make_response(req, http::status::moved_permanently, "now at /");
    res.set(http::field::location, "/");
    return res;
  }
  if (path == "/headers") return make_response(req, http::status::ok, echo_headers(req));
  const basics::User* user = authenticate(req);
  if (!user) {
    auto res = make_response(req, http::status::unauthorized, "401");
    res.set(http::field::www_authenticate, "Basic realm=\"netlab\"");
    return res;
  }
  if (path == "/admin" && user->role != "admin") return make_response(req, http::status::forbidden, user->name);
  return make_response(req, http::status::ok, user->name);
}

// rpc_server.cpp handle(): POST /rpc/<method> with a JSON body, answered from the store.
Response route_rpc_lab(const Request& req, rpc::KeyValueStore& store) {
  const std::string_view target = req.target();
  if (target.rfind("/rpc/", 0) != 0) return make_response(req, http::status::not_found, "");
  if (req.method() != http::verb::post) return make_response(req, http::status::method_not_allowed, "");
  const std::string_view method = target.substr(5);
  rpc::Request request;
  if (auto bad = rpc::parse_json_request(method, req.body(), request)) {
    check(!bad->message.empty());
    const auto body = rpc::json_response_body({0, bad->status, 0, bad->message});
    rpc::Response back;
    check(!rpc::parse_json_response(body, back) && back.status == bad->status);
    return make_response(req, static_cast<http::status>(rpc::http_status(bad->status)), body);
  }
  // What the server accepted, the client's encoder must produce again.
  check(request.key.size() <= rpc::max_key);
  rpc::Request again;
  check(!rpc::parse_json_request(method, rpc::json_request_body(request), again));
  check(again.method == request.method && again.key == request.key && again.value == request.value);
  const auto response = store.call(request);
  const auto body = rpc::json_response_body(response);
  // And the client must read the answer back to the same outcome.
  rpc::Response read_back;
  check(!rpc::parse_json_response(body, read_back) && rpc::same_outcome(read_back, response));
  return make_response(req, static_cast<http::status>(rpc::http_status(response.status)), body);
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
    Response res = req.target().rfind("/rpc/", 0) == 0 ? route_rpc_lab(req, store) : route_http_lab(req);
    // The answer goes out through Beast's serializer, as on the socket.
    std::ostringstream wire;
    wire << res;
    check(!wire.str().empty());
    if (!res.keep_alive()) break;  // Connection: close (or HTTP/1.0 without keep-alive)
  }
  return 0;
}
