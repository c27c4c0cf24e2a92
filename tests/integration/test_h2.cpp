// HTTP/2 on netlab-http-server (h2c with prior knowledge, servers/http/h2.cpp),
// asked with hand-written frames over a plain socket (no nghttp2 on this side):
// streams over SETTINGS_MAX_CONCURRENT_STREAMS refused and the others served;
// a malformed frame and a bad HPACK block each end their connection with
// GOAWAY, one log line, and the next client is served. And the client grading
// what h2load and nghttp met (--h2load-observed), both ways.
#include "h2_frames.hpp"
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

using namespace netlab::test;
namespace json = boost::json;

namespace {

using namespace netlab::test::h2;

struct Frame {
  std::uint8_t type = 0, flags = 0;
  std::uint32_t stream = 0;
  std::string payload;
};

// The next frame, or nullopt when the peer closed (or said nothing for the read timeout).
std::optional<Frame> read_frame(Connection& c) {
  const std::string head = c.receive(9);
  if (head.size() < 9) return std::nullopt;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(head[i]); };
  Frame f{.type = byte(3), .flags = byte(4), .stream = 0, .payload = {}};
  const std::size_t length = (std::size_t{byte(0)} << 16) | (std::size_t{byte(1)} << 8) | byte(2);
  for (std::size_t i = 5; i < 9; ++i) f.stream = (f.stream << 8) | byte(i);
  f.stream &= 0x7fffffff;
  f.payload = c.receive(length);
  if (f.payload.size() < length) return std::nullopt;
  return f;
}

std::uint32_t u32(std::string_view bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = at; i < at + 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes[i]);
  return v;
}

// The GOAWAY's error code (RFC 9113 §6.8), or -1 when the server closed without one.
long goaway_error(Connection& c) {
  for (int frames = 0; frames < 100; ++frames) {
    const auto f = read_frame(c);
    if (!f) return -1;
    if (f->type == GOAWAY && f->payload.size() >= 8) return u32(f->payload, 4);
  }
  return -1;
}

// Serves GET / to a well-formed client: the response's HEADERS begin with :status 200 (static index 8).
bool served(std::uint16_t port) {
  Connection c(port);
  REQUIRE(c.send(std::string(preface) + frame(SETTINGS, 0, 0, "") +
                 frame(HEADERS, END_HEADERS | END_STREAM, 1, get_root())));
  for (int frames = 0; frames < 100; ++frames) {
    const auto f = read_frame(c);
    if (!f) return false;
    if (f->type == HEADERS && f->stream == 1) return !f->payload.empty() && f->payload[0] == '\x88';
  }
  return false;
}

std::size_t count_lines(const std::string& log, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("h2c: streams over SETTINGS_MAX_CONCURRENT_STREAMS get REFUSED_STREAM, the others are served",
          "[h2][limits]") {
  TempDir dir;
  Server server("netlab-http-server",
                {"--h2-max-streams", "4", "--max-body-bytes", "10", "--json", dir.file("server.json")});
  Connection c(server.port());
  // Six requests whose bodies have not ended (no END_STREAM): all six would be
  // open at once. Then the four allowed ones end, and get their answers.
  std::string out = std::string(preface) + frame(SETTINGS, 0, 0, "");
  for (std::uint32_t id = 1; id <= 11; id += 2) out += frame(HEADERS, END_HEADERS, id, get_root());
  for (std::uint32_t id = 1; id <= 7; id += 2) out += frame(DATA, END_STREAM, id, "");
  REQUIRE(c.send(out));
  std::map<std::uint32_t, std::string> status, seen;  // stream -> "200" (answered whole) or "refused"
  for (int frames = 0; frames < 200 && seen.size() < 6; ++frames) {
    const auto f = read_frame(c);
    REQUIRE(f);
    if (f->type == RST_STREAM && f->payload.size() == 4)
      seen[f->stream] = u32(f->payload, 0) == 7 ? "refused" : "reset";  // REFUSED_STREAM is 0x7
    if (f->type == HEADERS) status[f->stream] = !f->payload.empty() && f->payload[0] == '\x88' ? "200" : "other";
    if ((f->type == HEADERS || f->type == DATA) && (f->flags & END_STREAM)) seen[f->stream] = status[f->stream];
  }
  const std::map<std::uint32_t, std::string> expected{{1, "200"}, {3, "200"},     {5, "200"},
                                                      {7, "200"}, {9, "refused"}, {11, "refused"}};
  CHECK(seen == expected);
  // The body cap is per stream: 20 bytes on a fresh stream get 413 on that stream only.
  REQUIRE(c.send(frame(HEADERS, END_HEADERS, 13, get_root()) + frame(DATA, END_STREAM, 13, std::string(20, 'x'))));
  std::string answer;
  for (int frames = 0; frames < 50 && answer.empty(); ++frames) {
    const auto f = read_frame(c);
    REQUIRE(f);
    if (f->type == HEADERS && f->stream == 13) answer = f->payload;
  }
  CHECK(answer.find("413") != std::string::npos);  // ":status 413" is not in HPACK's static table: a literal
  c.close();
  const auto observed = stop_and_read(server, dir.file("server.json"));
  INFO(json::serialize(observed));
  const auto& h2 = observed.at("h2").as_object();
  CHECK(number(h2.at("connections")) == 1);
  CHECK(number(h2.at("streams")) == 4);
  CHECK(number(h2.at("refused_streams")) == 2);
  CHECK(number(h2.at("too_large")) == 1);
  CHECK(number(observed.at("requests")) == 4);
}

TEST_CASE(
    "malformed HTTP/2: a bad frame and a bad HPACK block get GOAWAY and one log line, silence GOAWAY at the idle "
    "timeout, the next client is served",
    "[h2][bad-input]") {
  TempDir dir;
  Server server("netlab-http-server",
                {"--json", dir.file("server.json"), "--log-level", "warn", "--idle-timeout", "1"});
  {
    // A SETTINGS frame of 5 bytes: settings come in 6s (RFC 9113 §6.5: FRAME_SIZE_ERROR, 0x6).
    Connection c(server.port());
    REQUIRE(c.send(std::string(preface) + frame(SETTINGS, 0, 0, std::string_view("\x00\x03\x00\x00\x00", 5))));
    CHECK(goaway_error(c) == 0x6);
    CHECK(c.closed_by_peer());
  }
  {
    // A header block naming index 126, in neither table (RFC 7541 §2.3.3: COMPRESSION_ERROR, 0x9).
    Connection c(server.port());
    REQUIRE(
        c.send(std::string(preface) + frame(SETTINGS, 0, 0, "") + frame(HEADERS, END_HEADERS | END_STREAM, 1, "\xfe")));
    CHECK(goaway_error(c) == 0x9);
    CHECK(c.closed_by_peer());
  }
  {
    // A client that says nothing after its preface: at --idle-timeout, GOAWAY NO_ERROR (0x0) and the close.
    Connection c(server.port());
    REQUIRE(c.send(std::string(preface) + frame(SETTINGS, 0, 0, "")));
    CHECK(goaway_error(c) == 0x0);
    CHECK(c.closed_by_peer());
  }
  CHECK(served(server.port()));
  const std::string log = server.log();
  CHECK(count_lines(log, "HTTP/2 connection error") == 2);
  const auto observed = stop_and_read(server, dir.file("server.json"));
  INFO(json::serialize(observed));
  CHECK(number(observed.at("h2").at("protocol_errors")) == 2);
  CHECK(number(observed.at("h2").at("connections")) == 4);
  CHECK(number(observed.at("h2").at("streams")) == 1);
}

TEST_CASE("the client grades HTTP/2 as h2load and nghttp met it (--h2load-observed), both ways", "[h2][client]") {
  TempDir dir;
  const auto grade = [&](const std::string& rows) {
    std::ofstream(dir.file("h2load.tsv")) << rows;
    return run_client_json("netlab-http-client", 1, {"--h2load-observed", dir.file("h2load.tsv")});
  };
  const std::string h1 = "h2load\th1\t100\t15192\t31592\n";
  auto result = grade("h2load\th2c\t100\t1615\t15545\n" + h1 + "nghttp\t10\t10\nconnection\t100\nconnection\t10\n");
  CHECK(verdict(result, "hpack-shrinks-headers") == "confirmed");
  CHECK(verdict(result, "h2-one-connection-many-streams") == "confirmed");
  // Header bytes as many as HTTP/1.1's; a connection per request.
  result = grade("h2load\th2c\t100\t15192\t31592\n" + h1 + "nghttp\t10\t10\n" + [] {
    std::string lines;
    for (int i = 0; i < 110; ++i) lines += "connection\t1\n";
    return lines;
  }());
  CHECK(verdict(result, "hpack-shrinks-headers") == "refuted");
  CHECK(verdict(result, "h2-one-connection-many-streams") == "refuted");
  // h2load failed: nothing to compare.
  result = grade("h2load\th2c\t0\t0\t0\n" + h1);
  CHECK(verdict(result, "hpack-shrinks-headers") == "skipped");
  CHECK(verdict(result, "h2-one-connection-many-streams") == "skipped");
}
