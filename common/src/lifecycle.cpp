#include "netlab/lifecycle.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>

namespace netlab {

namespace asio = boost::asio;

std::optional<SocketRecord> find_socket(std::uint16_t local_port, std::uint16_t remote_port) {
  for (auto& socket : list_tcp_sockets({.local_port = local_port, .remote_port = remote_port}))
    return socket;
  return std::nullopt;
}

std::string connection_state(std::uint16_t local_port, std::uint16_t remote_port) {
  const auto socket = find_socket(local_port, remote_port);
  return socket ? std::string(state_name(socket->state)) : "none";
}

asio::awaitable<void> pause_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<bool> poll_until(std::function<bool()> done, std::chrono::milliseconds bound,
                                 std::chrono::milliseconds period) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (done()) co_return true;
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    co_await pause_for(period);
  }
}

std::string response_bytes(std::size_t offset, std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + (offset + i) % 26);
  return bytes;
}

std::size_t count_wrong_bytes(std::string_view chunk, std::size_t offset) {
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < chunk.size(); ++i)
    if (chunk[i] != static_cast<char>('a' + (offset + i) % 26)) ++wrong;
  return wrong;
}

std::size_t open_fd_count() {
  std::size_t count = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec))
    ++count;
  // The directory listing itself held one descriptor while it was read.
  return count > 0 ? count - 1 : 0;
}

}  // namespace netlab
