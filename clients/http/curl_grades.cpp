// netlab-http-client --curl-observed FILE: the status classes as curl met them
// (scripts/labs/http.sh, step "status classes"), graded. Each line of FILE is
// one request curl made: condition, body bytes it meant to send, the status
// code it got, the bytes it uploaded (%{size_upload}) and the answer's body —
// for /method, what the server saw arrive (method, body length, 100 Continue).
// The verdicts come from those lines only: had curl resent POST after a 303,
// or sent its body before 100 Continue, they would say so.
#include "http/http.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <map>
#include <stdexcept>

namespace netlab::http_lab {

namespace {

struct CurlRow {
  std::size_t sent = 0;  // body bytes curl was given
  unsigned code = 0;
  std::size_t uploaded = 0;
  boost::json::object arrived;  // /method's answer; empty for any other
  std::string body;
};
using CurlRows = std::map<std::string, CurlRow>;

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  for (std::size_t at = 0;;) {
    const auto tab = line.find('\t', at);
    fields.push_back(line.substr(at, tab - at));
    if (tab == std::string::npos) return fields;
    at = tab + 1;
  }
}

}  // namespace

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");  // the caller's option is in the usage line
  std::vector<std::vector<std::string>> lines;
  std::string line;
  while (lines.size() < 256 && std::getline(in, line)) lines.push_back(split_tabs(line));
  return lines;
}

std::size_t number(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const auto value = std::stoull(text, &used);
    if (used == text.size()) return static_cast<std::size_t>(value);
  } catch (const std::exception&) {
  }
  throw std::runtime_error("--curl-observed: " + what + " '" + text + "' is not a number");
}

namespace {

CurlRows read_rows(const std::string& path) {
  CurlRows rows;
  for (const auto& fields : read_tsv(path)) {
    if (fields.size() != 5)
      throw std::runtime_error("--curl-observed: not 5 tab-separated fields in the line of " + fields[0]);
    CurlRow row{.sent = number(fields[1], "sent"),
                .code = static_cast<unsigned>(number(fields[2], "code")),
                .uploaded = number(fields[3], "size_upload"),
                .arrived = {},
                .body = fields[4]};
    boost::system::error_code ec;
    if (auto value = boost::json::parse(row.body, ec); !ec && value.is_object()) row.arrived = value.as_object();
    rows[fields[0]] = std::move(row);
  }
  return rows;
}

const CurlRow* find(const CurlRows& rows, const std::string& condition) {
  const auto it = rows.find(condition);
  return it == rows.end() ? nullptr : &it->second;
}

std::string arrived_method(const CurlRow& row) {
  const auto* method = row.arrived.if_contains("method");
  return method && method->is_string() ? std::string(method->as_string()) : "";
}

std::size_t arrived_bytes(const CurlRow& row, const char* key = "body_bytes") {
  const auto* bytes = row.arrived.if_contains(key);
  return bytes && bytes->is_uint64()  ? static_cast<std::size_t>(bytes->as_uint64())
         : bytes && bytes->is_int64() ? static_cast<std::size_t>(bytes->as_int64())
                                      : 0;
}

// "303 -> GET with 0 bytes" from a redirect's row.
std::string after(const CurlRows& rows, const std::string& condition) {
  const CurlRow* row = find(rows, condition);
  if (!row) return condition + ": not asked";
  if (row->arrived.empty()) return condition + ": answer " + std::to_string(row->code);
  return condition + " -> " + arrived_method(*row) + " with " + std::to_string(arrived_bytes(*row)) + " of " +
         std::to_string(row->sent) + " bytes";
}

std::string code_of(const CurlRows& rows, const std::string& condition) {
  const CurlRow* row = find(rows, condition);
  return condition + " " + (row ? std::to_string(row->code) : "not asked");
}

}  // namespace

Verdict verdict_of(bool asked, bool holds, bool opposite) {
  return !asked ? Verdict::skipped : holds ? Verdict::confirmed : opposite ? Verdict::refuted : Verdict::nuanced;
}

namespace {

// What the lab's own server decides (its Host rule, its parser): a fact when
// it did what it was built to do, printed and not graded; refuted when not.
Verdict fact_of(bool asked, bool holds) { return !asked ? Verdict::skipped : holds ? Verdict::fact : Verdict::refuted; }

void grade_redirects(const CurlRows& rows, Result& result) {
  const CurlRow* r303 = find(rows, "redirect-303");
  result.add_check(
      {.id = "redirect-303-becomes-get",
       .claim = "after 303 See Other the client fetches the Location with GET, without the body",
       .expected = "curl -L -d: /method receives GET with 0 body bytes after /redirect/303 (RFC 9110 §15.4.4)",
       .observed = after(rows, "redirect-303") + "; also " + after(rows, "redirect-301") + ", " +
                   after(rows, "redirect-302") + "; with -X POST: " + after(rows, "redirect-303-X-POST"),
       .verdict = verdict_of(r303 && !r303->arrived.empty(),
                             r303 && arrived_method(*r303) == "GET" && arrived_bytes(*r303) == 0,
                             r303 && (arrived_method(*r303) == "POST" || arrived_bytes(*r303) > 0)),
       .evidence = "what /method answered curl: the method and body length that arrived after the redirect. 301 and "
                   "302 turn POST into GET in curl too, for history's sake (RFC 9110 §15.4.2, §15.4.3 allow it); "
                   "-X forces its method on every request, the body is still dropped"});
  bool kept = true, asked = true, turned = false;
  for (const auto* condition : {"redirect-307", "redirect-308"}) {
    const CurlRow* row = find(rows, condition);
    asked = asked && row && !row->arrived.empty();
    kept = kept && row && arrived_method(*row) == "POST" && arrived_bytes(*row) == row->sent && row->sent > 0;
    turned = turned || (row && arrived_method(*row) == "GET");
  }
  result.add_check({.id = "redirect-307-keeps-post",
                    .claim = "307 and 308 redirect without changing the method: the POST and its body are sent again",
                    .expected = "curl -L -d: /method receives POST with the whole body after /redirect/307 and "
                                "/redirect/308 (RFC 9110 §15.4.8, §15.4.9)",
                    .observed = after(rows, "redirect-307") + "; " + after(rows, "redirect-308"),
                    .verdict = verdict_of(asked, kept, turned),
                    .evidence = "what /method answered curl after each redirect"});
}

void grade_header_rules(const CurlRows& rows, Result& result) {
  const CurlRow *bare = find(rows, "no-host"), *with = find(rows, "host"), *old = find(rows, "no-host-http1.0");
  result.add_check(
      {.id = "host-required-400",
       .claim = "an HTTP/1.1 request must name its Host; without it the server answers 400",
       .expected = "curl -H 'Host:' (no Host line) gets 400; the same request with Host 200 (RFC 9112 "
                   "§3.2); HTTP/1.0 without Host is still served",
       .observed = code_of(rows, "no-host") + ", " + code_of(rows, "host") + ", " + code_of(rows, "no-host-http1.0"),
       .verdict = fact_of(bare && with, bare && with && bare->code == 400 && with->code == 200),
       .evidence = "the status codes curl got from this lab's server, whose own rule (host_rule in "
                   "servers/http/status_routes.cpp) answers 400: what our server decides, a fact" +
                   std::string(old ? "" : " (HTTP/1.0 not asked)")});
  const CurlRow *both = find(rows, "cl-te"), *chunked = find(rows, "chunked");
  const bool chunked_whole = chunked && chunked->code == 200 && arrived_bytes(*chunked) == chunked->sent;
  result.add_check(
      {.id = "cl-te-conflict-400",
       .claim = "a request with both Content-Length and Transfer-Encoding is refused (request smuggling)",
       .expected = "curl with both headers gets 400 and the connection closed; chunked alone is accepted whole (RFC "
                   "9112 §6.1, §6.3)",
       .observed = code_of(rows, "cl-te") + "; " + after(rows, "chunked"),
       .verdict = fact_of(both && chunked, both && both->code == 400 && chunked_whole),
       .evidence = "the status codes curl got, and the body length /method received in chunks; the pair is "
                   "refused by the HTTP parser this lab's server uses (Boost.Beast): what our server decides, a "
                   "fact"});
  const CurlRow *small = find(rows, "expect"), *large = find(rows, "expect-large");
  // The large body (curl adds Expect by itself), when asked: refused before
  // most of it was sent, which only waiting for the answer makes possible.
  const bool large_held = !large || (large->code == 413 && large->uploaded < large->sent);
  const bool waited = small && small->arrived.contains("body_bytes_before_continue") &&
                      arrived_bytes(*small, "body_bytes_before_continue") == 0 &&
                      arrived_bytes(*small) == small->sent && small->sent > 0 && large_held;
  std::string observed = small && small->arrived.contains("body_bytes_before_continue")
                             ? "Expect: 100-continue with " + std::to_string(small->sent) +
                                   " bytes: " + std::to_string(arrived_bytes(*small, "body_bytes_before_continue")) +
                                   " body bytes had arrived before the server's 100 Continue, " +
                                   std::to_string(arrived_bytes(*small)) + " after"
                             : "the request with Expect: 100-continue was not asked, or not answered by /method";
  if (large)
    observed += "; " + std::to_string(large->sent) + " bytes without -H Expect: answer " + std::to_string(large->code) +
                ", " + std::to_string(large->uploaded) + " bytes uploaded";
  result.add_check({.id = "expect-100-continue",
                    .claim = "with Expect: 100-continue the client waits for 100 Continue before it sends the body",
                    .expected = "no body byte at the server before it sends 100 Continue; a large body refused (413) "
                                "before it is sent (RFC 9110 §10.1.1, §15.2.1)",
                    .observed = observed,
                    .verdict = verdict_of(small && small->arrived.contains("body_bytes_before_continue"), waited,
                                          (small && arrived_bytes(*small, "body_bytes_before_continue") > 0) ||
                                              (large && large->uploaded == large->sent && large->sent > 0)),
                    .evidence = "/method's answer: body bytes in the server's buffer and socket after it gave them " +
                                std::to_string(small ? arrived_bytes(*small, "continue_wait_ms") : 0) +
                                " ms to come; curl's %{size_upload} for the large body"});
}

}  // namespace

void grade_curl(const std::string& path, Observed& observed, Result& result) {
  if (const auto lines = read_tsv(path); !lines.empty() && !lines.front().empty() && lines.front()[0] == "#gateway")
    return grade_gateway(path, observed, result);
  if (grade_cache(path, observed, result)) return;
  const CurlRows rows = read_rows(path);
  std::map<std::string, std::string> seen;
  for (const auto& [condition, row] : rows)
    seen[condition] = std::to_string(row.code) + (row.arrived.empty() ? "" : " " + boost::json::serialize(row.arrived));
  observed.curl = seen;
  result.set_observed(observed);
  grade_redirects(rows, result);
  grade_header_rules(rows, result);
}

}  // namespace netlab::http_lab
