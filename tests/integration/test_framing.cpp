// The framing lab on real sockets: the real server and client executables on
// ephemeral ports, asserted on their JSON; bad input sent from here over a
// plain socket must close only the offending connection.
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "proto/codec.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace netlab::test;
namespace json = boost::json;

namespace {

std::string length_frame(std::string_view payload) {
  std::string frame;
  REQUIRE_FALSE(netlab::LengthHeaderCodec().encode(payload, frame));
  return frame;
}

// A well-behaved client: one framed message out, the same framed message back.
void expect_echo(std::uint16_t port, const std::string& codec) {
  Connection good(port);
  const std::string frame = codec == "length" ? length_frame("still served") : "still served\n";
  REQUIRE(good.send(frame));
  CHECK(good.receive(frame.size()) == frame);
}

json::object run_client(const Server& server, const std::vector<std::string>& args) {
  return run_client_json("netlab-framing-client", server.port(), args);
}

}  // namespace

TEST_CASE("raw: the server's reads are compared with the client's writes", "[pair]") {
  TempDir dir;
  Server server("netlab-framing-server", {"--codec", "raw", "--json", dir.file("server.json")});
  const auto result = run_client(server, {"--codec", "raw", "--messages", "2000", "--seed", "7"});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("writes")) == 2000);
  CHECK(observed.at("stream_intact").as_bool());
  CHECK(number(observed.at("bytes_read_by_server")) == number(observed.at("bytes_sent")));
  CHECK(server.stop() == 0);
  // The server's own count of its reads (server.json), not the client's
  // merged/split figures: with 2,000 writes, any other number of reads means
  // some read did not return exactly one write, so the boundaries were lost
  // and the verdict must say so. (Equal counts could still hide a merge and a
  // split that cancel out: then either verdict is possible.)
  const auto served = read_json(dir.file("server.json")).at("observed").as_object();
  const std::size_t server_reads = number(served.at("reads"));
  INFO("server reads: " << server_reads << " for 2000 writes");
  CHECK(number(served.at("bytes_received")) == number(observed.at("bytes_sent")));
  CHECK(number(observed.at("reads")) == server_reads);
  const auto& check = only_check(result);
  CHECK(check.at("id") == "write-is-not-read");
  if (server_reads != 2000) CHECK(check.at("verdict") == "confirmed");
  // Fewer reads than writes: some read must have merged writes.
  if (server_reads < 2000) CHECK(number(observed.at("merged_reads")) > 0);
  if (server_reads > 2000) CHECK(number(observed.at("split_writes")) > 0);
}

TEST_CASE("raw: a small server read size splits writes (拆包)", "[pair]") {
  Server server("netlab-framing-server", {"--codec", "raw", "--read-size", "100"});
  const auto result =
      run_client(server, {"--codec", "raw", "--messages", "500", "--min-size", "150", "--max-size", "400"});
  const auto& observed = result.at("observed").as_object();
  // Every write is longer than any read, so every write must be split.
  CHECK(number(observed.at("split_writes")) == 500);
  CHECK(only_check(result).at("verdict") == "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("delimiter and length framing restore every message", "[pair]") {
  const std::string codec = GENERATE(as<std::string>{}, "delimiter", "length");
  Server server("netlab-framing-server", {"--codec", codec});
  const auto result = run_client(server, {"--codec", codec, "--messages", "3000", "--max-size", "4000"});
  const auto& observed = result.at("observed").as_object();
  CHECK(number(observed.at("messages_received")) == 3000);
  CHECK(number(observed.at("intact")) == 3000);
  CHECK(number(observed.at("mismatches")) == 0);
  CHECK(number(observed.at("missing")) == 0);
  CHECK(number(observed.at("bytes_received")) == number(observed.at("bytes_sent")));
  CHECK(only_check(result).at("id").as_string() == codec + "-restores-boundaries");
  CHECK(only_check(result).at("verdict") == "confirmed");
  CHECK(server.stop() == 0);
}

TEST_CASE("length framing carries zero-length and 1 MiB frames", "[pair]") {
  Server server("netlab-framing-server", {"--codec", "length"});
  auto result = run_client(server, {"--codec", "length", "--messages", "50", "--min-size", "0", "--max-size", "0"});
  CHECK(number(result.at("observed").at("intact")) == 50);
  result =
      run_client(server, {"--codec", "length", "--messages", "3", "--min-size", "1048576", "--max-size", "1048576"});
  CHECK(number(result.at("observed").at("intact")) == 3);
  CHECK(server.stop() == 0);
}

TEST_CASE("one-way: the server tallies the frames and the client compares the tallies", "[pair]") {
  const std::string codec = GENERATE(as<std::string>{}, "delimiter", "length");
  TempDir dir;
  Server server("netlab-framing-server", {"--codec", codec, "--one-way", "--json", dir.file("server.json")});
  const auto result =
      run_client(server, {"--codec", codec, "--one-way", "--messages", "3000", "--max-size", "4000", "--seed", "5"});
  const auto& observed = result.at("observed").as_object();
  CHECK(only_check(result).at("id").as_string() == codec + "-restores-boundaries");
  CHECK(only_check(result).at("verdict") == "confirmed");
  CHECK(number(observed.at("frames_counted_by_server")) == 3000);
  CHECK(observed.at("frames_crc32c") == observed.at("server_frames_crc32c"));
  REQUIRE(server.stop() == 0);
  // The server's own account, not the client's: every frame counted, none echoed.
  const auto server_observed = read_json(dir.file("server.json")).at("observed").as_object();
  CHECK(number(server_observed.at("frames_counted")) == 3000);
  CHECK(number(server_observed.at("frames_echoed")) == 0);
  CHECK(number(server_observed.at("bytes_received")) == number(observed.at("bytes_sent")));
}

// Nagle meets the delayed ACK: the server's own count of echoed frames, and
// the kernel's DelayedACKs counter (not a time) say the stall was the delayed ACK.
TEST_CASE("write-write-read: four ways, each request echoed, and Nagle's wait on the delayed ACK is counted",
          "[pair]") {
  TempDir dir;
  Server server("netlab-framing-server", {"--codec", "length", "--json", dir.file("server.json")});
  const auto result = run_client(server, {"--codec", "length", "--write-write-read", "10"});
  const auto& variants = result.at("observed").at("variants").as_array();
  REQUIRE(variants.size() == 4);
  for (const auto& v : variants) CHECK(number(v.at("requests")) == 10);
  CHECK(variants[0].at("name") == "nagle");
  // Linux delays the ACK of a header that brings no answer: at least half of them
  // (the first requests may still be in the connection's quick-ACK start).
  CHECK(number(variants[0].at("delayed_acks")) >= 5);
  const auto& check = only_check(result);
  CHECK(check.at("id") == "nagle-delayed-ack-stall");
  CHECK(check.at("verdict") == "confirmed");
  REQUIRE(server.stop() == 0);
  const auto served = read_json(dir.file("server.json")).at("observed").as_object();
  CHECK(number(served.at("frames_echoed")) == 40);
  CHECK(number(served.at("connections")) == 4);
}

TEST_CASE("one-way: a different stream gives a different tally", "[pair]") {
  // The tally is what the verdict rests on: one frame fewer, or the same
  // bytes cut differently, must not pass. Sent by hand: "ab","c" vs "a","bc".
  Server server("netlab-framing-server", {"--codec", "length", "--one-way"});
  const auto tally_of = [&](std::initializer_list<std::string_view> frames) {
    Connection c(server.port());
    for (auto f : frames) REQUIRE(c.send(length_frame(f)));
    c.half_close();
    const std::string header = c.receive(4);
    REQUIRE(header.size() == 4);
    const std::size_t length =
        (std::size_t{static_cast<unsigned char>(header[2])} << 8) | static_cast<unsigned char>(header[3]);
    return json::parse(c.receive(length)).as_object();
  };
  const auto a = tally_of({"ab", "c"});
  const auto b = tally_of({"a", "bc"});
  CHECK(number(a.at("frames")) == 2);
  CHECK(number(a.at("payload_bytes")) == 3);
  CHECK(a.at("payload_bytes") == b.at("payload_bytes"));
  CHECK(a.at("frames_crc32c") != b.at("frames_crc32c"));
  CHECK(server.stop() == 0);
}

TEST_CASE("one-way on one side only is a clear error, not a hang", "[errors]") {
  Server echo("netlab-framing-server", {"--codec", "length"});
  const auto result = run({bin("netlab-framing-client"), "--port", echo.port_text(), "--codec", "length", "--one-way",
                           "--messages", "200", "--min-size", "65536", "--max-size", "65536"});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("--one-way") != std::string::npos);
  CHECK(echo.stop() == 0);
  // A frame over the one-way server's --max-frame: it closes without a tally, and the client says so.
  Server small("netlab-framing-server", {"--codec", "length", "--one-way", "--max-frame", "1000"});
  const auto refused = run({bin("netlab-framing-client"), "--port", small.port_text(), "--codec", "length", "--one-way",
                            "--messages", "5", "--min-size", "2000", "--max-size", "2000"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("without a tally") != std::string::npos);
  CHECK(small.stop() == 0);
  expect_usage_errors("netlab-framing-client", {{"--codec", "raw", "--one-way"}});
  expect_usage_errors("netlab-framing-server", {{"--codec", "raw", "--one-way"}});
}

TEST_CASE("length server: bad input closes that connection only", "[bad-input]") {
  TempDir dir;
  Server server("netlab-framing-server", {"--codec", "length", "--json", dir.file("server.json")});
  Connection bystander(server.port());  // opened before, used after every bad peer

  SECTION("an oversized length header") {
    Connection bad(server.port());
    REQUIRE(bad.send(std::string("\x7f\xff\xff\xff", 4)));
    CHECK(bad.closed_by_peer());
  }
  SECTION("garbage: an HTTP request on the framing port") {
    Connection bad(server.port());
    REQUIRE(bad.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(bad.closed_by_peer());
  }
  SECTION("half a frame, then close") {
    {
      Connection bad(server.port());
      const std::string frame = length_frame(std::string(1000, 'x'));
      REQUIRE(bad.send(frame.substr(0, 500)));
      bad.half_close();
      CHECK(bad.closed_by_peer());
    }
  }
  SECTION("valid frames before a bad header are still echoed") {
    Connection bad(server.port());
    const std::string good = length_frame("first");
    REQUIRE(bad.send(good + std::string("\xff\xff\xff\xff", 4)));
    CHECK(bad.receive(good.size()) == good);
    CHECK(bad.closed_by_peer());
  }
  expect_echo(server.port(), "length");
  const std::string frame = length_frame("bystander");
  REQUIRE(bystander.send(frame));
  CHECK(bystander.receive(frame.size()) == frame);
  CHECK(number(stop_and_read(server, dir.file("server.json")).at("codec_errors")) == 1);
  // One clear line names the problem.
  const std::string log = server.log();
  CHECK((log.find("maximum is 1048576") != std::string::npos ||
         log.find("stream ended inside a frame") != std::string::npos));
}

TEST_CASE("delimiter server: no delimiter within the maximum closes that connection only", "[bad-input]") {
  Server server("netlab-framing-server", {"--codec", "delimiter", "--max-frame", "1000"});
  {
    Connection bad(server.port());
    REQUIRE(bad.send(std::string(1001, 'a')));
    CHECK(bad.closed_by_peer());
  }
  expect_echo(server.port(), "delimiter");
  CHECK(server.log().find("no delimiter within 1000 bytes") != std::string::npos);
  CHECK(server.stop() == 0);
}

TEST_CASE("the client says clearly when the server is not running", "[errors]") {
  // Take a free port and close it again: nothing listens there.
  expect_failure(run_without_server("netlab-framing-server", "netlab-framing-client"), 1,
                 {"connection refused", "is netlab-framing-server running?"});
}

TEST_CASE("a port already in use is a clear error", "[errors]") {
  Server first("netlab-framing-server", {});
  expect_failure(run_on_taken_port(first, "netlab-framing-server"), 1, {"address already in use", "--port 0"});
  CHECK(first.stop() == 0);
}

TEST_CASE("usage errors exit 2", "[errors]") {
  expect_usage_errors("netlab-framing-client", {{"--codec", "morse"},
                                                {"--min-size", "10", "--max-size", "5"},
                                                {"--codec", "delimiter", "--max-size", "70000"},
                                                {"--messages", "0"},
                                                {"--codec", "raw", "--write-write-read", "5"},
                                                {"--codec", "length", "--one-way", "--write-write-read", "5"},
                                                {"--codec", "length", "--write-write-read", "0"}});
  expect_usage_errors("netlab-framing-server", {{"--read-size", "0"}});
}

TEST_CASE("the server stops by itself after --max-seconds and reports", "[lifecycle]") {
  TempDir dir;
  // 3 s: long enough for one echo under ASan on a busy machine (0.3 s was
  // not), short enough to wait for; the stop comes from the server alone.
  Server server("netlab-framing-server", {"--max-seconds", "3", "--json", dir.file("server.json")});
  expect_echo(server.port(), "length");
  CHECK(server.wait(30s) == 0);
  CHECK(read_json(dir.file("server.json")).at("observed").at("stopped_by") == "max-seconds");
}

TEST_CASE("SIGTERM closes open connections and the server exits 0", "[lifecycle]") {
  Server server("netlab-framing-server", {"--codec", "length"});
  const std::size_t fds_idle = open_fds(server.pid());
  Connection idle(server.port());
  // The server has accepted it: one descriptor more (polled, bounded: accept is asynchronous).
  std::size_t fds_with_connection = 0;
  eventually([&] { return (fds_with_connection = open_fds(server.pid())) == fds_idle + 1; });
  CHECK(fds_with_connection == fds_idle + 1);
  CHECK(server.stop() == 0);
  CHECK(idle.closed_by_peer());
  CHECK(server.out().find("stopped by SIGTERM") != std::string::npos);
}
