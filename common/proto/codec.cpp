#include "proto/codec.hpp"

#include <algorithm>

namespace netlab {

namespace {

FramingError oversized(std::string what, std::size_t size, std::size_t max) {
  return {FramingError::Kind::oversized,
          what + " " + std::to_string(size) + " bytes, maximum is " + std::to_string(max)};
}

}  // namespace

// ---- DelimiterCodec -------------------------------------------------------

DelimiterCodec::DelimiterCodec(char delimiter, std::size_t max_frame) : delimiter_(delimiter), max_frame_(max_frame) {}

std::optional<FramingError> DelimiterCodec::encode(std::string_view payload, std::string& out) const {
  if (payload.find(delimiter_) != std::string_view::npos)
    return FramingError{FramingError::Kind::delimiter_in_payload,
                        "payload contains the delimiter byte; the reader would cut it in two "
                        "(use length-header framing for arbitrary bytes)"};
  if (payload.size() > max_frame_) return oversized("payload of", payload.size(), max_frame_);
  out.append(payload);
  out.push_back(delimiter_);
  return std::nullopt;
}

std::optional<FramingError> DelimiterCodec::decode(std::string_view chunk, std::vector<std::string>& frames) {
  return decode_each(chunk, [&](std::string_view frame) { frames.emplace_back(frame); });
}

std::optional<FramingError> DelimiterCodec::decode_each(std::string_view chunk, const FrameVisitor& on_frame) {
  if (error_) return error_;
  buffer_.append(chunk);
  std::size_t start = 0;
  // Only the bytes not yet scanned can hold a new delimiter: each byte is looked at once.
  std::size_t from = scanned_;
  for (;;) {
    const std::size_t end = buffer_.find(delimiter_, from);
    if (end == std::string::npos) break;
    if (end - start > max_frame_) {
      error_ = oversized("frame of", end - start, max_frame_);
      return error_;
    }
    on_frame(std::string_view(buffer_).substr(start, end - start));
    start = end + 1;
    from = start;
  }
  buffer_.erase(0, start);
  scanned_ = buffer_.size();
  // A frame still without its delimiter past the maximum can never become valid:
  // refuse it now instead of buffering an attacker's endless line.
  if (buffer_.size() > max_frame_) {
    error_ =
        FramingError{FramingError::Kind::oversized, "no delimiter within " + std::to_string(max_frame_) + " bytes"};
    return error_;
  }
  return std::nullopt;
}

std::optional<FramingError> DelimiterCodec::finish() const {
  if (error_) return error_;
  if (!buffer_.empty())
    return FramingError{
        FramingError::Kind::truncated,
        "stream ended inside a frame: " + std::to_string(buffer_.size()) + " bytes without a delimiter"};
  return std::nullopt;
}

// ---- LengthHeaderCodec ----------------------------------------------------

LengthHeaderCodec::LengthHeaderCodec(std::size_t max_frame) : max_frame_(max_frame) {}

void LengthHeaderCodec::put_header(std::uint32_t length, std::string& out) {
  out.push_back(static_cast<char>((length >> 24) & 0xff));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
}

std::optional<FramingError> LengthHeaderCodec::encode(std::string_view payload, std::string& out) const {
  if (payload.size() > max_frame_) return oversized("payload of", payload.size(), max_frame_);
  put_header(static_cast<std::uint32_t>(payload.size()), out);
  out.append(payload);
  return std::nullopt;
}

namespace {

std::uint32_t get_header(std::string_view bytes) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

}  // namespace

std::optional<FramingError> LengthHeaderCodec::decode(std::string_view chunk, std::vector<std::string>& frames) {
  return decode_each(chunk, [&](std::string_view frame) { frames.emplace_back(frame); });
}

// Frames lying whole in `chunk` are handed over from it; only a frame cut by
// the chunk's end is copied (into buffer_) and completed from the next chunks,
// taking from them just the bytes it lacks. buffer_ never holds more than one
// frame, and never more than header + max_frame bytes.
std::optional<FramingError> LengthHeaderCodec::decode_each(std::string_view chunk, const FrameVisitor& on_frame) {
  if (error_) return error_;
  const auto take = [&](std::size_t wanted) {
    const std::size_t n = std::min(wanted, chunk.size());
    buffer_.append(chunk.substr(0, n));
    chunk.remove_prefix(n);
    return n == wanted;
  };
  const auto refuse = [&](std::uint32_t length) {
    // Refuse before buffering the body: a hostile header must not make us
    // allocate 4 GiB. Stop parsing; the caller closes the connection.
    error_ = oversized("length header says", length, max_frame_);
    return error_;
  };
  if (!buffer_.empty()) {
    if (buffer_.size() < header_size && !take(header_size - buffer_.size())) return std::nullopt;
    const std::uint32_t length = get_header(buffer_);
    if (length > max_frame_) return refuse(length);
    if (!take(header_size + length - buffer_.size())) return std::nullopt;
    on_frame(std::string_view(buffer_).substr(header_size));
    buffer_.clear();
  }
  while (chunk.size() >= header_size) {
    const std::uint32_t length = get_header(chunk);
    if (length > max_frame_) return refuse(length);
    if (chunk.size() - header_size < length) break;
    on_frame(chunk.substr(header_size, length));
    chunk.remove_prefix(header_size + length);
  }
  buffer_.append(chunk);
  return std::nullopt;
}

std::optional<FramingError> LengthHeaderCodec::finish() const {
  if (error_) return error_;
  const std::size_t left = buffer_.size();
  if (left == 0) return std::nullopt;
  if (left < header_size)
    return FramingError{FramingError::Kind::truncated,
                        "stream ended inside a length header (" + std::to_string(left) + " of 4 bytes)"};
  const std::uint32_t length = get_header(buffer_);
  return FramingError{FramingError::Kind::truncated,
                      "stream ended inside a frame: " + std::to_string(left - header_size) + " of " +
                          std::to_string(length) + " body bytes"};
}

// ---- the lab's codec choice -------------------------------------------------

std::string_view codec_name(CodecKind codec) {
  switch (codec) {
    case CodecKind::raw:
      return "raw";
    case CodecKind::delimiter:
      return "delimiter";
    case CodecKind::length:
      return "length";
  }
  return "?";
}

const std::map<std::string, CodecKind>& codec_kinds() {
  static const std::map<std::string, CodecKind> kinds{
      {"raw", CodecKind::raw}, {"delimiter", CodecKind::delimiter}, {"length", CodecKind::length}};
  return kinds;
}

}  // namespace netlab
