#pragma once
// Framing codecs: TCP delivers a byte stream, not messages, so the application
// must mark where each message ends. Both codecs are incremental and pure: feed
// any chunk of bytes (one byte, half a frame, ten frames), get zero or more
// complete frames. No sockets here, so they are tested one byte at a time.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

struct FramingError {
  enum class Kind {
    oversized,             // a length header, or bytes without a delimiter, over the maximum
    truncated,             // the stream ended inside a frame
    delimiter_in_payload,  // encode: the payload holds the delimiter itself
  };
  Kind kind;
  std::string message;  // one line, e.g. "length header says 4294967295 bytes, maximum is 1048576"
};

// Receives each decoded frame (decode_each).
using FrameVisitor = std::function<void(std::string_view frame)>;

// Delimiter framing: each frame is the payload followed by one delimiter byte.
// Its weakness: the payload can never contain the delimiter (text protocols
// escape it or forbid it), so encode() refuses such a payload rather than
// silently cutting it in two on the reader's side.
class DelimiterCodec {
 public:
  static constexpr std::size_t default_max_frame = 64 * 1024;

  explicit DelimiterCodec(char delimiter = '\n', std::size_t max_frame = default_max_frame);

  // Appends payload + delimiter to `out`; returns an error (and appends nothing)
  // if the payload contains the delimiter or is longer than the maximum.
  std::optional<FramingError> encode(std::string_view payload, std::string& out) const;

  // Appends every frame completed by `chunk` to `frames` (without the delimiter).
  // After an error the codec stops parsing: later calls return the same error.
  std::optional<FramingError> decode(std::string_view chunk, std::vector<std::string>& frames);
  // The same, handing each frame to `on_frame` as a view into the codec's
  // buffer (valid during the call only): no copy of the frame's bytes.
  std::optional<FramingError> decode_each(std::string_view chunk, const FrameVisitor& on_frame);

  // At end of stream: an error if bytes of an unfinished frame are buffered.
  std::optional<FramingError> finish() const;

  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_frame() const { return max_frame_; }
  char delimiter() const { return delimiter_; }

 private:
  char delimiter_;
  std::size_t max_frame_;
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes of buffer_ already known to hold no delimiter
  std::optional<FramingError> error_;
};

// Length-header framing: a 4-byte big-endian length, then that many bytes.
// Any payload is allowed; a length over the maximum is refused as soon as the
// header is read, before any of the body is buffered.
class LengthHeaderCodec {
 public:
  static constexpr std::size_t header_size = 4;
  static constexpr std::size_t default_max_frame = 1024 * 1024;

  explicit LengthHeaderCodec(std::size_t max_frame = default_max_frame);

  std::optional<FramingError> encode(std::string_view payload, std::string& out) const;
  std::optional<FramingError> decode(std::string_view chunk, std::vector<std::string>& frames);
  std::optional<FramingError> decode_each(std::string_view chunk, const FrameVisitor& on_frame);  // see DelimiterCodec
  std::optional<FramingError> finish() const;

  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_frame() const { return max_frame_; }

  // The 4-byte header for a body of `length` bytes.
  static void put_header(std::uint32_t length, std::string& out);

 private:
  std::size_t max_frame_;
  std::string buffer_;
  std::optional<FramingError> error_;
};

// The framing lab's choice of codec (--codec): none, delimiter or length header.
enum class CodecKind { raw, delimiter, length };

std::string_view codec_name(CodecKind codec);

// "raw" -> CodecKind::raw ...: the values --codec accepts.
const std::map<std::string, CodecKind>& codec_kinds();

}  // namespace netlab
