// Content-Encoding: gzip (gzip.hpp).
#include "http/gzip.hpp"

#include <zlib.h>
#include <boost/beast/core/string.hpp>

#include <optional>
#include <stdexcept>

namespace netlab::httpd {

namespace beast = boost::beast;

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

namespace {

// The weight of one list member ("gzip;q=0.5"): false when it is q=0 (RFC
// 9110 §12.4.2: "not acceptable"), true for any other or none.
bool weight_above_zero(std::string_view parameters) {
  for (std::size_t at = 0; at < parameters.size();) {
    const auto semicolon = parameters.find(';', at);
    const auto parameter = trim_ows(parameters.substr(at, semicolon - at));
    if (parameter.size() > 2 && beast::iequals(parameter.substr(0, 2), "q=")) {
      return parameter.substr(2).find_first_not_of("0.") != std::string_view::npos;
    }
    if (semicolon == std::string_view::npos) break;
    at = semicolon + 1;
  }
  return true;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  // A member naming gzip decides; * only when gzip is not named (RFC 9110 §12.5.3).
  std::optional<bool> named, any;
  for (std::size_t at = 0, members = 0; at <= accept_encoding.size() && members < 64; ++members) {
    const auto comma = accept_encoding.find(',', at);
    const auto member =
        accept_encoding.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    const auto semicolon = member.find(';');
    const auto coding = trim_ows(member.substr(0, semicolon));
    const bool weighted = weight_above_zero(semicolon == std::string_view::npos ? "" : member.substr(semicolon + 1));
    if (beast::iequals(coding, "gzip") || beast::iequals(coding, "x-gzip")) named = weighted;
    if (coding == "*") any = weighted;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return named ? *named : any.value_or(false);
}

std::string gzip(std::string_view body) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate data.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out(deflateBound(&stream, static_cast<uLong>(body.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  // deflateBound's room is enough for Z_FINISH in one call; anything else is zlib's failure.
  if (status != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
  return out;
}

}  // namespace netlab::httpd
