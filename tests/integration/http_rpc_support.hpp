#pragma once
// Test support shared by the http and rpc integration tests: loopback
// connections without Nagle, and a minimal HTTP/1.1 response reader written
// without Beast, so the tests check the servers' bytes independently of the
// library that wrote them.
#include "loopback.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <string_view>

namespace netlab::test {

// Requests leave at once (TCP_NODELAY): a test that sends one byte at a time means it.
inline constexpr SocketOptions no_delay{.no_delay = true};

inline std::string lower(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

struct HttpResponse {
  std::string status_line;
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Parses the head (status line + headers); the body is whatever follows.
inline HttpResponse parse_head(const std::string& text) {
  HttpResponse res;
  const auto end = text.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string_view head(text.data(), end);
  const auto first = head.find("\r\n");
  res.status_line = std::string(head.substr(0, first));
  REQUIRE(res.status_line.rfind("HTTP/1.1 ", 0) == 0);
  res.status = static_cast<unsigned>(std::stoul(res.status_line.substr(9, 3)));
  std::size_t at = first == std::string_view::npos ? head.size() : first + 2;
  while (at < head.size()) {
    auto next = head.find("\r\n", at);
    if (next == std::string_view::npos) next = head.size();
    const auto line = head.substr(at, next - at);
    const auto colon = line.find(':');
    REQUIRE(colon != std::string_view::npos);
    std::string value(line.substr(colon + 1));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    res.headers[lower(std::string(line.substr(0, colon)))] = value;
    at = next + 2;
  }
  res.body = text.substr(end + 4);
  return res;
}

// One response read off a keep-alive connection: the head, then Content-Length bytes.
inline HttpResponse read_response(Connection& connection) {
  auto res = parse_head(connection.receive_until("\r\n\r\n"));
  const std::size_t length = res.has("content-length") ? std::stoul(res.header("content-length")) : 0;
  res.body = connection.receive(length);
  return res;
}

}  // namespace netlab::test
