#pragma once
// HTTP/2 frames written by hand, for the tests and the fuzz seeds that talk to
// netlab-http-server's h2c without nghttp2 on their side (RFC 9113 §3.4, §4.1;
// header blocks per RFC 7541). Header-only.
#include <cstdint>
#include <string>
#include <string_view>

namespace netlab::test::h2 {

inline constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
enum : std::uint8_t { DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8 };
enum : std::uint8_t { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4 };

// One frame (RFC 9113 §4.1): 24-bit length, type, flags, 31-bit stream id, payload.
inline std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::string_view payload) {
  std::string out;
  for (const int shift : {16, 8, 0}) out += static_cast<char>((payload.size() >> shift) & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (const int shift : {24, 16, 8, 0}) out += static_cast<char>((stream >> shift) & 0xff);
  return out + std::string(payload);
}

// GET / as an HPACK block (RFC 7541): :method GET (static 2), :scheme http (6), :path / (4),
// :authority (name 1) as a literal without indexing.
inline std::string get_root() { return std::string("\x82\x86\x84\x01\x09", 5) + "127.0.0.1"; }

}  // namespace netlab::test::h2
