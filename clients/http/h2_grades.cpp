// netlab-http-client --h2load-observed FILE: HTTP/2 as outside clients met it
// (scripts/labs/http.sh, step "HTTP/2"), graded. FILE's lines, tab-separated:
//   h2load  h2c|h1  <requests succeeded>  <header bytes>  <total bytes>   (h2load's "requests:" and "traffic:")
//   connection  <streams>        one per h2c connection the server closed, from its log, in order
//   nghttp  <URLs asked>  <answered 200>
// The same 100 requests went over h2c (h2load -n 100 -c 1 -m 10) and over
// HTTP/1.1 (h2load --h1 -n 100 -c 1); then nghttp fetched 10 URLs at once.
// (Not curl: Debian 12's curl 7.88.1 fails every transfer after the first on
// a reused h2c connection, "Error in the HTTP2 framing layer", against nginx
// too.) The verdicts come from those figures only: had
// HPACK not shrunk the header bytes, or had each request taken a connection of
// its own, they would say so.
#include "http/http.hpp"

#include <stdexcept>

namespace netlab::http_lab {

namespace {

struct LoadRow {
  std::size_t succeeded = 0, header_bytes = 0, total_bytes = 0;
};

struct H2Seen {
  std::optional<LoadRow> h2c, h1;
  std::vector<std::size_t> connections;  // streams per h2c connection, as the server counted them
  std::optional<std::size_t> nghttp_asked, nghttp_answered;
};

H2Seen read_h2_seen(const std::string& path) {
  H2Seen seen;
  for (const auto& fields : read_tsv(path)) {
    const std::string& kind = fields[0];
    if (kind == "h2load" && fields.size() == 5) {
      LoadRow row{.succeeded = number(fields[2], "requests succeeded"),
                  .header_bytes = number(fields[3], "header bytes"),
                  .total_bytes = number(fields[4], "total bytes")};
      (fields[1] == "h1" ? seen.h1 : seen.h2c) = row;
    } else if (kind == "connection" && fields.size() == 2) {
      seen.connections.push_back(number(fields[1], "streams"));
    } else if (kind == "nghttp" && fields.size() == 3) {
      seen.nghttp_asked = number(fields[1], "URLs asked");
      seen.nghttp_answered = number(fields[2], "answered");
    } else if (!kind.empty()) {
      throw std::runtime_error("--h2load-observed " + path + ": a line of " + kind + " this client does not know");
    }
  }
  return seen;
}

std::string described(const std::optional<LoadRow>& row) {
  if (!row) return "not run";
  return std::to_string(row->succeeded) + " requests, " + std::to_string(row->header_bytes) + " header bytes of " +
         std::to_string(row->total_bytes);
}

void grade_hpack(const H2Seen& seen, Result& result) {
  const bool asked = seen.h2c && seen.h1 && seen.h2c->succeeded > 0 && seen.h2c->succeeded == seen.h1->succeeded;
  std::string observed = "h2c: " + described(seen.h2c) + "; HTTP/1.1: " + described(seen.h1);
  if (asked && seen.h1->header_bytes > 0)
    observed += "; h2c's header bytes are " +
                std::to_string((seen.h2c->header_bytes * 1000 / seen.h1->header_bytes + 5) / 10) + " % of HTTP/1.1's";
  result.add_check({.id = "hpack-shrinks-headers",
                    .claim = "HTTP/2 compresses headers (HPACK): the same requests carry fewer header bytes than "
                             "over HTTP/1.1",
                    .expected = "the same 100 requests, h2load over h2c and with --h1: fewer header bytes over h2c "
                                "(RFC 7541 §2.3: the dynamic table turns a repeated field into an index; RFC 9113 "
                                "§4.3)",
                    .observed = observed,
                    .verdict = verdict_of(asked, asked && seen.h2c->header_bytes < seen.h1->header_bytes,
                                          asked && seen.h2c->header_bytes >= seen.h1->header_bytes),
                    .evidence = "h2load's \"requests:\" and \"traffic:\" lines (header bytes: the response header "
                                "blocks as received, HPACK-encoded over h2c, text over HTTP/1.1)"});
}

void grade_multiplexing(const H2Seen& seen, Result& result) {
  const bool asked = seen.h2c && seen.h2c->succeeded > 0 && !seen.connections.empty() && seen.nghttp_asked;
  std::string per_connection;
  for (const auto streams : seen.connections)
    per_connection += (per_connection.empty() ? "" : ", ") + std::to_string(streams);
  // h2load's connection, then nghttp's: one each, carrying every request.
  const bool holds = asked && seen.connections.size() == 2 && seen.connections[0] == seen.h2c->succeeded &&
                     seen.connections[1] == *seen.nghttp_asked && seen.nghttp_answered == seen.nghttp_asked;
  // A connection per request: what HTTP/1.1 without pipelining would need.
  const bool opposite = asked && seen.connections.size() >= seen.h2c->succeeded + *seen.nghttp_asked;
  result.add_check(
      {.id = "h2-one-connection-many-streams",
       .claim = "HTTP/2 carries many requests at once on one connection, each in its own stream",
       .expected = "h2load -n 100 -c 1 -m 10: the server counts one h2c connection with 100 streams; nghttp with "
                   "10 URLs: one more connection, 10 streams, 10 answers (RFC 9113 §5, §5.1.1)",
       .observed = "h2load: " + described(seen.h2c) + "; the server's h2c connections carried " +
                   (per_connection.empty() ? "none" : per_connection) + " streams; nghttp: " +
                   (seen.nghttp_asked ? std::to_string(seen.nghttp_answered.value_or(0)) + " of " +
                                            std::to_string(*seen.nghttp_asked) + " URLs answered 200"
                                      : std::string("not run")),
       .verdict = verdict_of(asked, holds, opposite),
       .evidence = "the server's log: one DOWN line per h2c connection with its stream count; nghttp -ns's table "
                   "of streams (id, code)"});
}

}  // namespace

void grade_h2load(const std::string& path, Result& result) {
  const H2Seen seen = read_h2_seen(path);
  grade_hpack(seen, result);
  grade_multiplexing(seen, result);
}

}  // namespace netlab::http_lab
