#include "proto/rpc_protocol.hpp"

#include "proto/codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <stdexcept>

namespace netlab::rpc {

std::string_view method_name(Method method) {
  switch (method) {
    case Method::put:
      return "put";
    case Method::get:
      return "get";
    case Method::add:
      return "add";
  }
  return "?";
}

std::optional<Method> method_from_name(std::string_view name) {
  if (name == "put") return Method::put;
  if (name == "get") return Method::get;
  if (name == "add") return Method::add;
  return std::nullopt;
}

std::string_view status_name(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::not_found:
      return "not_found";
    case Status::bad_request:
      return "bad_request";
    case Status::unknown_method:
      return "unknown_method";
  }
  return "?";
}

std::optional<Status> status_from_name(std::string_view name) {
  for (auto status : {Status::ok, Status::not_found, Status::bad_request, Status::unknown_method})
    if (status_name(status) == name) return status;
  return std::nullopt;
}

unsigned http_status(Status status) {
  switch (status) {
    case Status::ok:
      return 200;
    case Status::not_found:
      return 404;
    case Status::bad_request:
      return 400;
    case Status::unknown_method:
      return 404;
  }
  return 500;
}

namespace {

bool has_value(Method method) { return method != Method::get; }

void put_u16(std::uint16_t v, std::string& out) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_u32(std::uint32_t v, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_i64(std::int64_t v, std::string& out) {
  const auto u = static_cast<std::uint64_t>(v);  // two's complement, well defined
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((u >> shift) & 0xff));
}

std::uint64_t get_unsigned(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

std::int64_t get_i64(std::string_view bytes, std::size_t at) {
  return static_cast<std::int64_t>(get_unsigned(bytes, at, 8));
}

// Body first, then the header in front of it: the length is only known once the body is built.
void append_frame(const std::string& body, std::string& out) {
  LengthHeaderCodec::put_header(static_cast<std::uint32_t>(body.size()), out);
  out += body;
}

// The bytes of one well-formed UTF-8 character at the front of `text`, or 0
// (Unicode table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_character(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  const std::size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                             : lead >= 0xE0 && lead <= 0xEF ? 3
                             : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                            : 0;
  if (length == 0 || text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i)
    if ((byte(i) & 0xC0) != 0x80) return 0;
  const unsigned char second = byte(1);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) || (lead == 0xF0 && second < 0x90) ||
      (lead == 0xF4 && second > 0x8F))
    return 0;
  return length;
}

// JSON text is UTF-8 (RFC 8259 §8.1), and the client's parser refuses
// anything else. An error text can quote what the peer sent (a method name
// from the target, a binary key) or be cut inside a character: every byte
// that is not part of a whole UTF-8 character becomes '?', and the text ends
// at `max` bytes on a character boundary.
std::string json_safe_text(std::string_view text, std::size_t max) {
  std::string out;
  while (!text.empty()) {
    const std::size_t length = utf8_character(text);
    if (out.size() + std::max<std::size_t>(length, 1) > max) break;
    if (length == 0)
      out.push_back('?');
    else
      out.append(text.substr(0, length));
    text.remove_prefix(std::max<std::size_t>(length, 1));
  }
  return out;
}

}  // namespace

void encode_request(const Request& request, std::string& out) {
  if (request.key.size() > max_key)
    throw std::length_error("rpc key of " + std::to_string(request.key.size()) + " bytes, maximum is " +
                            std::to_string(max_key));
  std::string body;
  put_u32(request.id, body);
  body.push_back(static_cast<char>(request.method));
  put_u16(static_cast<std::uint16_t>(request.key.size()), body);
  body += request.key;
  if (has_value(request.method)) put_i64(request.value, body);
  append_frame(body, out);
}

void encode_response(const Response& response, std::string& out) {
  std::string body;
  put_u32(response.id, body);
  body.push_back(static_cast<char>(response.status));
  if (response.status == Status::ok)
    put_i64(response.value, body);
  else
    body.append(response.error, 0, std::min(response.error.size(), max_error));
  append_frame(body, out);
}

std::optional<DecodeError> decode_request(std::string_view body, Request& out) {
  if (body.size() < 4)
    return DecodeError{Status::bad_request, std::nullopt,
                       "request of " + std::to_string(body.size()) + " bytes has no room for an id"};
  const auto id = static_cast<std::uint32_t>(get_unsigned(body, 0, 4));
  const auto fail = [&](Status status, std::string message) { return DecodeError{status, id, std::move(message)}; };
  if (body.size() < request_fixed_size)
    return fail(Status::bad_request, "request " + std::to_string(id) + ": " + std::to_string(body.size()) +
                                         " bytes, the fixed part alone is " + std::to_string(request_fixed_size));
  const auto method_id = static_cast<unsigned char>(body[4]);
  if (method_id < 1 || method_id > 3)
    return fail(Status::unknown_method, "unknown method id " + std::to_string(method_id));
  const auto method = static_cast<Method>(method_id);
  const auto key_size = static_cast<std::size_t>(get_unsigned(body, 5, 2));
  if (key_size > max_key)
    return fail(Status::bad_request,
                "key of " + std::to_string(key_size) + " bytes, maximum is " + std::to_string(max_key));
  const std::size_t expected = request_fixed_size + key_size + (has_value(method) ? 8 : 0);
  if (body.size() != expected)
    return fail(Status::bad_request, "request " + std::to_string(id) + " (" + std::string(method_name(method)) +
                                         ") is " + std::to_string(body.size()) + " bytes, its fields need " +
                                         std::to_string(expected));
  out.id = id;
  out.method = method;
  out.key.assign(body.substr(request_fixed_size, key_size));
  out.value = has_value(method) ? get_i64(body, request_fixed_size + key_size) : 0;
  return std::nullopt;
}

std::optional<std::string> decode_response(std::string_view body, Response& out) {
  if (body.size() < response_fixed_size)
    return "response of " + std::to_string(body.size()) + " bytes, the fixed part alone is " +
           std::to_string(response_fixed_size);
  const auto status_id = static_cast<unsigned char>(body[4]);
  if (status_id > 3) return "unknown status " + std::to_string(status_id);
  out.id = static_cast<std::uint32_t>(get_unsigned(body, 0, 4));
  out.status = static_cast<Status>(status_id);
  out.value = 0;
  out.error.clear();
  if (out.status == Status::ok) {
    if (body.size() != response_fixed_size + 8)
      return "ok response of " + std::to_string(body.size()) + " bytes, expected " +
             std::to_string(response_fixed_size + 8);
    out.value = get_i64(body, response_fixed_size);
  } else {
    if (body.size() > response_fixed_size + max_error) return "error text over " + std::to_string(max_error) + " bytes";
    out.error.assign(body.substr(response_fixed_size));
  }
  return std::nullopt;
}

// ---- HTTP + JSON --------------------------------------------------------------

std::string json_request_body(const Request& request) {
  boost::json::object body{{"key", request.key}};
  if (has_value(request.method)) body["value"] = request.value;
  return boost::json::serialize(body);
}

std::string json_response_body(const Response& response) {
  boost::json::object body{{"status", status_name(response.status)}};
  if (response.status == Status::ok)
    body["value"] = response.value;
  else
    body["error"] = json_safe_text(response.error, max_error);
  return boost::json::serialize(body);
}

std::optional<DecodeError> parse_json_request(std::string_view method, std::string_view body, Request& out) {
  const auto fail = [](Status status, std::string message) {
    return DecodeError{status, std::nullopt, std::move(message)};
  };
  const auto known = method_from_name(method);
  if (!known) return fail(Status::unknown_method, "unknown method \"" + std::string(method.substr(0, 64)) + "\"");
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  if (ec) return fail(Status::bad_request, "invalid JSON: " + ec.message());
  const auto* object = value.if_object();
  if (!object) return fail(Status::bad_request, "the body must be a JSON object");
  const auto* key = object->if_contains("key");
  if (!key || !key->is_string()) return fail(Status::bad_request, "\"key\" must be a string");
  if (key->as_string().size() > max_key)
    return fail(Status::bad_request,
                "key of " + std::to_string(key->as_string().size()) + " bytes, maximum is " + std::to_string(max_key));
  std::int64_t number = 0;
  if (has_value(*known)) {
    const auto* v = object->if_contains("value");
    if (!v || !v->is_int64()) return fail(Status::bad_request, "\"value\" must be a 64-bit integer");
    number = v->as_int64();
  }
  out.method = *known;
  out.key.assign(key->as_string().data(), key->as_string().size());
  out.value = number;
  return std::nullopt;
}

std::optional<std::string> parse_json_response(std::string_view body, Response& out) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  if (ec) return "invalid JSON: " + ec.message();
  const auto* object = value.if_object();
  const auto* status = object ? object->if_contains("status") : nullptr;
  if (!status || !status->is_string()) return std::string("no \"status\" string");
  const auto known = status_from_name(std::string_view(status->as_string().data(), status->as_string().size()));
  if (!known) return "unknown status \"" + std::string(status->as_string().c_str()) + "\"";
  out.status = *known;
  out.value = 0;
  out.error.clear();
  if (*known == Status::ok) {
    const auto* v = object->if_contains("value");
    if (!v || !v->is_int64()) return std::string("ok without an integer \"value\"");
    out.value = v->as_int64();
  } else if (const auto* e = object->if_contains("error"); e && e->is_string()) {
    out.error.assign(e->as_string().data(), e->as_string().size());
  }
  return std::nullopt;
}

// ---- the service ----------------------------------------------------------------

std::size_t KeyValueStore::size() const {
  const std::lock_guard lock(mutex_);
  return values_.size();
}

Response KeyValueStore::call(const Request& request) {
  const std::lock_guard lock(mutex_);
  Response response{request.id, Status::ok, 0, {}};
  switch (request.method) {
    case Method::put:
      values_[request.key] = request.value;
      response.value = request.value;
      break;
    case Method::get:
      if (auto it = values_.find(request.key); it != values_.end()) {
        response.value = it->second;
      } else {
        response.status = Status::not_found;
        response.error = "no such key: " + request.key.substr(0, 64);
      }
      break;
    case Method::add: {
      std::int64_t& slot = values_[request.key];
      std::int64_t sum = 0;
      if (__builtin_add_overflow(slot, request.value, &sum)) {
        response.status = Status::bad_request;
        response.error = "add would overflow 64 bits";
      } else {
        slot = sum;
        response.value = sum;
      }
      break;
    }
    default:
      response.status = Status::unknown_method;
      response.error = "unknown method id " + std::to_string(static_cast<unsigned>(request.method));
  }
  return response;
}

}  // namespace netlab::rpc
