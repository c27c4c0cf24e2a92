#pragma once
// Watching a TCP connection be born and die from inside the programs: the
// lifecycle labs (handshake, teardown, closewait) look one connection up in the
// socket census by its two ports, poll the census until a state shows, and
// count the file descriptors a server holds.
#include "kernel/census.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/class.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

// The socket whose local and remote ports are these, if the kernel has one
// (TIME_WAIT and orphaned sockets included: they outlive their file descriptor).
std::optional<SocketRecord> find_socket(std::uint16_t local_port, std::uint16_t remote_port);

// Its state as `ss` names it ("FIN-WAIT-2", "CLOSE-WAIT"), or "none".
std::string connection_state(std::uint16_t local_port, std::uint16_t remote_port);

// Checks `done` every `period` until it holds or `bound` has passed; returns
// whether it held. The census is a snapshot, so a state is polled, not awaited.
boost::asio::awaitable<bool> poll_until(std::function<bool()> done, std::chrono::milliseconds bound,
                                        std::chrono::milliseconds period = std::chrono::milliseconds(10));

// One end of a connection as the census saw it at one moment: its state, its
// timer (kind and time left) and its retransmission count. A lab that runs
// across the wire sees only its own end (the peer is in another namespace).
struct EndSample {
  long at_ms = 0;  // since the watch began
  std::string state = "none";
  std::string timer = "none";
  std::uint32_t timer_ms = 0;
  std::uint32_t retransmits = 0;
  std::uint32_t timer_before_ms = 0;  // the timer's last value before it went up (restarted), or 0
  bool restarted = false;             // the same timer, with more time left than a moment ago
};
BOOST_DESCRIBE_STRUCT(EndSample, (), (at_ms, state, timer, timer_ms, retransmits, timer_before_ms, restarted))

// Samples the socket (local_port, remote_port) every `period` until
// done(samples) holds or `bound` has passed; keeps the first sample and each
// one where the state, the timer's kind or the retransmission count changed,
// or the timer went up, and the last one. A period of 0 samples back to back,
// without yielding to the io_context (for states that last milliseconds).
boost::asio::awaitable<std::vector<EndSample>> watch_end(
    std::uint16_t local_port, std::uint16_t remote_port, std::function<bool(const std::vector<EndSample>&)> done,
    std::chrono::milliseconds bound, std::chrono::milliseconds period = std::chrono::milliseconds(2));

// Sleeps without blocking the io_context.
boost::asio::awaitable<void> pause_for(std::chrono::milliseconds duration);

// The bytes a lifecycle server sends: byte i of a response is 'a' + i % 26, so
// a reader can tell exactly which bytes reached it and which were lost.
std::string response_bytes(std::size_t offset, std::size_t size);
// How many of `chunk` (starting at `offset` of the response) are not what was sent.
std::size_t count_wrong_bytes(std::string_view chunk, std::size_t offset);

// The open file descriptors of this process (the entries of /proc/self/fd).
std::size_t open_fd_count();

}  // namespace netlab
