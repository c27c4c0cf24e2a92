// netlab-http-client --curl-observed curl-gateway.tsv: the gateway's status
// codes as curl met them (scripts/labs/http.sh, gateway_step): facts about our
// gateway, refuted when curl saw otherwise. The
// file's first line is the setup: "#gateway", then upstream_timeout_ms and
// max_connections with their values. Each further line is one condition the
// script set up and one curl request through the gateway:
//   condition  code  Retry-After ("-": none)  curl's time_total (s)  evidence  detail
// where the evidence is what shows the condition really was the one set up:
//   forward  requests that reached the upstream through a gateway (its /seen "via"), detail: the answer's Via
//   down     curl's exit code asking the upstream's address itself (7: it could not connect)
//   garbage  /garbage requests the upstream saw (its /seen)
//   slow     /slow requests the upstream saw (its /seen)
//   limit    connections held open before the request that were answered 200 after it
// A code alone confirms nothing: a 502 from a listening upstream, a 504 sooner
// than the timeout, a 503 with the held connections not served, are refuted.
#include "http/http.hpp"

#include <map>
#include <stdexcept>

namespace netlab::http_lab {

namespace {

struct GatewayRow {
  unsigned code = 0;
  std::string retry_after;  // empty: none
  double seconds = 0;
  std::size_t evidence = 0;
  std::string detail;
};

struct GatewaySetup {
  std::size_t upstream_timeout_ms = 0;
  std::size_t max_connections = 0;
  std::map<std::string, GatewayRow> rows;
};

double seconds_of(const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  throw std::runtime_error("--curl-observed: time_total '" + text + "' is not a number of seconds");
}

GatewaySetup read_gateway(const std::string& path) {
  const auto lines = read_tsv(path);
  auto joined = [](const std::vector<std::string>& fields) {
    std::string line;
    for (const auto& field : fields) line += (line.empty() ? "" : "\t") + field;
    return line;
  };
  if (lines.empty()) throw std::runtime_error("--curl-observed " + path + ": empty");
  const auto& head = lines.front();
  if (head.size() != 5 || head[0] != "#gateway" || head[1] != "upstream_timeout_ms" || head[3] != "max_connections")
    throw std::runtime_error("--curl-observed: expected '#gateway upstream_timeout_ms N max_connections N': " +
                             joined(head));
  GatewaySetup setup;
  setup.upstream_timeout_ms = number(head[2], "upstream_timeout_ms");
  setup.max_connections = number(head[4], "max_connections");
  for (std::size_t i = 1; i < lines.size() && i <= 64; ++i) {
    const auto& fields = lines[i];
    if (fields.size() != 6) throw std::runtime_error("--curl-observed: not 6 tab-separated fields: " + joined(fields));
    setup.rows[fields[0]] = {.code = static_cast<unsigned>(number(fields[1], "code")),
                             .retry_after = fields[2] == "-" ? "" : fields[2],
                             .seconds = seconds_of(fields[3]),
                             .evidence = number(fields[4], "evidence"),
                             .detail = fields[5]};
  }
  return setup;
}

// Which code a gateway answers is our gateway's own rule (servers/http/gateway.cpp),
// as host-required-400 is our server's: a fact when it held, printed and not
// graded; refuted when curl saw it do otherwise; skipped when not asked.
Verdict graded(const GatewayRow* row, bool holds) {
  return !row ? Verdict::skipped : holds ? Verdict::fact : Verdict::refuted;
}

std::string code_text(const GatewayRow* row) { return row ? "curl got " + std::to_string(row->code) : "not asked"; }

std::string upstream_counted(const GatewayRow& row, const std::string& route) {
  return "; the upstream counted " + std::to_string(row.evidence) + " " + route + " request(s) meanwhile";
}

}  // namespace

void grade_gateway(const std::string& path, Observed& observed, Result& result) {
  const GatewaySetup setup = read_gateway(path);
  std::map<std::string, std::string> seen;
  for (const auto& [condition, row] : setup.rows)
    seen[condition] = std::to_string(row.code) + (row.retry_after.empty() ? "" : " Retry-After: " + row.retry_after) +
                      " after " + std::to_string(row.seconds) + " s; evidence " + std::to_string(row.evidence) +
                      (row.detail.empty() ? "" : " (" + row.detail + ")");
  observed.curl = seen;
  result.set_observed(observed);
  const auto find = [&](const char* condition) {
    const auto it = setup.rows.find(condition);
    return it == setup.rows.end() ? nullptr : &it->second;
  };

  const GatewayRow* down = find("down");
  result.add_check(
      {.id = "gateway-502-upstream-down",
       .claim = "a gateway whose upstream is down answers 502 Bad Gateway",
       .expected = "curl through the gateway gets 502 while curl straight to the upstream's address cannot connect "
                   "(exit 7) (RFC 9110 §15.6.3)",
       .observed = down ? code_text(down) + "; straight to " + down->detail + ", curl exit " +
                              std::to_string(down->evidence) + (down->evidence == 7 ? " (could not connect)" : "")
                        : "not asked",
       .verdict = graded(down, down && down->code == 502 && down->evidence == 7),
       .evidence = "the status code curl got from netlab-http-server --upstream after the script stopped the "
                   "upstream server; a curl straight to the upstream's port just before"});

  const GatewayRow* garbage = find("garbage");
  result.add_check(
      {.id = "gateway-502-garbage",
       .claim = "a gateway whose upstream answers something that is not HTTP answers 502 Bad Gateway",
       .expected = "curl through the gateway to the upstream's /garbage gets 502, and the upstream saw that request "
                   "(RFC 9110 §15.6.3: an invalid response from the upstream)",
       .observed = garbage ? code_text(garbage) + upstream_counted(*garbage, "/garbage") : "not asked",
       .verdict = graded(garbage, garbage && garbage->code == 502 && garbage->evidence >= 1),
       .evidence = "curl's status code; the upstream's own count of /garbage requests (its /seen), before and after"});

  const GatewayRow* slow = find("slow");
  const double timeout_s = static_cast<double>(setup.upstream_timeout_ms) / 1000.0;
  result.add_check(
      {.id = "gateway-504-slow",
       .claim = "a gateway whose upstream answers too late answers 504 Gateway Timeout",
       .expected = "curl through the gateway to the upstream's /slow (" + (slow ? slow->detail : std::string("?")) +
                   ") gets 504 no sooner than --upstream-timeout " + std::to_string(setup.upstream_timeout_ms) +
                   " ms, and the upstream saw that request (RFC 9110 §15.6.5)",
       .observed =
           slow ? code_text(slow) + " after " + std::to_string(slow->seconds) + " s" + upstream_counted(*slow, "/slow")
                : "not asked",
       .verdict = graded(slow, slow && slow->code == 504 && slow->seconds >= timeout_s && slow->evidence >= 1),
       .evidence = "curl's status code and %{time_total}; the upstream's own count of /slow requests (its /seen)"});

  const GatewayRow* limit = find("limit");
  result.add_check(
      {.id = "gateway-503-retry-after",
       .claim = "a server at its limit answers 503 Service Unavailable and says when to retry (Retry-After)",
       .expected = "with --max-connections " + std::to_string(setup.max_connections) +
                   " connections held open, curl gets 503 with Retry-After, and the held connections are still "
                   "served (RFC 9110 §15.6.4, §10.2.3)",
       .observed = limit ? code_text(limit) +
                               (limit->retry_after.empty() ? " without Retry-After"
                                                           : " with Retry-After: " + limit->retry_after) +
                               "; " + std::to_string(limit->evidence) + " of the " + limit->detail +
                               " connection(s) answered 200 afterwards"
                         : "not asked",
       .verdict = graded(limit, limit && limit->code == 503 && !limit->retry_after.empty() &&
                                    limit->evidence == setup.max_connections && setup.max_connections > 0),
       .evidence = "curl's status code and Retry-After header; a request sent afterwards on each held connection"});
}

}  // namespace netlab::http_lab
