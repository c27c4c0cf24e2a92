// The rpc lab's frames: exact bytes on the wire, decoding one byte at a time
// through LengthHeaderCodec, every truncation and every bad field refused with
// an answerable error, and the same outcome whichever encoding carries a call.
#include "proto/codec.hpp"
#include "proto/rpc_protocol.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

#include <limits>

using namespace netlab::rpc;
using netlab::LengthHeaderCodec;

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// The frame's body, without the 4-byte length header.
std::string body_of(const std::string& frame) {
  REQUIRE(frame.size() >= 4);
  return frame.substr(4);
}

}  // namespace

TEST_CASE("a request frame, byte by byte, big-endian", "[binary]") {
  std::string frame;
  encode_request({0x01020304, Method::put, "ab", -2}, frame);
  //           length    id        put keylen key  value (-2, two's complement)
  CHECK(hex(frame) ==
        "00000011"
        "01020304"
        "01"
        "0002"
        "6162"
        "fffffffffffffffe");
  frame.clear();
  encode_request({7, Method::get, "k", 99}, frame);  // get carries no value
  CHECK(hex(frame) ==
        "00000008"
        "00000007"
        "02"
        "0001"
        "6b");
}

TEST_CASE("a response frame, byte by byte", "[binary]") {
  std::string frame;
  encode_response({5, Status::ok, 258, {}}, frame);
  CHECK(hex(frame) ==
        "0000000d"
        "00000005"
        "00"
        "0000000000000102");
  frame.clear();
  encode_response({6, Status::not_found, 0, "no"}, frame);
  CHECK(hex(frame) ==
        "00000007"
        "00000006"
        "01"
        "6e6f");
}

TEST_CASE("requests and responses survive LengthHeaderCodec one byte at a time", "[binary]") {
  const std::vector<Request> requests{{1, Method::put, "alpha", 42},
                                      {2, Method::get, "alpha", 0},
                                      {3, Method::add, "", std::numeric_limits<std::int64_t>::min()},
                                      {4294967295u, Method::add, std::string(max_key, 'k'), -1}};
  std::string stream;
  for (const auto& r : requests) encode_request(r, stream);
  LengthHeaderCodec codec(max_frame);
  std::vector<std::string> bodies;
  for (char byte : stream) REQUIRE_FALSE(codec.decode(std::string_view(&byte, 1), bodies));
  REQUIRE_FALSE(codec.finish());
  REQUIRE(bodies.size() == requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    Request decoded;
    REQUIRE_FALSE(decode_request(bodies[i], decoded));
    CHECK(decoded.id == requests[i].id);
    CHECK(decoded.method == requests[i].method);
    CHECK(decoded.key == requests[i].key);
    CHECK(decoded.value == (requests[i].method == Method::get ? 0 : requests[i].value));
  }

  const std::vector<Response> responses{{1, Status::ok, std::numeric_limits<std::int64_t>::max(), {}},
                                        {2, Status::not_found, 0, "no such key: x"},
                                        {3, Status::unknown_method, 0, "unknown method id 9"}};
  stream.clear();
  for (const auto& r : responses) encode_response(r, stream);
  bodies.clear();
  for (char byte : stream) REQUIRE_FALSE(codec.decode(std::string_view(&byte, 1), bodies));
  REQUIRE(bodies.size() == responses.size());
  for (std::size_t i = 0; i < responses.size(); ++i) {
    Response decoded;
    REQUIRE_FALSE(decode_response(bodies[i], decoded));
    CHECK(decoded.id == responses[i].id);
    CHECK(decoded.status == responses[i].status);
    CHECK(decoded.value == responses[i].value);
    CHECK(decoded.error == responses[i].error);
  }
}

TEST_CASE("every truncation of a request body is refused", "[binary][bad-input]") {
  std::string frame;
  encode_request({9, Method::put, "key", 1}, frame);
  const std::string body = body_of(frame);
  for (std::size_t size = 0; size < body.size(); ++size) {
    Request decoded;
    const auto error = decode_request(std::string_view(body).substr(0, size), decoded);
    INFO("first " << size << " bytes");
    REQUIRE(error);
    CHECK(error->status == Status::bad_request);
    // With 4 bytes or more the id is known, so the server can answer this call.
    CHECK(error->id.has_value() == (size >= 4));
    if (error->id) CHECK(*error->id == 9);
  }
  Request decoded;
  CHECK(decode_request(body + "x", decoded));  // a byte too many
}

TEST_CASE("an unknown method id and an oversized key are answerable errors", "[binary][bad-input]") {
  std::string body = body_of([] {
    std::string f;
    encode_request({77, Method::get, "k", 0}, f);
    return f;
  }());
  for (const unsigned char method : {std::uint8_t{0}, std::uint8_t{4}, std::uint8_t{255}}) {
    body[4] = static_cast<char>(method);
    Request decoded;
    const auto error = decode_request(body, decoded);
    REQUIRE(error);
    CHECK(error->status == Status::unknown_method);
    CHECK(error->id == 77u);
    CHECK(error->message == "unknown method id " + std::to_string(method));
  }
  // A key length over max_key is refused from the header alone.
  std::string big("\x00\x00\x00\x01\x02\xff\xff", 7);
  Request decoded;
  const auto error = decode_request(big, decoded);
  REQUIRE(error);
  CHECK(error->message.find("maximum is 1024") != std::string::npos);
  std::string out;
  CHECK_THROWS_AS(encode_request({1, Method::get, std::string(max_key + 1, 'k'), 0}, out), std::length_error);
}

TEST_CASE("responses that do not decode", "[binary][bad-input]") {
  Response decoded;
  CHECK(decode_response("", decoded));
  CHECK(decode_response(std::string("\0\0\0\1", 4), decoded));
  CHECK(decode_response(std::string("\0\0\0\1\x09", 5), decoded));                        // unknown status
  CHECK(decode_response(std::string("\0\0\0\1\0\0\0\0", 8), decoded));                    // ok, short value
  CHECK(decode_response(std::string("\0\0\0\1\1", 5) + std::string(600, 'e'), decoded));  // error text too long
}

TEST_CASE("JSON requests and responses", "[json]") {
  CHECK(json_request_body({1, Method::put, "a", 5}) == R"({"key":"a","value":5})");
  CHECK(json_request_body({1, Method::get, "a", 5}) == R"({"key":"a"})");
  CHECK(json_response_body({1, Status::ok, -3, {}}) == R"({"status":"ok","value":-3})");
  CHECK(json_response_body({1, Status::not_found, 0, "no such key: a"}) ==
        R"({"status":"not_found","error":"no such key: a"})");

  Request request;
  REQUIRE_FALSE(parse_json_request("add", R"({"key":"n","value":-7})", request));
  CHECK(request.method == Method::add);
  CHECK(request.key == "n");
  CHECK(request.value == -7);

  const auto refused = [](std::string_view method, std::string_view body) {
    Request r;
    auto error = parse_json_request(method, body, r);
    REQUIRE(error);
    return *error;
  };
  CHECK(refused("delete", R"({"key":"a"})").status == Status::unknown_method);
  CHECK(refused("put", R"({"key":"a","value":)").message.rfind("invalid JSON", 0) == 0);
  CHECK(refused("put", "[1,2]").status == Status::bad_request);
  CHECK(refused("put", R"({"key":1,"value":1})").message == "\"key\" must be a string");
  CHECK(refused("put", R"({"key":"a"})").message == "\"value\" must be a 64-bit integer");
  CHECK(refused("put", R"({"key":"a","value":1.5})").status == Status::bad_request);
  CHECK(refused("get", R"({"key":")" + std::string(max_key + 1, 'k') + "\"}").status == Status::bad_request);

  Response response;
  REQUIRE_FALSE(parse_json_response(R"({"status":"ok","value":12})", response));
  CHECK(response.value == 12);
  REQUIRE_FALSE(parse_json_response(R"({"status":"not_found","error":"x"})", response));
  CHECK(response.status == Status::not_found);
  CHECK(parse_json_response(R"({"status":"maybe"})", response));
  CHECK(parse_json_response("nope", response));
}

TEST_CASE("the store: put, get, add, and overflow refused", "[store]") {
  KeyValueStore store;
  CHECK(store.call({1, Method::get, "x", 0}).status == Status::not_found);
  CHECK(store.call({2, Method::add, "x", 5}).value == 5);  // a missing key counts as 0
  CHECK(store.call({3, Method::put, "x", 10}).value == 10);
  auto r = store.call({4, Method::add, "x", -3});
  CHECK(r.status == Status::ok);
  CHECK(r.value == 7);
  CHECK(r.id == 4);
  CHECK(store.call({5, Method::get, "x", 0}).value == 7);
  store.call({6, Method::put, "big", std::numeric_limits<std::int64_t>::max()});
  r = store.call({7, Method::add, "big", 1});
  CHECK(r.status == Status::bad_request);
  CHECK(store.call({8, Method::get, "big", 0}).value == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("HTTP status codes for RPC statuses", "[json]") {
  CHECK(http_status(Status::ok) == 200);
  CHECK(http_status(Status::not_found) == 404);
  CHECK(http_status(Status::bad_request) == 400);
  CHECK(http_status(Status::unknown_method) == 404);
}
