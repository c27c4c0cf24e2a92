// What the clients did with 401, 403 and 301, graded from the requests the server saw (auth_flow.hpp).
#include "http/auth_flow.hpp"

#include <map>

namespace netlab::httpd {

std::string describe(const SeenConnection& c) {
  std::string out = (c.agent.empty() ? "(no User-Agent)" : c.agent) + ":";
  for (const auto& r : c.requests)
    out += " " + r.path + " " + (r.user.empty() ? "no credentials" : r.user) + "->" + std::to_string(r.status) +
           (r.challenge ? "+WWW-Authenticate" : "") + ";";
  if (!out.empty() && out.back() == ';') out.pop_back();
  return out;
}

namespace {

// 401: on each path, the first request that carries credentials follows a 401
// with WWW-Authenticate for that path, and is then not answered 401 again.
// Returns the connections that were challenged (nothing to grade otherwise).
std::size_t challenged_flows(const std::vector<SeenConnection>& seen, std::vector<std::string>& bad) {
  std::size_t flows = 0;
  for (const auto& c : seen) {
    std::map<std::string, bool> challenged;  // path -> a 401 with WWW-Authenticate came
    std::map<std::string, bool> answered;    // path -> credentials were sent after it
    for (const auto& r : c.requests) {
      if (!r.user.empty() && !answered[r.path]) {
        if (!challenged[r.path])
          bad.push_back(describe(c) + " (credentials before any challenge on " + r.path + ")");
        else if (r.status == 401)
          bad.push_back(describe(c) + " (credentials after the challenge refused)");
        answered[r.path] = true;
      }
      if (r.status == 401 && r.challenge && !challenged[r.path]) {
        challenged[r.path] = true;
        ++flows;
      }
    }
    for (const auto& [path, was] : challenged)
      if (was && !answered[path]) bad.push_back(describe(c) + " (challenged on " + path + ", never answered)");
  }
  return flows;
}

// 403: no later request on the same connection for the same path with the same credentials.
std::size_t forbidden_flows(const std::vector<SeenConnection>& seen, std::vector<std::string>& bad) {
  std::size_t flows = 0;
  for (const auto& c : seen)
    for (std::size_t i = 0; i < c.requests.size(); ++i) {
      const auto& r = c.requests[i];
      if (r.status != 403) continue;
      ++flows;
      for (std::size_t j = i + 1; j < c.requests.size(); ++j)
        if (c.requests[j].path == r.path && c.requests[j].user == r.user) {
          bad.push_back(describe(c) + " (403 retried with the same credentials)");
          break;
        }
    }
  return flows;
}

// 301: the next request on the connection asks for its Location.
std::size_t redirect_flows(const std::vector<SeenConnection>& seen, std::vector<std::string>& bad) {
  std::size_t flows = 0;
  for (const auto& c : seen)
    for (std::size_t i = 0; i < c.requests.size(); ++i) {
      if (c.requests[i].status != 301) continue;
      ++flows;
      if (i + 1 == c.requests.size() || c.requests[i + 1].path != c.requests[i].location)
        bad.push_back(describe(c) + " (301 to " + c.requests[i].location + " not followed)");
    }
  return flows;
}

}  // namespace

void add_client_checks(const std::vector<SeenConnection>& seen, Result& result) {
  std::string all;
  for (const auto& c : seen) all += (all.empty() ? "" : " | ") + describe(c);
  const auto check = [&](std::string id, std::string claim, std::string expected, std::size_t flows,
                         const std::vector<std::string>& bad, std::string evidence) {
    result.add_check({.id = std::move(id),
                      .claim = std::move(claim),
                      .expected = std::move(expected),
                      .observed = !bad.empty() ? std::to_string(bad.size()) + " not as expected: " + bad.front()
                                  : flows == 0 ? "no such exchange seen"
                                               : std::to_string(flows) + " seen, all as expected: " + all,
                      .verdict = !bad.empty() ? Verdict::refuted
                                 : flows == 0 ? Verdict::skipped
                                              : Verdict::confirmed,
                      .evidence = std::move(evidence)});
  };
  std::vector<std::string> bad401, bad403, bad301;
  const auto challenged = challenged_flows(seen, bad401);
  const auto forbidden = forbidden_flows(seen, bad403);
  const auto redirected = redirect_flows(seen, bad301);
  check("401-unauthenticated", "401 means unauthenticated: a client sends credentials only when asked",
        "each client first asks without credentials, gets 401 + WWW-Authenticate, then sends credentials that are "
        "accepted (RFC 9110 §11.6.1, §15.5.2)",
        challenged, bad401, "the requests the server saw on each connection, in order (--auth-flow-checks)");
  check("403-forbidden",
        "403 means authenticated but forbidden: the client does not ask again with the same credentials",
        "after a 403 to accepted credentials, no request for the same path with the same credentials (RFC 9110 "
        "§15.5.4)",
        forbidden, bad403, "the requests the server saw on each connection, in order (--auth-flow-checks)");
  check("status-codes", "a client acts on the code: a 301 is followed to its Location",
        "after each 301, the next request on the connection asks for the Location", redirected, bad301,
        "the requests the server saw on each connection, in order (--auth-flow-checks)");
}

}  // namespace netlab::httpd
