// /etag and /range: validators, conditional requests, ranges, gzip (cache_routes.hpp).
#include "http/cache_routes.hpp"
#include "http/gzip.hpp"
#include "proto/http_basics.hpp"

#include <zlib.h>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/range/iterator_range.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace netlab::httpd {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// /etag's Last-Modified: when this server started (its resource never changes after).
const std::time_t server_started = std::time(nullptr);

// A few KB of text: enough that a 304 visibly saves bytes, and that gzip has something to squeeze.
const std::string& etag_body() {
  static const std::string body = [] {
    std::string text;
    for (int line = 1; line <= 64; ++line)
      text += (line < 10 ? "0" : "") + std::to_string(line) +
              " This resource has a strong ETag: ask again with If-None-Match and get 304, no body.\n";
    return text;
  }();
  return body;
}

// 10000 bytes, 1000 numbered lines of 10 bytes ("000000042\n" is bytes 420-429): any slice says where it came from.
const std::string& range_body() {
  static const std::string body = [] {
    std::string text;
    for (unsigned line = 0; line < 1000; ++line) {
      const std::string number = std::to_string(line);
      text += std::string(9 - number.size(), '0') + number + "\n";
    }
    return text;
  }();
  return body;
}

// Each representation has its own strong ETag: the gzip one is other bytes
// (RFC 9110 §8.8.3), so it must not validate a cached plain copy, nor the reverse.
std::string etag_of(const std::string& body, bool gzipped) {
  const auto crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  char hex[9];
  const auto [end, ec] = std::to_chars(hex, hex + sizeof hex, crc, 16);
  return "\"etag-" + std::string(hex, end) + (gzipped ? "-gzip\"" : "\"");
}

// If-None-Match against the current ETag: "*" or any listed entity-tag equal
// under the weak comparison (W/ ignored on both sides, RFC 9110 §8.8.3.2,
// §13.1.2). A member that does not parse ends the list: what came before still counts.
bool none_match_fails(const Request& req, std::string_view etag) {
  std::size_t members = 0;
  for (const auto& field : boost::make_iterator_range(req.equal_range(http::field::if_none_match))) {
    std::string_view list = field.value();
    while (members++ < 64) {
      list = trim_ows(list);
      while (!list.empty() && (list.front() == ',' || list.front() == ' ')) list.remove_prefix(1);
      if (list.empty()) break;
      if (list.front() == '*') return true;
      if (list.rfind("W/", 0) == 0) list.remove_prefix(2);
      const auto close = list.size() > 1 && list.front() == '"' ? list.find('"', 1) : std::string_view::npos;
      if (close == std::string_view::npos) break;
      if (list.substr(0, close + 1) == etag) return true;
      list.remove_prefix(close + 1);
    }
  }
  return false;
}

// If-Modified-Since, only without If-None-Match and only as one valid
// IMF-fixdate (RFC 9110 §13.1.3, §5.6.7): the resource has not changed since then.
bool not_modified_since(const Request& req, std::time_t last_modified) {
  if (req.count(http::field::if_none_match) > 0 || req.count(http::field::if_modified_since) != 1) return false;
  const std::string text(req[http::field::if_modified_since]);
  std::tm when{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &when);
  if (!end || *end != '\0') return false;  // not a valid HTTP-date: ignored
  return last_modified <= timegm(&when);
}

// Response headers of both routes: the answer varies with Accept-Encoding
// whether or not this one is encoded (RFC 9110 §12.5.5), so a cache keys on it.
Response answer_with(const Request& req, http::status status, std::string body, bool gzipped) {
  auto res = http_routes::make_response(status, req.version(), req.keep_alive(), "text/plain; charset=utf-8",
                                        gzipped ? gzip(body) : std::move(body));
  if (gzipped) res.set(http::field::content_encoding, "gzip");
  res.set(http::field::vary, "Accept-Encoding");
  return res;
}

bool wants_gzip(const Request& req) {
  std::string accepted;
  for (const auto& field : boost::make_iterator_range(req.equal_range(http::field::accept_encoding)))
    accepted += std::string(field.value()) + ",";
  return accepts_gzip(accepted);
}

Response etag_route(const Request& req) {
  const bool gzipped = wants_gzip(req);
  const std::string etag = etag_of(etag_body(), gzipped);
  const bool not_modified = none_match_fails(req, etag) || not_modified_since(req, server_started);
  auto res = answer_with(req, not_modified ? http::status::not_modified : http::status::ok,
                         not_modified ? "" : etag_body(), gzipped && !not_modified);
  res.set(http::field::etag, etag);
  res.set(http::field::last_modified, http_basics::http_date(server_started));
  res.set(http::field::cache_control, "max-age=60");
  if (not_modified) {
    // 304: the validators and caching headers of the 200, no content and
    // nothing that describes content (RFC 9110 §15.4.5): a Content-Length
    // of 0 would claim the resource is empty (§8.6).
    res.erase(http::field::content_length);
    res.erase(http::field::content_type);
  }
  return res;
}

// What one Range asks of a body of `length` bytes (RFC 9110 §14.1.1, §14.1.2).
struct RangeAsk {
  enum Kind { whole, slice, unsatisfiable } kind = whole;
  std::size_t first = 0, last = 0;
};

// Digits only; a number past 64 bits saturates (it is past any end anyway).
std::optional<std::uint64_t> byte_position(std::string_view digits) {
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc::result_out_of_range ? std::numeric_limits<std::uint64_t>::max() : value;
}

// One range-spec of a "bytes" Range; anything else — another unit, a list of
// ranges, a malformed spec — is ignored and the whole body served (a server
// MAY ignore Range, §14.2): this server serves single ranges only.
RangeAsk parse_range(std::string_view value, std::size_t length) {
  if (value.size() < 6 || !beast::iequals(value.substr(0, 6), "bytes=")) return {};
  const auto spec = trim_ows(value.substr(6));
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return {};
  const auto first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  if (first_text.empty()) {
    // -n: the last n bytes; -0 asks for nothing, so it cannot be satisfied.
    const auto suffix = byte_position(last_text);
    if (!suffix) return {};
    if (*suffix == 0 || length == 0) return {.kind = RangeAsk::unsatisfiable};
    return {.kind = RangeAsk::slice,
            .first = length - static_cast<std::size_t>(std::min<std::uint64_t>(*suffix, length)),
            .last = length - 1};
  }
  const auto first = byte_position(first_text);
  const auto last = last_text.empty() ? std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max())
                                      : byte_position(last_text);
  if (!first || !last || *last < *first) return {};  // a-b with b < a is invalid: ignored
  if (*first >= length) return {.kind = RangeAsk::unsatisfiable};
  return {.kind = RangeAsk::slice,
          .first = static_cast<std::size_t>(*first),
          .last = static_cast<std::size_t>(std::min<std::uint64_t>(*last, length - 1))};
}

Response range_route(const Request& req) {
  const std::string& body = range_body();
  // Range means something for GET only (§14.2); one Range field, or none is read.
  const auto ask = req.method() == http::verb::get && req.count(http::field::range) == 1
                       ? parse_range(req[http::field::range], body.size())
                       : RangeAsk{};
  const std::string length = std::to_string(body.size());
  if (ask.kind == RangeAsk::unsatisfiable) {
    auto res = answer_with(req, http::status::range_not_satisfiable,
                           "416 Range Not Satisfiable: this body has " + length + " bytes\n", false);
    res.set(http::field::content_range, "bytes */" + length);
    return res;
  }
  if (ask.kind == RangeAsk::slice) {
    // Ranges count bytes of the identity body: a 206 is never gzip-encoded here.
    auto res = answer_with(req, http::status::partial_content, body.substr(ask.first, ask.last - ask.first + 1), false);
    res.set(http::field::content_range,
            "bytes " + std::to_string(ask.first) + "-" + std::to_string(ask.last) + "/" + length);
    res.set(http::field::accept_ranges, "bytes");
    return res;
  }
  auto res = answer_with(req, http::status::ok, body, wants_gzip(req));
  res.set(http::field::accept_ranges, "bytes");
  return res;
}

}  // namespace

std::optional<Response> cache_route(const Request& req) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  if (path != "/etag" && path != "/range") return std::nullopt;
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = http_routes::make_response(http::status::method_not_allowed, req.version(), req.keep_alive(),
                                          "text/plain; charset=utf-8", "405 Method Not Allowed: GET or HEAD\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  return path == "/etag" ? etag_route(req) : range_route(req);
}

}  // namespace netlab::httpd
