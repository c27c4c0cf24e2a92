// --tour: every route on one keep-alive connection, each status code with the
// headers that matter and one line on why; then one malformed request (400).
// --auth-flow: the protected routes asked as a browser asks them.
#include "http.hpp"

#include "io/coro.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <set>
#include <sstream>

namespace netlab::http_lab {

namespace {

using asio::awaitable;

struct Step {
  http::verb method;
  std::string target;
  std::optional<Credentials> credentials;
  std::string who;  // how the credentials are described
  unsigned expected;
  std::string why;
};

std::string headers_that_matter(const Response& res) {
  std::string out;
  for (auto field :
       {http::field::location, http::field::www_authenticate, http::field::allow, http::field::content_type,
        http::field::content_length, http::field::transfer_encoding, http::field::connection})
    if (auto it = res.find(field); it != res.end())
      out += "    " + std::string(it->name_string()) + ": " + std::string(it->value()) + "\n";
  return out;
}

}  // namespace

awaitable<void> run_tour(const CommonOptions& options, const Config& config, std::string& printed, Observed& observed) {
  const Credentials wrong{config.reader.user, config.reader.password + "-wrong"};
  const std::vector<Step> steps{
      {http::verb::get, "/", {}, "", 200, "200 = here it is"},
      {http::verb::get, "/old", {}, "", 301, "301 = moved for good; the client follows Location"},
      {http::verb::get, "/missing", {}, "", 404, "404 = no such resource"},
      {http::verb::post,
       "/",
       {},
       "",
       405,
       "405 = the resource exists, not for this method; Allow lists the ones that work"},
      {http::verb::get,
       "/private",
       {},
       "no credentials",
       401,
       "401 = \"who are you?\": WWW-Authenticate says how to log in"},
      {http::verb::get, "/private", wrong, wrong.user + " with a wrong password", 401,
       "401 again: wrong credentials are no credentials"},
      {http::verb::get, "/private", config.reader, config.reader.user, 200, "200: known user"},
      {http::verb::get, "/admin", {}, "no credentials", 401, "401 = \"who are you?\""},
      {http::verb::get, "/admin", config.reader, config.reader.user, 403,
       "403 = \"I know you, and no\": the same credentials get the same answer; other ones may not (RFC 9110 §15.5.4)"},
      {http::verb::get, "/admin", config.admin, config.admin.user, 200, "200: the admin may"},
      {http::verb::get, "/headers", {}, "", 200, "200, the server echoes the request headers it received"},
  };
  auto stream = co_await open_connection(options);
  spdlog::info("UP   {} (tour)", describe_connection(stream.socket()));
  beast::flat_buffer buffer;
  std::vector<TourRow> tour;
  std::ostringstream out;
  std::set<std::string> connection_ids;
  for (const auto& step : steps) {
    auto req = make_request(step.method, step.target, options, step.credentials, true);
    const auto res = co_await exchange(stream, buffer, req);
    const unsigned status = res.result_int();
    if (auto id = res.find("X-Netlab-Connection"); id != res.end()) connection_ids.insert(std::string(id->value()));
    out << req.method_string() << " " << step.target << " HTTP/1.1" << (step.who.empty() ? "" : "   (" + step.who + ")")
        << "\n  " << status_line(res)
        << (status == step.expected ? "" : "   <- expected " + std::to_string(step.expected)) << "\n"
        << headers_that_matter(res) << "    why: " << step.why << "\n";
    boost::json::object headers;
    for (const auto& field : res) headers[std::string(field.name_string())] = std::string(field.value());
    tour.push_back({.request = std::string(req.method_string()) + " " + step.target,
                    .credentials = step.who,
                    .status = status,
                    .expected = step.expected,
                    .headers = std::move(headers)});
  }
  spdlog::info("DOWN {} (tour)", describe_connection(stream.socket()));
  stream.socket().shutdown(tcp::socket::shutdown_send);

  // A request line with no version and a header line with no colon: 400, and the server closes.
  auto bad = co_await open_connection(options);
  const std::string malformed = "GET /\r\nHost localhost\r\n\r\n";
  bad.expires_after(io_timeout);
  if (auto [ec, n] = co_await asio::async_write(bad, asio::buffer(malformed), use_tuple); ec)
    throw failure("write", ec);
  http::response_parser<http::string_body> parser;
  if (auto [ec, n] = co_await http::async_read(bad, buffer, parser, use_tuple); ec) throw failure("read 400", ec);
  const auto res400 = parser.release();
  co_await drain_until_eof(bad);
  out << "GET /\\r\\nHost localhost   (malformed: no version, no colon)\n  " << status_line(res400) << "\n"
      << headers_that_matter(res400) << "    why: 400 = the request does not parse; the server closes the connection\n";
  tour.push_back({.request = "malformed", .status = res400.result_int(), .expected = 400});
  printed = out.str();

  observed.tour = std::move(tour);
  observed.tour_connections = connection_ids.size();
  // No verdict here: the codes are the ones this lab's routes were built to give.
  // What a client does with them is graded by the server (--auth-flow-checks).
}

awaitable<void> run_auth_flow(const CommonOptions& options, const Config& config, std::string& printed,
                              Observed& observed) {
  auto stream = co_await open_connection(options);
  beast::flat_buffer buffer;
  std::vector<std::string> asked;
  std::ostringstream out;
  out << "  as a browser asks (credentials only when challenged, a 403 not retried, a 301 followed):\n";
  for (const std::string start : {"/private", "/admin", "/old"}) {
    std::string target = start;
    std::optional<Credentials> credentials;  // none until a 401 asks for them
    for (int hop = 0; hop < 3; ++hop) {      // at most: ask, answer the challenge / follow, done
      auto req = make_request(http::verb::get, target, options, credentials, true);
      const auto res = co_await exchange(stream, buffer, req);
      const std::string line = "GET " + target + (credentials ? " (" + credentials->user + ")" : "") + " -> " +
                               std::to_string(res.result_int());
      asked.push_back(line);
      out << "    " << line << "\n";
      if (res.result() == http::status::unauthorized && !credentials &&
          res.find(http::field::www_authenticate) != res.end()) {
        credentials = config.reader;  // asked who we are: now we say it
        continue;
      }
      if (res.result() == http::status::moved_permanently && res.find(http::field::location) != res.end()) {
        target = std::string(res[http::field::location]);
        continue;
      }
      break;  // 200, 403 (same credentials would get the same answer), anything else: done
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_send);
  observed.auth_flow = std::move(asked);
  printed += out.str();
}

}  // namespace netlab::http_lab
