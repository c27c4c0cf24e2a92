#pragma once
// What every lab server does the same way with its connections:
// - the accept loop: accept until the listener is closed (by a stop), run each
//   connection in its own coroutine, and survive the two ways accepting goes
//   wrong — a failing accept() (EMFILE when the descriptors run out, which the
//   closewait lab provokes on purpose) is logged and retried after a pause
//   instead of spinning, and an exception escaping a session is logged once
//   without taking the server down;
// - the connection limit (--max-connections): a connection over it is answered
//   at once with a refusal a person with `nc` can read, then closed, and the
//   server logs it (at most one line a second, however many are refused);
// - the idle timeout (--idle-timeout): a connection that has moved no byte in either direction for that
//   long, or whose peer has taken none of our waiting bytes for that long, is closed with one log line.
#include "io/coro.hpp"
#include "io/net.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace netlab {

// "session: <what>" for an exception that escaped a connection's coroutine.
inline void log_session_failure(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("session: {}", e.what());
  }
}

// What a connection over the limit receives before its close.
enum class Refusal {
  text_line,  // "ERR server busy: ...\n" (the line protocols, and what nc shows for the binary ones)
  http_503,   // "HTTP/1.1 503 Service Unavailable" with Connection: close and Retry-After
  tls_alert,  // a plaintext TLS alert record, fatal internal_error: what a TLS client expects first
};

// At most `max` connections served at once. The count is of live sessions:
// a session holds its Slot until its coroutine ends. Owned by main and
// outliving io.run(), since the slots and the refusals refer to it.
class ConnectionLimit {
 public:
  // `max` 0 = no limit. The limit actually used is lowered to what
  // RLIMIT_NOFILE leaves room for (one info line says so), so that a
  // connection over it meets a refusal instead of a failing accept().
  ConnectionLimit(std::size_t max, Refusal style);
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  class Slot {
   public:
    explicit Slot(ConnectionLimit& limit) : limit_(&limit) { ++limit_->live_; }
    Slot(Slot&& other) noexcept : limit_(std::exchange(other.limit_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limit_) --limit_->live_;
    }

   private:
    ConnectionLimit* limit_;
  };

  // A slot for a just-accepted connection, or nullopt when the limit is
  // reached: then `socket` is taken and refused (the refusal sent, a short
  // lingering close so the refusal is read rather than reset).
  std::optional<Slot> admit(tcp::socket& socket);

  std::size_t max() const { return max_; }  // the limit in force (0 = none)
  std::size_t requested() const { return requested_; }
  std::size_t live() const { return live_; }
  std::size_t refused() const { return refused_; }
  const std::string& refusal() const { return refusal_; }

 private:
  asio::awaitable<void> refuse(tcp::socket socket);

  std::size_t requested_;
  std::size_t max_;
  std::string refusal_;
  std::size_t live_ = 0;
  std::size_t refused_ = 0;
  std::size_t max_lingering_;  // at most this many at once (a part of RLIMIT_NOFILE)
  std::size_t lingering_ = 0;  // refused sockets still in their lingering close
  std::size_t refused_since_log_ = 0;
  Clock::time_point last_log_{};
};

// The bytes of a refusal, as ConnectionLimit sends them (tests compare against it).
std::string refusal_bytes(Refusal style, std::size_t max);

// Keeps the slot of a session for as long as the session runs.
inline asio::awaitable<void> hold_slot(ConnectionLimit::Slot slot, asio::awaitable<void> session) {
  (void)slot;
  co_await std::move(session);
}

// A failing accept(), said once and then at most once a second with the count
// of failures in between: "accept: Too many open files (the process is at its
// limit of N descriptors, ulimit -n); retrying every 100 ms (K more since the
// last line)". The connection waits in the accept queue meanwhile.
class AcceptFailures {
 public:
  void failed(const boost::system::error_code& ec);
  std::size_t count() const { return count_; }

 private:
  std::size_t count_ = 0;
  std::size_t since_log_ = 0;
  Clock::time_point last_log_{};
};

// Where a lab's accept loop departs from accepting at once (the handshake
// lab's server, whose lesson is the accept queue):
struct AcceptHooks {
  // Awaited before each accept(): a pause while the kernel goes on completing
  // handshakes into the accept queue. A stop closes the listener; the loop
  // ends after this returns, so the pause must end at a stop too.
  std::function<asio::awaitable<void>()> before_each{};
  // Each connection accept() took from the queue, before the limit admits it.
  std::function<void(const tcp::socket&)> accepted{};
};

// `start_session(tcp::socket)` returns the awaitable<void> that serves one connection.
template <typename StartSession>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, ConnectionLimit& limit, StartSession start_session,
                                  AcceptHooks hooks = {}) {
  asio::steady_timer backoff(acceptor.get_executor());
  AcceptFailures failures;
  while (acceptor.is_open()) {
    if (hooks.before_each) {
      co_await hooks.before_each();
      if (!acceptor.is_open()) co_return;
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      failures.failed(ec);
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    if (hooks.accepted) hooks.accepted(socket);
    auto slot = limit.admit(socket);
    if (!slot) continue;
    asio::co_spawn(acceptor.get_executor(), hold_slot(std::move(*slot), start_session(std::move(socket))),
                   log_session_failure);
  }
}

// Closes `socket` once it has carried no byte in either direction for `seconds` (0 = never), with one log
// line "<who>: no bytes in or out for T s — closing (--idle-timeout)", or once bytes we wrote wait and the
// kernel has sent none for `seconds`: "<who>: N bytes of ours wait and the kernel sent none for T s (the
// peer takes no more) — closing (--idle-timeout)". Traffic is what the kernel counts for the socket
// (TCP_INFO's last_data_recv / last_data_sent, SIOCOUTQ), so the session's code needs no calls: a peer that
// sends nothing, trickles slower than T, or stops reading our answers (even while it goes on sending requests
// that the session reads and answers into its send buffer) is closed. `touch()` adds inbound progress the
// kernel does not see (a slow reader working through its receive buffer); a `Busy` guard covers a pause the
// server makes on purpose, for both rules. The socket must outlive this object; its pending operation aborts.
class IdleTimeout {
 public:
  IdleTimeout(tcp::socket& socket, double seconds, std::string who);
  ~IdleTimeout();
  IdleTimeout(const IdleTimeout&) = delete;
  IdleTimeout& operator=(const IdleTimeout&) = delete;

  void touch();
  bool expired() const;

  class Busy {
   public:
    explicit Busy(IdleTimeout& idle);
    ~Busy();
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    IdleTimeout& idle_;
  };

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace netlab

namespace netlab {

// What every session does first, and its last line: the connection joins the
// registry (a stop closes it), one log line "UP   <peer -> local>" (what a
// class matches against `ss`), and the idle timeout is armed (`idle_seconds`
// 0 = none). `down(ending)` logs "DOWN <peer -> local> (<ending>)". Servers
// that make many short connections log both lines at debug.
//
//   ServedConnection served(socket, registry, config.idle_timeout);
//   ... the lesson's steps, served.idle().expired() ...
//   served.down(ending);
class ServedConnection {
 public:
  ServedConnection(tcp::socket& socket, ConnectionRegistry& registry, double idle_seconds = 0,
                   spdlog::level::level_enum level = spdlog::level::info, std::string_view up_detail = {});

  const std::string& who() const { return who_; }
  IdleTimeout& idle() { return idle_; }
  // "DOWN <who> (<ending>)", or "DOWN <who>" when `ending` is empty.
  void down(std::string_view ending) const;

 private:
  ConnectionRegistry::Entry entry_;
  std::string who_;
  spdlog::level::level_enum level_;
  IdleTimeout idle_;
};

}  // namespace netlab
