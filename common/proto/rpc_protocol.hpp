#pragma once
// The rpc lab's one service — a small key-value store (put, get, add) — and
// its two encodings: a binary RPC frame and HTTP/1.1 + JSON. Both carry the
// same Request and Response, so a client can make the same calls each way and
// compare results and bytes. Pure: no sockets, every decode bounded.
//
// Binary, inside a LengthHeaderCodec frame (4-byte big-endian length first):
//   request  body: id u32 | method u8 | key length u16 | key | value i64 (put, add only)
//   response body: id u32 | status u8 | value i64 (ok) or error text (otherwise)
// All integers big-endian ("network order"), written with byte shifts. The id
// is chosen by the client and echoed by the server, which is what lets a client
// pipeline many requests on one connection and match each answer to its call.
//
// HTTP + JSON: POST /rpc/<method> with {"key":"k","value":5} ("value" left out
// for get); the answer {"status":"ok","value":5} or {"status":"not_found","error":"..."}.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace netlab::rpc {

enum class Method : std::uint8_t { put = 1, get = 2, add = 3 };
enum class Status : std::uint8_t { ok = 0, not_found = 1, bad_request = 2, unknown_method = 3 };

std::string_view method_name(Method method);
std::optional<Method> method_from_name(std::string_view name);
std::string_view status_name(Status status);
std::optional<Status> status_from_name(std::string_view name);
// The HTTP status code that carries `status`: 200, 404, 400, 404.
unsigned http_status(Status status);

struct Request {
  std::uint32_t id = 0;
  Method method = Method::get;
  std::string key;
  std::int64_t value = 0;  // put: the new value; add: the delta; get: unused
};

struct Response {
  std::uint32_t id = 0;
  Status status = Status::ok;
  std::int64_t value = 0;  // ok: the value after the call
  std::string error;       // otherwise: one line
};

// The outcome of a call, the thing both transports must agree on.
inline bool same_outcome(const Response& a, const Response& b) {
  return a.status == b.status && (a.status != Status::ok || a.value == b.value);
}

inline constexpr std::size_t max_frame = 64 * 1024;    // the LengthHeaderCodec cap for RPC frames
inline constexpr std::size_t max_key = 1024;           // bytes
inline constexpr std::size_t max_error = 512;          // bytes of error text in a response
inline constexpr std::size_t request_fixed_size = 7;   // id + method + key length
inline constexpr std::size_t response_fixed_size = 5;  // id + status

// ---- binary -----------------------------------------------------------------

// Appends one whole frame (length header + body). A key over max_key throws
// std::length_error: the caller built a request the server would refuse.
void encode_request(const Request& request, std::string& out);
// An error text over max_error is cut to max_error bytes.
void encode_response(const Response& response, std::string& out);

struct DecodeError {
  Status status = Status::bad_request;  // what to answer: bad_request or unknown_method
  std::optional<std::uint32_t> id;      // nullopt: the body is too short to hold an id
  std::string message;                  // one line
};

// Decodes a request frame body (as LengthHeaderCodec delivers it).
std::optional<DecodeError> decode_request(std::string_view body, Request& out);
// Decodes a response frame body; the error is one line.
std::optional<std::string> decode_response(std::string_view body, Response& out);

// ---- HTTP + JSON --------------------------------------------------------------

std::string json_request_body(const Request& request);
std::string json_response_body(const Response& response);
// `method` is the last segment of the target (/rpc/<method>).
std::optional<DecodeError> parse_json_request(std::string_view method, std::string_view body, Request& out);
std::optional<std::string> parse_json_response(std::string_view body, Response& out);

// ---- the service ----------------------------------------------------------------

class KeyValueStore {
 public:
  // put sets and returns the value; get returns it or not_found; add adds the
  // delta to the value (a missing key counts as 0) and returns the sum, or
  // bad_request when the sum would overflow 64 bits.
  // Calls may come from several threads (the gRPC transport's, beside the
  // event loop): each is made under the store's lock.
  Response call(const Request& request);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t, std::less<>> values_;
};

}  // namespace netlab::rpc
