#pragma once
// The accept loop every lab server shares: accept until the listener is
// closed (by a stop), run each connection in its own coroutine, and survive
// the two ways accepting goes wrong — a failing accept() (EMFILE when the
// descriptors run out, which the closewait lab provokes on purpose) is logged
// and retried after a pause instead of spinning, and an exception escaping a
// session is logged once without taking the server down.
#include "netlab/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

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

// `start_session(tcp::socket)` returns the awaitable<void> that serves one connection.
template <typename StartSession>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, StartSession start_session) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  asio::steady_timer backoff(acceptor.get_executor());
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("accept: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), start_session(std::move(socket)), log_session_failure);
  }
}

}  // namespace netlab
