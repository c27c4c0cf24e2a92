#pragma once
// Watching a TCP connection be born and die from inside the programs: the
// lifecycle labs (handshake, teardown, closewait) look one connection up in the
// socket census by its two ports, poll the census until a state shows, and
// count the file descriptors a server holds.
#include "netlab/census.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

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
