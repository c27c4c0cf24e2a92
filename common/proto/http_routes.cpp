// The http lab's pages and the rpc lab's HTTP calls (see proto/http_routes.hpp).
#include "proto/http_routes.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>

namespace netlab::http_routes {

namespace http = boost::beast::http;
using http_basics::User;

namespace {

constexpr std::string_view server_name = "netlab-http-server/0.1";
constexpr std::string_view home_page =
    "<!doctype html>\n<title>netlab http lab</title>\n"
    "<p>200 OK: this is /. Try /old, /private, /admin, /headers, /missing.</p>\n";

}  // namespace

Response make_response(http::status status, unsigned version, bool keep_alive, std::string_view content_type,
                       std::string body) {
  Response res{status, version};
  res.set(http::field::server, server_name);
  res.set(http::field::date, http_basics::http_date(std::time(nullptr)));
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();  // Content-Length from the body
  return res;
}

Response text(const Request& req, http::status status, std::string body) {
  return make_response(status, req.version(), req.keep_alive(), "text/plain; charset=utf-8", std::move(body) + "\n");
}

namespace {

// Who is asking? nullptr when there is no Authorization header or it does not
// name a known user with the right password: both are "unauthenticated".
const User* authenticate(const Request& req, const std::vector<User>& users, std::string& why) {
  const auto header = req.find(http::field::authorization);
  if (header == req.end()) {
    why = "no credentials";
    return nullptr;
  }
  const auto credentials = http_basics::parse_basic_authorization(header->value());
  if (!credentials) {
    why = "Authorization is not valid Basic credentials";
    return nullptr;
  }
  for (const auto& user : users)
    if (user.name == credentials->user && user.password == credentials->password) return &user;
  why = "unknown user or wrong password";
  return nullptr;
}

Response unauthorized(const Request& req, const std::string& why) {
  // 401 means "who are you?": the challenge tells the client how to answer it.
  auto res = text(req, http::status::unauthorized, "401 Unauthorized: " + why);
  res.set(http::field::www_authenticate, "Basic realm=\"netlab\"");
  return res;
}

Response echo_headers(const Request& req) {
  boost::json::object headers;
  for (const auto& field : req) {
    const std::string name(field.name_string());
    const std::string value(field.value());
    if (auto* seen = headers.if_contains(name))
      seen->as_string().append(", " + value);  // repeated header: one field, comma-joined (RFC 9110 §5.3)
    else
      headers[name] = value;
  }
  const boost::json::object body{{"method", std::string(req.method_string())},
                                 {"target", std::string(req.target())},
                                 {"version", req.version() == 11 ? "HTTP/1.1" : "HTTP/1.0"},
                                 {"headers", std::move(headers)}};
  return make_response(http::status::ok, req.version(), req.keep_alive(), "application/json",
                       boost::json::serialize(body) + "\n");
}

}  // namespace

Response route(const Request& req, const std::vector<User>& users) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  const bool known = path == "/" || path == "/old" || path == "/private" || path == "/admin" || path == "/headers";
  if (!known) return text(req, http::status::not_found, "404 Not Found: no such path " + std::string(path));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text(req, http::status::method_not_allowed,
                    "405 Method Not Allowed: " + std::string(req.method_string()) + " " + std::string(path));
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/")
    return make_response(http::status::ok, req.version(), req.keep_alive(), "text/html; charset=utf-8",
                         std::string(home_page));
  if (path == "/old") {
    auto res = text(req, http::status::moved_permanently, "301 Moved Permanently: now at /");
    res.set(http::field::location, "/");
    return res;
  }
  if (path == "/headers") return echo_headers(req);
  std::string why;
  const User* user = authenticate(req, users, why);
  if (!user) return unauthorized(req, why);
  if (path == "/admin" && user->role != "admin")
    // 403 means "I know who you are, and no": asking again with the same credentials cannot help.
    return text(req, http::status::forbidden,
                "403 Forbidden: " + user->name + " (role " + user->role + ") may not see /admin");
  return text(req, http::status::ok, "200 OK: hello " + user->name + " (role " + user->role + ")");
}

// ---- netlab-rpc-server: calls over HTTP/1.1 + JSON ---------------------------

Response json_response(unsigned status, bool keep_alive, std::string body) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "netlab-rpc-server/0.1");
  res.set(http::field::date, http_basics::http_date(std::time(nullptr)));
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response rpc_call(const Request& req, rpc::KeyValueStore& store, RpcCounts& counters) {
  const std::string_view target = req.target();
  const auto error_answer = [&](unsigned status, rpc::Status rpc_status, std::string message) {
    ++counters.error_answers;
    return json_response(status, req.keep_alive(), rpc::json_response_body({0, rpc_status, 0, std::move(message)}));
  };
  if (target.rfind("/rpc/", 0) != 0)
    return error_answer(404, rpc::Status::unknown_method, "no such path; calls are POST /rpc/<method>");
  if (req.method() != http::verb::post) {
    auto res = error_answer(405, rpc::Status::bad_request, "calls are POST /rpc/<method>");
    res.set(http::field::allow, "POST");
    return res;
  }
  rpc::Request request;
  if (auto bad = rpc::parse_json_request(target.substr(5), req.body(), request))
    return error_answer(rpc::http_status(bad->status), bad->status, bad->message);
  ++counters.calls;
  const auto response = store.call(request);
  if (response.status != rpc::Status::ok) ++counters.error_answers;
  return json_response(rpc::http_status(response.status), req.keep_alive(), rpc::json_response_body(response));
}

}  // namespace netlab::http_routes
