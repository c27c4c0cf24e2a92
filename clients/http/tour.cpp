// --tour: every route on one keep-alive connection, each status code with the
// headers that matter and one line on why; then one malformed request (400).
#include "http.hpp"

#include "program/client.hpp"
#include "program/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <map>
#include <set>
#include <sstream>

namespace netlab::http_lab {

namespace {

using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The tour's requests, by name: the checks look their statuses up by these.
enum class Ask {
  root, old, missing, post_root, private_anonymous, private_wrong_password, private_reader,
  admin_anonymous, admin_reader, admin_admin, headers
};

struct Step {
  Ask ask;
  http::verb method;
  std::string target;
  std::optional<Credentials> credentials;
  std::string who;  // how the credentials are described
  unsigned expected;
  std::string why;
};

std::string headers_that_matter(const Response& res) {
  std::string out;
  for (auto field : {http::field::location, http::field::www_authenticate, http::field::allow,
                     http::field::content_type, http::field::content_length, http::field::transfer_encoding,
                     http::field::connection})
    if (auto it = res.find(field); it != res.end())
      out += "    " + std::string(it->name_string()) + ": " + std::string(it->value()) + "\n";
  return out;
}

}  // namespace

awaitable<void> run_tour(const CommonOptions& options, const Config& config, std::string& printed, Observed& observed,
                         Result& result) {
  const Credentials wrong{config.reader.user, config.reader.password + "-wrong"};
  const std::vector<Step> steps{
      {Ask::root, http::verb::get, "/", {}, "", 200, "200 = here it is"},
      {Ask::old, http::verb::get, "/old", {}, "", 301, "301 = moved for good; the client follows Location"},
      {Ask::missing, http::verb::get, "/missing", {}, "", 404, "404 = no such resource"},
      {Ask::post_root, http::verb::post, "/", {}, "", 405, "405 = the resource exists, not for this method; Allow lists the ones that work"},
      {Ask::private_anonymous, http::verb::get, "/private", {}, "no credentials", 401, "401 = \"who are you?\": WWW-Authenticate says how to log in"},
      {Ask::private_wrong_password, http::verb::get, "/private", wrong, wrong.user + " with a wrong password", 401, "401 again: wrong credentials are no credentials"},
      {Ask::private_reader, http::verb::get, "/private", config.reader, config.reader.user, 200, "200: known user"},
      {Ask::admin_anonymous, http::verb::get, "/admin", {}, "no credentials", 401, "401 = \"who are you?\""},
      {Ask::admin_reader, http::verb::get, "/admin", config.reader, config.reader.user, 403, "403 = \"I know you, and no\": logging in again cannot help"},
      {Ask::admin_admin, http::verb::get, "/admin", config.admin, config.admin.user, 200, "200: the admin may"},
      {Ask::headers, http::verb::get, "/headers", {}, "", 200, "200, the server echoes the request headers it received"},
  };
  auto stream = co_await open_connection(options);
  spdlog::info("UP   {} (tour)", describe_connection(stream.socket()));
  beast::flat_buffer buffer;
  std::vector<TourRow> tour;
  std::ostringstream out;
  std::set<std::string> connection_ids;
  std::size_t matched = 0;
  std::map<Ask, unsigned> got;  // the status each request was answered with
  for (const auto& step : steps) {
    auto req = make_request(step.method, step.target, options, step.credentials, true);
    const auto res = co_await exchange(stream, buffer, req);
    const unsigned status = res.result_int();
    matched += status == step.expected;
    got[step.ask] = status;
    if (auto id = res.find("X-Netlab-Connection"); id != res.end()) connection_ids.insert(std::string(id->value()));
    out << req.method_string() << " " << step.target << " HTTP/1.1" << (step.who.empty() ? "" : "   (" + step.who + ")")
        << "\n  " << status_line(res) << (status == step.expected ? "" : "   <- expected " + std::to_string(step.expected))
        << "\n" << headers_that_matter(res) << "    why: " << step.why << "\n";
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
  if (auto [ec, n] = co_await asio::async_write(bad, asio::buffer(malformed), use_tuple); ec) throw failure("write", ec);
  http::response_parser<http::string_body> parser;
  if (auto [ec, n] = co_await http::async_read(bad, buffer, parser, use_tuple); ec) throw failure("read 400", ec);
  const auto res400 = parser.release();
  co_await drain_until_eof(bad);
  out << "GET /\\r\\nHost localhost   (malformed: no version, no colon)\n  " << status_line(res400) << "\n"
      << headers_that_matter(res400) << "    why: 400 = the request does not parse; the server closes the connection\n";
  tour.push_back({.request = "malformed", .status = res400.result_int(), .expected = 400});
  matched += res400.result_int() == 400;
  printed = out.str();

  const std::size_t total = steps.size() + 1;
  observed.tour = std::move(tour);
  observed.tour_connections = connection_ids.size();
  result.set_observed(observed);
  result.add_check({.id = "status-codes", .claim = "asked next (http code names only 401 and 403): each route answers with the code it was built to give",
                    .expected = "200 301 404 405 401 401 200 401 403 200 200, and 400 for a malformed request",
                    .observed = std::to_string(matched) + " of " + std::to_string(total) + " answered as expected",
                    .verdict = matched == total ? Verdict::confirmed : Verdict::refuted, .evidence = "status lines read back by Beast"});
  const bool unauthenticated = got[Ask::private_anonymous] == 401 &&
                               got[Ask::private_wrong_password] == 401 &&
                               got[Ask::admin_anonymous] == 401 && got[Ask::private_reader] == 200;
  result.add_check({.id = "401-unauthenticated", .claim = "401 means unauthenticated: no or wrong credentials",
                    .expected = "401 with no credentials and with a wrong password; 200 once the same user logs in",
                    .observed = "no credentials " + std::to_string(got[Ask::private_anonymous]) + ", wrong password " +
                        std::to_string(got[Ask::private_wrong_password]) + ", " +
                        config.reader.user + " " + std::to_string(got[Ask::private_reader]),
                    .verdict = unauthenticated ? Verdict::confirmed : Verdict::refuted, .evidence = "GET /private three ways"});
  const unsigned as_reader = got[Ask::admin_reader];
  const unsigned as_admin = got[Ask::admin_admin];
  const bool forbidden = as_reader == 403 && as_admin == 200 && got[Ask::private_reader] == 200;
  result.add_check({.id = "403-forbidden", .claim = "403 means authenticated but forbidden",
                    .expected = "/admin: 403 for " + config.reader.user + " (whose credentials work on /private), 200 for " +
                        config.admin.user,
                    .observed = "/admin as " + config.reader.user + " " + std::to_string(as_reader) + ", as " + config.admin.user +
                        " " + std::to_string(as_admin),
                    .verdict = forbidden ? Verdict::confirmed : Verdict::refuted, .evidence = "GET /admin with each user's credentials"});
}

}  // namespace netlab::http_lab
