// netlab-http-client --curl-observed curl-cache.tsv: caching, ranges and gzip
// as curl met them (scripts/labs/http.sh, step "caching"), graded. Each line
// is one request curl made: condition, the status code, curl's
// %{size_download} (body bytes on the wire, before decoding) and
// %{size_header}, the Content-Range and Content-Encoding it got, and the
// SHA-256 of the body curl wrote (decoded). The verdicts come from those
// figures only: had the conditional GET brought the body again, had -r 0-99
// come back whole, or had --compressed not saved a byte, they would say so.
#include "http/http.hpp"

#include <map>
#include <stdexcept>

namespace netlab::http_lab {

namespace {

constexpr std::size_t cache_fields = 7;

struct CacheRow {
  unsigned code = 0;       // 0: curl got no answer
  std::size_t body = 0;    // %{size_download}
  std::size_t header = 0;  // %{size_header}
  std::string content_range, content_encoding, sha256;
  std::size_t wire() const { return body + header; }
};
using CacheRows = std::map<std::string, CacheRow>;

// The rows, or nullopt when the file's first line is not a caching row.
std::optional<CacheRows> read_cache_rows(const std::string& path) {
  const auto lines = read_tsv(path);
  if (lines.empty() || lines.front().size() != cache_fields) return std::nullopt;
  CacheRows rows;
  for (const auto& fields : lines) {
    if (fields.size() != cache_fields)
      throw std::runtime_error("--curl-observed: not " + std::to_string(cache_fields) +
                               " tab-separated fields in the line of " + fields[0]);
    rows[fields[0]] = {.code = static_cast<unsigned>(number(fields[1], "code")),
                       .body = number(fields[2], "size_download"),
                       .header = number(fields[3], "size_header"),
                       .content_range = fields[4],
                       .content_encoding = fields[5],
                       .sha256 = fields[6]};
  }
  return rows;
}

// An answered row, or nullptr (not asked, or curl got no answer).
const CacheRow* answered(const CacheRows& rows, const std::string& condition) {
  const auto it = rows.find(condition);
  return it == rows.end() || it->second.code == 0 ? nullptr : &it->second;
}

// "304, 0 body + 262 header bytes"
std::string seen(const CacheRows& rows, const std::string& condition) {
  const CacheRow* row = answered(rows, condition);
  if (!row) return "no answer";
  return std::to_string(row->code) + ", " + std::to_string(row->body) + " body + " + std::to_string(row->header) +
         " header bytes" + (row->content_range.empty() ? "" : ", Content-Range: " + row->content_range) +
         (row->content_encoding.empty() ? "" : ", Content-Encoding: " + row->content_encoding);
}

std::string percent(std::size_t part, std::size_t whole) {
  return whole == 0 ? "-" : std::to_string((part * 1000 / whole + 5) / 10) + " %";
}

void grade_etag(const CacheRows& rows, Result& result) {
  const CacheRow *full = answered(rows, "etag"), *inm = answered(rows, "etag-if-none-match"),
                 *ims = answered(rows, "etag-if-modified-since");
  const auto empty_304 = [](const CacheRow* row) { return row && row->code == 304 && row->body == 0; };
  const auto resent = [](const CacheRow* row) { return row && (row->code == 200 || row->body > 0); };
  std::string observed = "GET /etag: " + seen(rows, "etag") +
                         "; with If-None-Match: " + seen(rows, "etag-if-none-match") +
                         "; with If-Modified-Since: " + seen(rows, "etag-if-modified-since");
  if (full && inm) {
    const auto saved = static_cast<long long>(full->wire()) - static_cast<long long>(inm->wire());
    observed += "; the conditional GET moved " + std::to_string(saved) + " bytes fewer (" +
                (saved > 0 ? percent(static_cast<std::size_t>(saved), full->wire()) : "-") + " of " +
                std::to_string(full->wire()) + ")";
  }
  result.add_check(
      {.id = "etag-304-saves-bytes",
       .claim = "a conditional GET with the validator the client holds gets 304 Not Modified without the body",
       .expected = "curl -H 'If-None-Match: <the ETag it got>' and -H 'If-Modified-Since: <the Last-Modified>': "
                   "304 with 0 body bytes, after a 200 with the body (RFC 9110 §13.1.2, §13.1.3, §15.4.5)",
       .observed = observed,
       .verdict = verdict_of(full && inm,
                             full && full->code == 200 && full->body > 0 && empty_304(inm) && (!ims || empty_304(ims)),
                             resent(inm) || resent(ims)),
       .evidence = "curl's %{http_code}, %{size_download} and %{size_header} for each request (curl-cache.tsv); "
                   "the bytes saved are the body and the header difference"});
}

void grade_range(const CacheRows& rows, Result& result) {
  const CacheRow *full = answered(rows, "range-full"), *slice = answered(rows, "range-0-99"),
                 *past = answered(rows, "range-past-end");
  const std::string length = full ? std::to_string(full->body) : "?";
  const bool holds = full && full->code == 200 && slice && slice->code == 206 && slice->body == 100 &&
                     slice->content_range == "bytes 0-99/" + length && past && past->code == 416 &&
                     past->content_range == "bytes */" + length;
  // The range ignored (the whole body), a 206 of another size, or a 2xx for bytes that do not exist.
  const bool opposite = (slice && (slice->code == 200 || (slice->code == 206 && slice->body != 100))) ||
                        (past && past->code >= 200 && past->code < 300);
  result.add_check({.id = "range-206",
                    .claim = "a Range request gets 206 Partial Content with just those bytes; a range past the end "
                             "gets 416",
                    .expected = "curl -r 0-99: 206, 100 bytes, Content-Range: bytes 0-99/<length>; -r <length>-: "
                                "416 with Content-Range: bytes */<length> (RFC 9110 §14.1.2, §14.4, §15.3.7, "
                                "§15.5.17)",
                    .observed = "GET /range: " + seen(rows, "range-full") + "; -r 0-99: " + seen(rows, "range-0-99") +
                                "; -r " + length + "-: " + seen(rows, "range-past-end"),
                    .verdict = verdict_of(full && slice && past, holds, opposite),
                    .evidence = "curl's %{http_code}, %{size_download} and %header{content-range} (curl-cache.tsv); "
                                "<length> is what the plain GET downloaded"});
}

void grade_gzip(const CacheRows& rows, Result& result) {
  const CacheRow *plain = answered(rows, "gzip-plain"), *compressed = answered(rows, "gzip-compressed");
  const bool both = plain && compressed && plain->code == 200 && compressed->code == 200;
  const bool same_body = both && !plain->sha256.empty() && plain->sha256 == compressed->sha256;
  std::string observed = "curl: " + seen(rows, "gzip-plain") + "; curl --compressed: " + seen(rows, "gzip-compressed");
  if (both)
    observed += "; on the wire " + std::to_string(plain->wire()) + " against " + std::to_string(compressed->wire()) +
                " bytes (" + percent(compressed->wire(), plain->wire()) + "); SHA-256 of the decoded bodies " +
                (same_body ? "equal (" + plain->sha256.substr(0, 16) + "…)" : "different");
  result.add_check(
      {.id = "gzip-smaller-on-wire",
       .claim = "with Accept-Encoding: gzip the server sends the body compressed: fewer bytes on the wire, the "
                "same content after decoding",
       .expected = "curl --compressed: Content-Encoding: gzip, size_download + size_header below plain curl's, and "
                   "the body curl decoded has the plain body's SHA-256 (RFC 9110 §8.4, §12.5.3)",
       .observed = observed,
       .verdict = verdict_of(plain && compressed,
                             same_body && compressed->content_encoding == "gzip" && compressed->wire() < plain->wire(),
                             both && (!same_body || compressed->wire() >= plain->wire())),
       .evidence = "curl's %{size_download} (the encoded bytes it received), %{size_header}, "
                   "%header{content-encoding} and sha256sum of the file curl wrote (curl-cache.tsv)"});
}

}  // namespace

bool grade_cache(const std::string& path, Observed& observed, Result& result) {
  const auto rows = read_cache_rows(path);
  if (!rows) return false;
  std::map<std::string, std::string> curl;
  for (const auto& [condition, row] : *rows) curl[condition] = seen(*rows, condition);
  observed.curl = curl;
  result.set_observed(observed);
  grade_etag(*rows, result);
  grade_range(*rows, result);
  grade_gzip(*rows, result);
  return true;
}

}  // namespace netlab::http_lab
