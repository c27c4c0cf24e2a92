#pragma once
// The transport lab's numbered message, and the receiver's accounting of a
// numbered stream: what was lost, reordered, duplicated or corrupted.
//
// One message = a fixed 32-byte header + payload, the same bytes over TCP and
// UDP, so the two protocols carry exactly the same stream:
//
//   offset  size  field
//        0     4  magic "NLT1"
//        4     2  kind (data, done, report, relay_query, relay_report)
//        6     2  reserved, zero
//        8     8  sequence number (data: 0, 1, 2, ...; done: the count sent)
//       16     8  send time, microseconds (the sender's steady clock)
//       24     4  payload length
//       28     4  CRC-32 of bytes 0..27 and the payload
//
// All fields big-endian, written with byte shifts (no pointer casts). Pure:
// no sockets here, so everything is unit-tested on hand-made bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::transport {

inline constexpr std::uint32_t magic = 0x4E4C5431;  // "NLT1"
inline constexpr std::size_t header_size = 32;
// A UDP datagram over IPv4 carries at most 65507 bytes; the cap keeps every
// message (header included) inside one datagram.
inline constexpr std::size_t max_payload = 65'000;

enum class Kind : std::uint16_t {
  data = 1,          // a numbered message of the stream
  done = 2,          // end of the stream: sequence = messages sent; payload = attempt number
  report = 3,        // the receiver's accounting (JSON payload)
  relay_query = 4,   // to netlab-relay: "what did you do?"
  relay_report = 5,  // netlab-relay's counts (JSON payload)
};

struct Header {
  Kind kind = Kind::data;
  std::uint64_t sequence = 0;
  std::uint64_t send_time_us = 0;
  std::uint32_t length = 0;    // payload bytes
  std::uint32_t checksum = 0;  // filled by encode
};

struct Message {
  Header header;
  std::string_view payload;  // points into the bytes given to decode
};

enum class DecodeError {
  too_short,  // fewer bytes than a header (UDP: a truncated datagram)
  bad_magic,  // not a netlab transport message at all
  bad_kind,
  oversized,        // length over max_payload
  length_mismatch,  // UDP: the datagram is not exactly header + length bytes
  bad_checksum,     // the bytes changed on the way (or were never ours)
};

std::string_view to_string(DecodeError error);

// Appends header + payload to `out` and returns the checksum it wrote.
// Throws std::length_error when the payload is over max_payload.
std::uint32_t encode(Kind kind, std::uint64_t sequence, std::uint64_t send_time_us, std::string_view payload,
                     std::string& out);

// One whole datagram: exactly one message or an error.
struct Decoded {
  std::optional<Message> message;
  std::optional<DecodeError> error;
};
Decoded decode_datagram(std::string_view datagram);

// Reads just the kind and sequence when the header's magic is right (no
// checksum check): the relay peeks at sequence numbers this way.
std::optional<Header> peek_header(std::string_view bytes);

// The same messages over a byte stream (TCP): feed any chunk, get the
// complete messages. After an error (bad magic, oversized length, bad
// checksum) it stops parsing: nothing later in the stream can be trusted.
class StreamDecoder {
 public:
  // Appends each message completed by `chunk` to `messages` (header and a copy
  // of the payload). Returns the error that stopped parsing, if any.
  struct Owned {
    Header header;
    std::string payload;
  };
  std::optional<DecodeError> feed(std::string_view chunk, std::vector<Owned>& messages);
  // At end of stream: bytes of an unfinished message are left (half a header, say).
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::optional<DecodeError> error_;
};

// The receiver's accounting of one sender's numbered stream.
//   duplicated: a number that had already arrived
//   reordered:  a first arrival of a number lower than one already seen
//   lost:       numbers below the expected count that never arrived
// Numbers at or above max_sequence are refused (counted as corrupted): a
// forged number cannot make the receiver allocate without bound.
class SequenceAccounting {
 public:
  static constexpr std::uint64_t default_max_sequence = 10'000'000;
  SequenceAccounting() = default;
  explicit SequenceAccounting(std::uint64_t max_sequence) : max_sequence_(max_sequence) {}

  enum class Arrival { in_order, reordered, duplicated, out_of_range };
  Arrival on_message(std::uint64_t sequence, std::size_t payload_bytes);
  void on_corrupted() { ++corrupted_; }

  std::uint64_t received() const { return received_; }  // every valid arrival, duplicates included
  std::uint64_t unique() const { return unique_; }
  std::uint64_t reordered() const { return reordered_; }
  std::uint64_t duplicated() const { return duplicated_; }
  std::uint64_t corrupted() const { return corrupted_; }
  std::uint64_t bytes() const { return bytes_; }
  // Highest number seen + 1 (0 when none).
  std::uint64_t extent() const { return seen_.size(); }
  // Numbers below `expected` that never arrived.
  std::uint64_t lost(std::uint64_t expected) const;

 private:
  std::uint64_t max_sequence_ = default_max_sequence;
  std::vector<bool> seen_;
  std::uint64_t received_ = 0, unique_ = 0, reordered_ = 0, duplicated_ = 0, corrupted_ = 0, bytes_ = 0;
};

}  // namespace netlab::transport
