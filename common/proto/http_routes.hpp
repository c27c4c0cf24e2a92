#pragma once
// What netlab-http-server and netlab-rpc-server answer to a parsed HTTP
// request: the http lab's pages (status codes, Basic authentication, echoed
// headers) and the rpc lab's calls over HTTP/1.1 + JSON. In common so that the
// HTTP-path fuzzer (tests/fuzz/fuzz_http.cpp) runs the servers' own code.
// Beast's message headers only: the sockets stay in the servers.
#include "proto/http_basics.hpp"
#include "proto/rpc_protocol.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::http_routes {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// A response of netlab-http-server: Server and Date headers, Content-Length from the body.
Response make_response(boost::beast::http::status status, unsigned version, bool keep_alive,
                       std::string_view content_type, std::string body);

// A text/plain response to `req` (its version and keep-alive): `body` and a newline.
Response text(const Request& req, boost::beast::http::status status, std::string body);

// netlab-http-server's routes: / (200), /old (301), /private and /admin (401
// without valid Basic credentials of one of `users`, 403 for a non-admin on
// /admin), /headers (the request's headers as JSON), 405 for other methods,
// 404 for other paths.
Response route(const Request& req, const std::vector<http_basics::User>& users);

// A response of netlab-rpc-server: JSON, Server and Date headers.
Response json_response(unsigned status, bool keep_alive, std::string body);

// What rpc_call counted: calls made, and answers that carry an error status.
struct RpcCounts {
  std::size_t calls = 0;
  std::size_t error_answers = 0;
};

// netlab-rpc-server's HTTP side: POST /rpc/<method> with a JSON body,
// answered from `store`; 404, 405 or the call's error status otherwise.
Response rpc_call(const Request& req, rpc::KeyValueStore& store, RpcCounts& counters);

}  // namespace netlab::http_routes
