#include "kernel/lifecycle.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <thread>

namespace netlab {

namespace asio = boost::asio;

std::optional<SocketRecord> find_socket(std::uint16_t local_port, std::uint16_t remote_port) {
  for (auto& socket : list_tcp_sockets({.local_port = local_port, .remote_port = remote_port})) return socket;
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

asio::awaitable<std::vector<EndSample>> watch_end(std::uint16_t local_port, std::uint16_t remote_port,
                                                  std::function<bool(const std::vector<EndSample>&)> done,
                                                  std::chrono::milliseconds bound, std::chrono::milliseconds period) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<EndSample> kept;
  EndSample last;
  bool pending = false;  // `last` was not kept
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    EndSample sample;
    sample.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (const auto socket = find_socket(local_port, remote_port)) {
      sample.state = std::string(state_name(socket->state));
      sample.timer = std::string(timer_name(socket->timer));
      sample.timer_ms = socket->timer_expires_ms;
      sample.retransmits = socket->retransmits;
    }
    const bool first = kept.empty() && !pending;
    bool changed = first;
    if (!first) {
      changed = sample.state != last.state || sample.timer != last.timer || sample.retransmits != last.retransmits;
      // The timer only runs down; more time left than a moment ago is the kernel starting it over.
      if (!changed && sample.timer != "none" &&
          sample.timer_ms > last.timer_ms + 2 * std::max<long>(period.count(), 1)) {
        sample.restarted = true;
        sample.timer_before_ms = last.timer_ms;
        changed = true;
      }
    }
    if (changed) {
      kept.push_back(sample);
      pending = false;
    } else {
      pending = true;
    }
    last = sample;
    if (done(kept) || now - start >= bound) break;
    // period 0: sample back to back (a state that lasts one round trip on a busy machine).
    if (period.count() > 0)
      co_await pause_for(period);
    else
      std::this_thread::yield();  // the peer program may share this CPU
  }
  if (pending) kept.push_back(last);
  co_return kept;
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
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++count;
  // The directory listing itself held one descriptor while it was read.
  return count > 0 ? count - 1 : 0;
}

}  // namespace netlab
