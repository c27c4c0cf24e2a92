// HTTP/2 read from captured bytes (common/capture/h2_frames): the preface, the
// frames counted by type, every way the bytes can fail to be HTTP/2, and a
// connection's payload put back in order. grpc-is-http2 is graded on these;
// grpc-same-results on runs made up here.
#include "capture/h2_frames.hpp"
#include "rpc/grpc_runs.hpp"

#include <catch2/catch.hpp>

using namespace netlab;
using h2::FrameType;

namespace {

std::string frame(FrameType type, std::string_view payload, std::uint32_t stream = 1) {
  std::string out;
  const auto n = payload.size();
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>(type);
  out += '\0';  // flags
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((stream >> shift) & 0xff);
  out += payload;
  return out;
}

// What a gRPC client sends for one call: preface, SETTINGS, HEADERS, DATA
// (the 5-byte prefix and a 3-byte protobuf message).
std::string one_call() {
  return std::string(h2::client_preface) + frame(FrameType::settings, "", 0) +
         frame(FrameType::headers, std::string(12, 'h')) +
         frame(FrameType::data, std::string("\0\0\0\0\x03\x0a\x01\x61", 8));
}

Packet segment(bool from_client, std::uint32_t seq, std::string payload, std::uint8_t flags = tcp_flag::ack) {
  Packet p;
  p.is_tcp = true;
  p.src_ip = p.dst_ip = "127.0.0.1";
  p.src_port = from_client ? 40000 : 7008;
  p.dst_port = from_client ? 7008 : 40000;
  p.seq = seq;
  p.flags = flags;
  p.payload_length = payload.size();
  p.payload = std::move(payload);
  return p;
}

}  // namespace

TEST_CASE("h2: a client's preface and frames are counted by type", "[h2]") {
  const auto count = h2::count_frames(one_call(), true);
  CHECK(count.flaw.empty());
  CHECK(count.preface);
  CHECK(count.frames == 3);
  CHECK(count.of(FrameType::settings) == 1);
  CHECK(count.of(FrameType::headers) == 1);
  CHECK(count.of(FrameType::data) == 1);
  CHECK(count.header_block_bytes == 12);
  CHECK(count.data_bytes == 8);
  CHECK(count.bytes == one_call().size());
}

TEST_CASE("h2: bytes that are not HTTP/2 are a flaw, not a count", "[h2]") {
  SECTION("HTTP/1.1 instead of the preface") {
    const auto count = h2::count_frames("POST /rpc/get HTTP/1.1\r\nHost: x\r\n\r\n", true);
    CHECK_FALSE(count.preface);
    CHECK(count.flaw.find("preface") != std::string::npos);
  }
  SECTION("cut inside a frame's payload, one byte short") {
    const auto bytes = one_call();
    const auto count = h2::count_frames(std::string_view(bytes).substr(0, bytes.size() - 1), true);
    CHECK(count.preface);
    CHECK(count.frames == 2);
    CHECK(count.flaw.find("runs past the end") != std::string::npos);
  }
  SECTION("cut inside a frame header") {
    const auto count = h2::count_frames(frame(FrameType::ping, "12345678").substr(0, 5), false);
    CHECK(count.frames == 0);
    CHECK(count.flaw.find("frame header") != std::string::npos);
  }
  SECTION("a server's bytes have no preface to look for") {
    const auto count = h2::count_frames(frame(FrameType::settings, "", 0) + frame(FrameType::headers, "x"), false);
    CHECK(count.flaw.empty());
    CHECK(count.frames == 2);
  }
}

TEST_CASE("h2: a connection's payload, reassembled in sequence order, each byte once", "[h2]") {
  Flow flow;
  flow.is_tcp = true;
  flow.client = "127.0.0.1:40000";
  flow.server = "127.0.0.1:7008";
  flow.server_port = 7008;
  flow.packets = {segment(true, 999, "", tcp_flag::syn),
                  segment(false, 4999, "", tcp_flag::syn | tcp_flag::ack),
                  segment(true, 1005, "fghij"),  // arrives first, out of order
                  segment(true, 1000, "abcde"),
                  segment(true, 1000, "abcde"),  // and a retransmitted copy
                  segment(false, 5000, "xyz")};
  auto streams = h2::reassemble(flow);
  CHECK(streams.from_client == "abcdefghij");
  CHECK(streams.from_server == "xyz");
  CHECK(streams.gap.empty());
  CHECK(streams.client_syn);
  CHECK_FALSE(streams.client_cut);
  flow.packets.push_back(segment(false, 5010, "late"));  // bytes 3..10 never captured
  streams = h2::reassemble(flow);
  CHECK(streams.from_server == "xyz");
  CHECK(streams.gap.find("server bytes 3..10") != std::string::npos);
  CHECK(streams.server_cut);
  CHECK_FALSE(streams.client_cut);
}

TEST_CASE("h2: a stream cut at a capture hole ends inside a frame, and says so", "[h2]") {
  const auto bytes = one_call();
  const auto cut = h2::count_frames(std::string_view(bytes).substr(0, bytes.size() - 3), true);
  CHECK(cut.ends_inside_frame);
  const auto whole = h2::count_frames(bytes, true);
  CHECK_FALSE(whole.ends_inside_frame);
  const auto no_preface = h2::count_frames(bytes.substr(h2::client_preface.size()), true);
  CHECK_FALSE(no_preface.ends_inside_frame);  // a real flaw, not the capture's
}

// ---- grpc-same-results, graded on runs made up here -------------------------------

namespace {

rpc_lab::Run made_run(std::string transport, std::vector<rpc::Response> results) {
  rpc_lab::Run run;
  run.transport = std::move(transport);
  run.results = std::move(results);
  return run;
}

std::string grpc_same_results(const std::vector<rpc_lab::Run>& runs) {
  const std::vector<rpc::Request> calls{{1, rpc::Method::put, "k1", 5}, {2, rpc::Method::get, "k2", 0}};
  Result result("rpc", "client");
  rpc_lab::add_grpc_same_results(runs, calls, result);
  REQUIRE(result.checks().size() == 1);
  const auto& check = result.checks().front();
  CHECK(check.id == "grpc-same-results");
  return std::string(to_string(check.verdict)) + ": " + check.observed;
}

}  // namespace

TEST_CASE("grpc-same-results: confirmed when equal, refuted naming the first difference, else skipped", "[grpc]") {
  const rpc::Response put5{1, rpc::Status::ok, 5, {}}, missing{2, rpc::Status::not_found, 0, "no such key: k2"};
  const auto http = made_run("http+json", {put5, missing});
  CHECK(grpc_same_results({http, made_run("grpc", {put5, missing})}).starts_with("confirmed: 2 of 2"));
  const auto differs = grpc_same_results({http, made_run("grpc", {put5, {2, rpc::Status::ok, 7, {}}})});
  CHECK(differs.starts_with("refuted: 1 of 2"));
  CHECK(differs.find("call 2 (get k2, window 1): gRPC ok 7, http+json not_found") != std::string::npos);
  CHECK(grpc_same_results({made_run("grpc", {put5, missing})}).starts_with("skipped"));
}
