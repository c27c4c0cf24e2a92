#include "io/serve.hpp"
#include "io/coro.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <limits>

namespace netlab {

namespace {

// Descriptors kept back from the connection limit, for the listener, stdin,
// stdout and stderr, the event loop (epoll, its eventfd and timerfd), a file a
// server opens now and then (the port file, the https lab's certificates, a
// key log), and the lingering refusals. A server needs about a dozen of these
// whatever its limit, so the reserve is a fraction of RLIMIT_NOFILE, capped:
// a fixed 64 left one connection at `ulimit -n 64`; a quarter (at most 32) for
// the program and a sixteenth (1 to 32) for lingering refusals leave 44 there,
// and 960 at the usual 1024 as before.
std::size_t lingering_room(std::size_t soft) { return std::clamp<std::size_t>(soft / 16, 1, 32); }
std::size_t reserved_fds(std::size_t soft) { return std::min<std::size_t>(soft / 4, 32) + lingering_room(soft); }

std::size_t soft_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::size_t fd_room(std::size_t soft) {
  if (soft == std::numeric_limits<std::size_t>::max()) return soft;
  return soft > reserved_fds(soft) ? soft - reserved_fds(soft) : 1;
}

}  // namespace

std::string refusal_bytes(Refusal style, std::size_t max) {
  const std::string why = "the server already serves its maximum of " + std::to_string(max) +
                          " connections (--max-connections); try again later";
  switch (style) {
    case Refusal::http_503: {
      const std::string body = "503 Service Unavailable: " + why + "\n";
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body;
    }
    case Refusal::tls_alert:
      // An alert record before any handshake travels in plaintext: content type
      // 21 (alert), version 3,3, length 2, level 2 (fatal), 80 (internal_error).
      return std::string("\x15\x03\x03\x00\x02\x02\x50", 7);
    case Refusal::text_line:
      break;
  }
  return "ERR server busy: " + why + "\n";
}

ConnectionLimit::ConnectionLimit(std::size_t max, Refusal style)
    : requested_(max), max_(max), max_lingering_(lingering_room(soft_fd_limit())) {
  if (max_ > 0) {
    const std::size_t room = fd_room(soft_fd_limit());
    if (max_ > room) {
      max_ = room;
      spdlog::info("at most {} connections at once, not {}: RLIMIT_NOFILE leaves room for no more (ulimit -n)", max_,
                   requested_);
    }
  }
  refusal_ = refusal_bytes(style, max_);
}

std::optional<ConnectionLimit::Slot> ConnectionLimit::admit(tcp::socket& socket) {
  if (max_ == 0 || live_ < max_) return Slot(*this);
  ++refused_;
  // One line for the first refusal, then at most one a second, however many come.
  const auto now = Clock::now();
  if (refused_ == 1 || now - last_log_ >= std::chrono::seconds(1)) {
    const std::string more =
        refused_since_log_ > 0 ? " (" + std::to_string(refused_since_log_) + " more refused since the last line)" : "";
    spdlog::warn("refusing {}: {} connections open, the maximum (--max-connections {}){}", describe_connection(socket),
                 live_, max_, more);
    last_log_ = now;
    refused_since_log_ = 0;
  } else {
    ++refused_since_log_;
  }
  if (lingering_ >= max_lingering_) {
    // A flood: say it without waiting for anything, and close at once. A fresh
    // socket's send buffer is empty, so the few bytes go out whole.
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(refusal_), ignored);
    socket.close(ignored);
    return std::nullopt;
  }
  ++lingering_;
  const auto executor = socket.get_executor();
  asio::co_spawn(executor, refuse(std::move(socket)), log_session_failure);
  return std::nullopt;
}

void AcceptFailures::failed(const boost::system::error_code& ec) {
  ++count_;
  const auto now = Clock::now();
  if (count_ > 1 && now - last_log_ < std::chrono::seconds(1)) {
    ++since_log_;
    return;
  }
  // EMFILE (ENFILE for the whole system): no descriptor for the new connection.
  const bool out_of_descriptors =
      ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system;
  const std::string limit =
      out_of_descriptors ? fmt::format(" (the process is at its limit of {} descriptors, ulimit -n)", soft_fd_limit())
                         : "";
  const std::string more = since_log_ > 0 ? fmt::format(" ({} more since the last line)", since_log_) : "";
  spdlog::warn("accept: {}{}; retrying every 100 ms{}", ec.message(), limit, more);
  last_log_ = now;
  since_log_ = 0;
}

namespace {

// Send the refusal, then our FIN, then read and drop what the client still
// sends until its FIN: closing with unread bytes would make the kernel send an
// RST, which can destroy the refusal before the client has read it.
asio::awaitable<void> send_then_drain(tcp::socket& socket, const std::string& refusal) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(refusal), use_tuple);
  if (ec) co_return;
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  char sink[4096];
  for (int reads = 0; reads < 64; ++reads) {
    auto [read_ec, got] = co_await socket.async_read_some(asio::buffer(sink), use_tuple);
    if (read_ec) break;
  }
}

}  // namespace

asio::awaitable<void> ConnectionLimit::refuse(tcp::socket socket) {
  co_await finish_within(send_then_drain(socket, refusal_), 1.0);
  boost::system::error_code ignored;
  socket.close(ignored);
  --lingering_;
}

// ---- the idle timeout ----------------------------------------------------------

struct IdleTimeout::State {
  State(tcp::socket& s, Clock::duration t, std::string w)
      : timer(s.get_executor()),
        socket(&s),
        timeout(t),
        last_touch(Clock::now()),
        last_busy(last_touch),
        who(std::move(w)) {}
  asio::steady_timer timer;
  tcp::socket* socket;  // nullptr once the IdleTimeout is gone
  Clock::duration timeout;
  Clock::time_point last_touch;  // progress the session reported (touch, Busy)
  Clock::time_point last_busy;   // the end of the last pause made on purpose (Busy), or the start
  int busy = 0;
  bool expired = false;
  std::string who;
};

namespace {

// What the kernel says about the traffic of one connection.
struct KernelTraffic {
  Clock::duration since_data_in = Clock::duration::max();   // TCP_INFO last_data_recv
  Clock::duration since_data_out = Clock::duration::max();  // TCP_INFO last_data_sent
  int bytes_waiting = 0;  // SIOCOUTQ: written by us, not yet acknowledged by the peer (sent or not)
};

// last_data_recv moves when a segment with data is queued for us, last_data_sent
// when a segment carrying data leaves (a retransmission too), never for a
// zero-window probe, which carries no data. SIOCOUTQ is write_seq - snd_una.
KernelTraffic kernel_traffic(tcp::socket& socket) {
  KernelTraffic traffic;
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return traffic;
  traffic.since_data_in = std::chrono::milliseconds(info.tcpi_last_data_recv);
  traffic.since_data_out = std::chrono::milliseconds(info.tcpi_last_data_sent);
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &traffic.bytes_waiting) != 0) traffic.bytes_waiting = 0;
  return traffic;
}

void watch(const std::shared_ptr<IdleTimeout::State>& state, Clock::duration after) {
  state->timer.expires_after(after);
  state->timer.async_wait([state](boost::system::error_code ec) {
    if (ec || !state->socket || !state->socket->is_open()) return;
    const auto now = Clock::now();
    if (state->busy > 0) state->last_touch = state->last_busy = now;
    const auto kernel = kernel_traffic(*state->socket);
    // Idle: no byte in either direction.
    const auto quiet = std::min({now - state->last_touch, kernel.since_data_in, kernel.since_data_out});
    // Stalled: our bytes wait and none leaves, however much the peer still
    // sends. A peer that never reads closes its receive window; the kernel then
    // only probes it (no data), and keeps the connection for as long as the
    // probes are answered (RFC 1122 4.2.2.17). Its requests keep arriving while
    // our answers pile up in a send buffer that autotuning grows to
    // net.ipv4.tcp_wmem's maximum: measured from the kernel, not from a write
    // the session waits on, the stall counts from when our output stopped.
    const auto stalled =
        kernel.bytes_waiting > 0 ? std::min(now - state->last_busy, kernel.since_data_out) : Clock::duration::zero();
    const auto timeout_s = std::chrono::duration<double>(state->timeout).count();
    if (stalled >= state->timeout) {
      spdlog::warn(
          "{}: {} bytes of ours wait and the kernel sent none for {:g} s (the peer takes no more) — "
          "closing (--idle-timeout)",
          state->who, kernel.bytes_waiting, timeout_s);
    } else if (quiet >= state->timeout) {
      spdlog::warn("{}: no bytes in or out for {:g} s — closing (--idle-timeout)", state->who, timeout_s);
    } else {
      watch(state, state->timeout - std::max(quiet, stalled));
      return;
    }
    state->expired = true;
    boost::system::error_code ignored;
    state->socket->close(ignored);
  });
}

}  // namespace

IdleTimeout::IdleTimeout(tcp::socket& socket, double seconds, std::string who) {
  if (seconds <= 0) return;
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  state_ = std::make_shared<State>(socket, timeout, std::move(who));
  watch(state_, timeout);
}

IdleTimeout::~IdleTimeout() {
  if (!state_) return;
  state_->socket = nullptr;
  state_->timer.cancel();
}

void IdleTimeout::touch() {
  if (state_) state_->last_touch = Clock::now();
}

bool IdleTimeout::expired() const { return state_ && state_->expired; }

IdleTimeout::Busy::Busy(IdleTimeout& idle) : idle_(idle) {
  if (idle_.state_) ++idle_.state_->busy;
}

IdleTimeout::Busy::~Busy() {
  if (!idle_.state_) return;
  --idle_.state_->busy;
  idle_.state_->last_touch = idle_.state_->last_busy = Clock::now();
}

}  // namespace netlab

namespace netlab {

// ---- the opening and the ending of a session -------------------------------------

ServedConnection::ServedConnection(tcp::socket& socket, ConnectionRegistry& registry, double idle_seconds,
                                   spdlog::level::level_enum level, std::string_view up_detail)
    : entry_(registry, socket), who_(describe_connection(socket)), level_(level), idle_(socket, idle_seconds, who_) {
  if (up_detail.empty())
    spdlog::log(level_, "UP   {}", who_);
  else
    spdlog::log(level_, "UP   {} ({})", who_, up_detail);
}

void ServedConnection::down(std::string_view ending) const {
  if (ending.empty())
    spdlog::log(level_, "DOWN {}", who_);
  else
    spdlog::log(level_, "DOWN {} ({})", who_, ending);
}

}  // namespace netlab
