#pragma once
// HTTP/2 as it appears in a capture: a connection's bytes in one direction,
// read as the client's connection preface (RFC 9113 §3.4) followed by frames
// (§4.1: a 9-byte header — 24-bit length, 8-bit type, 8-bit flags, 31-bit
// stream id — then the payload). Pure: no sockets, no nghttp2, every read bounded.
// The rpc lab asks it whether gRPC's bytes really are HTTP/2 (grpc-is-http2).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "capture/pcap.hpp"

namespace netlab::h2 {

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": the first 24 bytes a client sends (RFC 9113 §3.4).
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
inline constexpr std::size_t frame_header_size = 9;

// Frame types of RFC 9113 §6 (0x0 DATA ... 0x9 CONTINUATION).
enum class FrameType : std::uint8_t {
  data = 0,
  headers = 1,
  priority = 2,
  rst_stream = 3,
  settings = 4,
  push_promise = 5,
  ping = 6,
  goaway = 7,
  window_update = 8,
  continuation = 9,
};
inline constexpr std::size_t known_frame_types = 10;

// What one direction of a connection holds.
struct FrameCount {
  bool preface = false;                                  // the bytes start with client_preface
  std::size_t frames = 0;                                // every frame read, of any type
  std::array<std::size_t, known_frame_types> by_type{};  // frames of each type of §6
  std::size_t header_block_bytes = 0;                    // HEADERS + CONTINUATION payloads: the HPACK blocks (RFC 7541)
  std::size_t data_bytes = 0;                            // DATA payloads: for gRPC, 5-byte prefixes + protobuf messages
  std::size_t bytes = 0;                                 // everything read, preface and frame headers included
  std::string flaw;                // empty when every byte parsed; else the first thing that did not
  bool ends_inside_frame = false;  // the flaw is only that the bytes stop inside a frame
  std::size_t of(FrameType type) const { return by_type[static_cast<std::size_t>(type)]; }
};

// Reads `bytes` as HTTP/2 frames, after the preface when `client_side`. The
// largest frame accepted is 2^24 - 1 bytes (the length field's limit, §4.2);
// bytes that end inside a frame are a flaw ("ends inside a frame").
FrameCount count_frames(std::string_view bytes, bool client_side);

// One TCP connection's payload, each direction in sequence order, each byte
// once (retransmitted copies dropped). A direction is `cut` where the capture
// missed bytes: what follows the hole is not in the stream (`gap` says where,
// for the first hole). `*_syn`: the capture holds that side's SYN, so its
// stream starts at the connection's first byte.
struct TcpStreams {
  std::string from_client, from_server;
  bool client_syn = false, server_syn = false;
  bool client_cut = false, server_cut = false;
  std::string gap;
};
TcpStreams reassemble(const Flow& flow);

}  // namespace netlab::h2
