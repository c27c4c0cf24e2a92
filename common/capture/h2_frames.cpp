#include "capture/h2_frames.hpp"

#include <algorithm>

namespace netlab::h2 {

namespace {

std::uint32_t read_u24(std::string_view b) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[0])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[2]));
}

}  // namespace

FrameCount count_frames(std::string_view bytes, bool client_side) {
  FrameCount count;
  count.bytes = bytes.size();
  std::size_t at = 0;
  if (client_side) {
    if (!bytes.starts_with(client_preface)) {
      count.flaw = "the first bytes are not the HTTP/2 connection preface (RFC 9113 §3.4)";
      return count;
    }
    count.preface = true;
    at = client_preface.size();
  }
  while (at < bytes.size()) {
    if (bytes.size() - at < frame_header_size) {
      count.flaw = "the bytes end inside a frame header, at offset " + std::to_string(at);
      count.ends_inside_frame = true;
      return count;
    }
    const std::size_t length = read_u24(bytes.substr(at, 3));
    const auto type = static_cast<unsigned char>(bytes[at + 3]);
    if (bytes.size() - at - frame_header_size < length) {
      count.flaw = "a frame of " + std::to_string(length) + " bytes at offset " + std::to_string(at) +
                   " runs past the end of the bytes";
      count.ends_inside_frame = true;
      return count;
    }
    ++count.frames;
    if (type < known_frame_types) ++count.by_type[type];
    if (type == static_cast<unsigned char>(FrameType::headers) ||
        type == static_cast<unsigned char>(FrameType::continuation))
      count.header_block_bytes += length;
    if (type == static_cast<unsigned char>(FrameType::data)) count.data_bytes += length;
    at += frame_header_size + length;
  }
  return count;
}

TcpStreams reassemble(const Flow& flow) {
  struct Piece {
    std::uint32_t offset;  // from the direction's first sequence number
    const std::string* payload;
  };
  TcpStreams out;
  for (const bool client : {true, false}) {
    std::vector<Piece> pieces;
    bool have_base = false;
    std::uint32_t base = 0;
    for (const auto& p : flow.packets) {
      if (!p.is_tcp || flow.from_client(p) != client) continue;
      // The SYN takes one sequence number: the data starts one after it.
      if (p.flags & tcp_flag::syn) {
        base = p.seq + 1;
        have_base = true;
        (client ? out.client_syn : out.server_syn) = true;
        continue;
      }
      if (p.payload.empty()) continue;
      if (!have_base) {
        base = p.seq;  // the capture began mid-connection: count from its first segment
        have_base = true;
      }
      pieces.push_back({p.seq - base, &p.payload});
    }
    std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.offset < b.offset; });
    std::string& stream = client ? out.from_client : out.from_server;
    for (const auto& piece : pieces) {
      const std::size_t end = piece.offset + piece.payload->size();
      if (end <= stream.size()) continue;  // a copy of bytes already in the stream
      if (piece.offset > stream.size()) {
        (client ? out.client_cut : out.server_cut) = true;
        if (out.gap.empty())
          out.gap = std::string(client ? "client" : "server") + " bytes " + std::to_string(stream.size()) + ".." +
                    std::to_string(piece.offset) + " were not captured";
        break;
      }
      stream.append(*piece.payload, stream.size() - piece.offset);
    }
  }
  return out;
}

}  // namespace netlab::h2
