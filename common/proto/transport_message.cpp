#include "proto/transport_message.hpp"

#include "io/stats.hpp"

#include <algorithm>
#include <stdexcept>

namespace netlab::transport {

namespace {

void put_u16(char* at, std::uint16_t v) {
  at[0] = static_cast<char>(v >> 8);
  at[1] = static_cast<char>(v);
}
void put_u32(char* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(v >> (24 - 8 * i));
}
void put_u64(char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>(v >> (56 - 8 * i));
}
std::uint64_t get(std::string_view bytes, std::size_t offset, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v;
}

bool known_kind(std::uint64_t kind) {
  return kind >= static_cast<std::uint16_t>(Kind::data) && kind <= static_cast<std::uint16_t>(Kind::relay_report);
}

// The header fields once magic and kind are known good (no checksum check).
Header parse_fields(std::string_view bytes) {
  Header h;
  h.kind = static_cast<Kind>(get(bytes, 4, 2));
  h.sequence = get(bytes, 8, 8);
  h.send_time_us = get(bytes, 16, 8);
  h.length = static_cast<std::uint32_t>(get(bytes, 24, 4));
  h.checksum = static_cast<std::uint32_t>(get(bytes, 28, 4));
  return h;
}

// Checks the first header_size bytes: magic, kind, length cap.
std::optional<DecodeError> check_header(std::string_view bytes) {
  if (get(bytes, 0, 4) != magic) return DecodeError::bad_magic;
  if (!known_kind(get(bytes, 4, 2))) return DecodeError::bad_kind;
  if (get(bytes, 24, 4) > max_payload) return DecodeError::oversized;
  return std::nullopt;
}

std::uint32_t checksum_of(std::string_view header_bytes, std::string_view payload) {
  return crc32(payload, crc32(header_bytes.substr(0, 28)));
}

}  // namespace

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::too_short:
      return "shorter than a 32-byte header";
    case DecodeError::bad_magic:
      return "bad magic (not a netlab transport message)";
    case DecodeError::bad_kind:
      return "unknown message kind";
    case DecodeError::oversized:
      return "length over the 65000-byte maximum";
    case DecodeError::length_mismatch:
      return "datagram size differs from header + length";
    case DecodeError::bad_checksum:
      return "checksum mismatch (corrupted)";
  }
  return "?";
}

std::uint32_t encode(Kind kind, std::uint64_t sequence, std::uint64_t send_time_us, std::string_view payload,
                     std::string& out) {
  if (payload.size() > max_payload)
    throw std::length_error("payload of " + std::to_string(payload.size()) + " bytes, maximum is " +
                            std::to_string(max_payload));
  char header[header_size] = {};
  put_u32(header, magic);
  put_u16(header + 4, static_cast<std::uint16_t>(kind));
  put_u64(header + 8, sequence);
  put_u64(header + 16, send_time_us);
  put_u32(header + 24, static_cast<std::uint32_t>(payload.size()));
  const std::uint32_t checksum = checksum_of({header, header_size}, payload);
  put_u32(header + 28, checksum);
  out.append(header, header_size);
  out.append(payload);
  return checksum;
}

Decoded decode_datagram(std::string_view datagram) {
  if (datagram.size() < header_size) return {std::nullopt, DecodeError::too_short};
  if (auto error = check_header(datagram)) return {std::nullopt, error};
  const Header h = parse_fields(datagram);
  if (datagram.size() != header_size + h.length) return {std::nullopt, DecodeError::length_mismatch};
  const auto payload = datagram.substr(header_size);
  if (checksum_of(datagram, payload) != h.checksum) return {std::nullopt, DecodeError::bad_checksum};
  return {Message{h, payload}, std::nullopt};
}

std::optional<Header> peek_header(std::string_view bytes) {
  if (bytes.size() < header_size || check_header(bytes)) return std::nullopt;
  return parse_fields(bytes);
}

std::optional<DecodeError> StreamDecoder::feed(std::string_view chunk, std::vector<Owned>& messages) {
  if (error_) return error_;
  buffer_.append(chunk);
  while (buffer_.size() - consumed_ >= header_size) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    if (auto error = check_header(rest)) {
      error_ = error;  // stop parsing: after a bad header nothing can be trusted
      return error_;
    }
    const Header h = parse_fields(rest);
    if (rest.size() < header_size + h.length) break;
    const auto payload = rest.substr(header_size, h.length);
    if (checksum_of(rest, payload) != h.checksum) {
      error_ = DecodeError::bad_checksum;
      return error_;
    }
    messages.push_back({h, std::string(payload)});
    consumed_ += header_size + h.length;
  }
  // Drop what was decoded once it is most of the buffer, so it does not grow forever.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return std::nullopt;
}

SequenceAccounting::Arrival SequenceAccounting::on_message(std::uint64_t sequence, std::size_t payload_bytes) {
  if (sequence >= max_sequence_) {
    ++corrupted_;
    return Arrival::out_of_range;
  }
  ++received_;
  bytes_ += payload_bytes;
  if (sequence < seen_.size() && seen_[sequence]) {
    ++duplicated_;
    return Arrival::duplicated;
  }
  ++unique_;
  if (sequence < seen_.size()) {  // a gap below the highest number is being filled late
    seen_[sequence] = true;
    ++reordered_;
    return Arrival::reordered;
  }
  seen_.resize(sequence + 1, false);
  seen_[sequence] = true;
  return Arrival::in_order;
}

std::uint64_t SequenceAccounting::lost(std::uint64_t expected) const {
  const auto limit = static_cast<std::size_t>(std::min<std::uint64_t>(expected, seen_.size()));
  const auto arrived =
      static_cast<std::uint64_t>(std::count(seen_.begin(), seen_.begin() + static_cast<long>(limit), true));
  return expected - arrived;
}

}  // namespace netlab::transport
