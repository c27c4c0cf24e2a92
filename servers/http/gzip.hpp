#pragma once
// Content-Encoding: gzip for netlab-http-server (RFC 9110 §8.4.1.3, §12.5.3):
// whether a request's Accept-Encoding takes gzip, and a body compressed with zlib.
#include <string>
#include <string_view>

namespace netlab::httpd {

// True when Accept-Encoding lists gzip (or x-gzip, or *) with a weight above
// 0: "gzip", "deflate, gzip, br", "gzip;q=0.5"; not "gzip;q=0", not "".
bool accepts_gzip(std::string_view accept_encoding);

// A list member or a field value without the optional whitespace around it (RFC 9110 §5.6.3).
std::string_view trim_ows(std::string_view text);

// `body` as one gzip member (RFC 1952), zlib's default level.
std::string gzip(std::string_view body);

}  // namespace netlab::httpd
