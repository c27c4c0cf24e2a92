#pragma once
// netlab-http-server --auth-flow-checks: each connection's requests in order,
// and what the clients did with 401, 403 and 301, graded from them (RFC 9110
// §11.6.1, §15.5.2, §15.5.4).
#include "program/result.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace netlab::httpd {

// One request as the server saw it, for --auth-flow-checks.
struct SeenRequest {
  std::string path;
  std::string user;  // the Basic credentials' user name, "" for none
  unsigned status = 0;
  bool challenge = false;  // the answer carried WWW-Authenticate
  std::string location;    // the answer's Location
};
struct SeenConnection {
  std::string agent;  // User-Agent
  std::vector<SeenRequest> requests;
};
constexpr std::size_t max_seen_connections = 256, max_seen_requests = 32;

// One connection's requests as one line: "agent: /private no credentials->401+WWW-Authenticate; ...".
std::string describe(const SeenConnection& c);

// The checks 401-unauthenticated, 403-forbidden and status-codes, from what the server saw.
void add_client_checks(const std::vector<SeenConnection>& seen, Result& result);

}  // namespace netlab::httpd
