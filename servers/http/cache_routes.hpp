#pragma once
// netlab-http-server's routes for what an interviewer asks after the status
// codes (docs/labs/http.md, "Caching, Range, gzip"):
//   /etag   a fixed resource with a strong ETag, Last-Modified (the server's
//           start time) and Cache-Control: max-age=60; If-None-Match or
//           If-Modified-Since that still matches → 304 without a body
//           (RFC 9110 §13.1.2, §13.1.3, §15.4.5)
//   /range  10000 bytes of numbered lines honouring one Range: bytes=a-b,
//           a- or -n → 206 with Content-Range; past the end → 416 with
//           Content-Range: bytes */10000 (RFC 9110 §14, §15.3.7, §15.5.17)
// Both 200s are sent gzip-encoded (Vary: Accept-Encoding) to a client whose
// Accept-Encoding takes gzip; 206 and 304 never are.
#include "proto/http_routes.hpp"

#include <optional>

namespace netlab::httpd {

using http_routes::Request;
using http_routes::Response;

// /etag and /range (GET and HEAD; 405 with Allow otherwise); nullopt for any other path.
std::optional<Response> cache_route(const Request& req);

}  // namespace netlab::httpd
