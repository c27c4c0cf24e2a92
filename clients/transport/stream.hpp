#pragma once
// The transport client's conversation with netlab-transport-server, shared by
// its scenarios (the numbered stream, the congestion experiment): pacing,
// writes that count how often the kernel said "wait", the UDP "done"
// exchange, and reading the server's report.
#include "io/net.hpp"
#include "program/client.hpp"
#include "proto/transport_message.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string_view>

namespace netlab::transport {

inline constexpr std::string_view server_program = "netlab-transport-server";

std::uint64_t now_us();
double seconds_since(Clock::time_point t);

// Message i leaves no earlier than i/rate seconds after `start` (rate <= 0:
// at once), less one millisecond. A timer wake-up costs tens of microseconds
// — more than the gap between two messages at 50,000/s — so sleeping before
// every message capped the sender near 7,000/s whatever the rate asked. The
// sender sleeps only when it is a millisecond or more ahead: the rate holds on
// average, and what leaves back to back is at most a millisecond's worth.
asio::awaitable<void> pace(double rate, Clock::time_point start, std::size_t i);

// "udp 127.0.0.1:7001: connection refused (ICMP port unreachable) — is netlab-transport-server running?",
// keeping the error code.
StepError udp_failure(const asio::ip::udp::endpoint& to, const boost::system::error_code& ec);

// Sends `kind` (done or relay_query) until a reply of kind `want` comes back:
// UDP promises nothing, so the request is repeated, at most `attempts` times,
// `interval_ms` apart. `used` says how many it took. `peer` names the program
// the error message asks about.
asio::awaitable<boost::json::object> ask(asio::ip::udp::socket& socket, Kind kind, std::uint64_t sequence, Kind want,
                                         int attempts, int interval_ms, std::string_view peer, int& used);

struct SendTally {
  std::uint64_t would_block = 0;  // writes the kernel refused: the send buffer was full
  double blocked_seconds = 0;     // time spent waiting for room
  std::uint32_t min_peer_window = UINT32_MAX;
  std::uint64_t zero_window_samples = 0;
};

// Writes all of `bytes` on a non-blocking socket, counting each EAGAIN.
asio::awaitable<void> write_counted(tcp::socket& socket, std::string_view bytes, SendTally& tally);
void sample_window(tcp::socket& socket, SendTally& tally);

// Messages from the server until one of kind `want` (nullopt: the end of the stream).
asio::awaitable<std::optional<StreamDecoder::Owned>> read_until(tcp::socket& socket, StreamDecoder& decoder, Kind want,
                                                                std::uint64_t& bytes_in);

}  // namespace netlab::transport
