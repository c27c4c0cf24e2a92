#pragma once
// What the 粘包 lab's client is made of (docs/labs/framing.md): the raw stream
// set against the server's reads (raw.cpp), framed messages echoed or tallied
// by the server (framed.cpp), and the note's claims against the numbers
// (checks.cpp).
#include "io/net.hpp"
#include "observed.hpp"
#include "program/result.hpp"
#include "proto/codec.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netlab::framing {

struct Config {
  CodecKind codec = CodecKind::length;
  std::size_t messages = 1000;
  std::size_t min_size = 1;
  std::size_t max_size = 512;
  bool nodelay = false;
  bool one_way = false;
  std::size_t write_write_read = 0;  // requests per variant of the Nagle step (0: not run)
  std::string loopback_result;       // --write-write-read across a wire: the loopback run's result, set beside it
  std::uint64_t seed = 1;
};

// What the run has done so far: reported if the deadline cuts it short.
struct Progress {
  std::size_t sent = 0;
  std::size_t received = 0;
};

// --codec raw: our writes against the server's reads of the same bytes.
struct RawObserved {
  std::size_t writes = 0, reads = 0, bytes_sent = 0, bytes_read_by_server = 0;
  bool stream_intact = false;
  std::size_t merged_reads = 0, split_writes = 0, exact_reads = 0, max_writes_in_one_read = 0;
  boost::json::value server_read_size{};         // as the server's read log gives it
  std::optional<std::uint32_t> segments_sent{};  // TCP_INFO of the sender, when readable
  std::optional<std::string> tcp_info{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RawObserved& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(RawObserved, (),
                      (writes, reads, bytes_sent, bytes_read_by_server, stream_intact, merged_reads, split_writes,
                       exact_reads, max_writes_in_one_read, server_read_size, segments_sent, tcp_info))

// --codec delimiter|length: every echo checked against what was sent.
struct EchoObserved {
  std::size_t messages_sent = 0, messages_received = 0, intact = 0, mismatches = 0, missing = 0;
  std::size_t bytes_sent = 0, bytes_received = 0, reads = 0;
  double seconds = 0, messages_per_s = 0;
  std::optional<std::string> tcp_info{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const EchoObserved& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(EchoObserved, (),
                      (messages_sent, messages_received, intact, mismatches, missing, bytes_sent, bytes_received, reads,
                       seconds, messages_per_s, tcp_info))

// --one-way: the server's tally of the frames against ours.
struct OneWayObserved {
  bool one_way = true;
  std::size_t messages_sent = 0, frames_counted_by_server = 0, payload_bytes = 0;
  std::uint64_t payload_bytes_counted_by_server = 0;
  std::uint32_t frames_crc32c = 0;
  std::uint64_t server_frames_crc32c = 0;
  std::size_t bytes_sent = 0;
  double seconds = 0, messages_per_s = 0, payload_bytes_per_s = 0;
  std::optional<std::string> tcp_info{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const OneWayObserved& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(OneWayObserved, (),
                      (one_way, messages_sent, frames_counted_by_server, payload_bytes, payload_bytes_counted_by_server,
                       frames_crc32c, server_frames_crc32c, bytes_sent, seconds, messages_per_s, payload_bytes_per_s,
                       tcp_info))

// --write-write-read: one way of sending a request (a header write and a body
// write, then wait for the echo), timed over its own connection.
struct StallVariant {
  std::string name;          // nagle | nodelay | writev | cork
  std::string how;           // what the sender did, in words
  std::size_t requests = 0;  // answered intact
  double median_ms = 0, max_ms = 0;
  std::optional<std::int64_t> delayed_acks{};  // TcpExt DelayedACKs over the variant (peer in this namespace)
  double min_rtt_ms = 0;                       // TCP_INFO tcpi_min_rtt at the end: the path's round trip

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StallVariant& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(StallVariant, (), (name, how, requests, median_ms, max_ms, delayed_acks, min_rtt_ms))

struct StallObserved {
  std::size_t requests_per_variant = 0, body_bytes = 0;
  bool peer_in_this_namespace = true;    // the server's DelayedACKs are ours to read (loopback)
  std::vector<StallVariant> variants{};  // nagle first, then the three ways out
  // Nagle's median less the slowest way out's, less one round trip: how long
  // the server held the header's ACK back (the stall beyond the round trip
  // Nagle waits anyway), and which timer that makes the decider.
  double ack_held_ms = 0;
  std::string decided_by{};
  std::optional<std::vector<StallVariant>> loopback{};  // --loopback-result: the same four ways on loopback

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StallObserved& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(StallObserved, (),
                      (requests_per_variant, body_bytes, peer_in_this_namespace, variants, ack_held_ms, decided_by,
                       loopback))

// What the run observed: the one its codec measured (the summary reads it).
struct Observed {
  std::optional<RawObserved> raw{};
  std::optional<EchoObserved> echo{};
  std::optional<OneWayObserved> one_way{};
  std::optional<StallObserved> stall{};
};

// ---- raw.cpp
boost::asio::awaitable<void> run_raw(tcp::socket& socket, const Config& config, Progress& progress,
                                     RawObserved& observed);
// The server's one reply (its read log, or its one-way tally) up to its FIN.
boost::asio::awaitable<std::string> read_to_end(tcp::socket& socket, std::string_view what, std::size_t limit,
                                                std::string_view over_limit);
// The reply as one length-framed JSON object.
boost::json::object parse_report(const std::string& reply, std::string_view wrong_mode);

// ---- framed.cpp
// --codec delimiter|length: echoed (EchoObserved) or, with --one-way, tallied by the server.
boost::asio::awaitable<void> run_framed(tcp::socket& socket, const Config& config, Progress& progress,
                                        Observed& observed);

// ---- stall.cpp
// --write-write-read: Nagle's algorithm meets the receiver's delayed ACK.
boost::asio::awaitable<void> run_stall(const std::string& host, std::uint16_t port, const Config& config,
                                       Progress& progress, StallObserved& observed);
// The variants of an earlier --write-write-read result (its JSON file).
std::vector<StallVariant> read_stall_variants(const std::string& path);

// ---- checks.cpp
void raw_checks(const RawObserved& o, Result& result);
void echo_checks(const Config& config, const EchoObserved& o, Result& result);
void one_way_checks(const Config& config, const OneWayObserved& o, Result& result);
void stall_checks(const StallObserved& o, Result& result);

}  // namespace netlab::framing
