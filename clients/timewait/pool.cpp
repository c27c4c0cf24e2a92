#include "pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <string>

namespace netlab {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

bool idle_connection_usable(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  // An idle connection has nothing to read. If the server closed it, its FIN
  // is queued and a read would return 0 (EOF); if it reset it, the read fails;
  // bytes nobody asked for mean the protocol is out of step. Peek, never block.
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

namespace {

void close_quietly(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.close(ignored);
}

}  // namespace

// The pool's state is shared with its leases and its timer's handler, so a lease
// may come back after the pool object is gone and nothing dangles.
struct ConnectionPool::State : std::enable_shared_from_this<ConnectionPool::State> {
  struct Idle {
    std::unique_ptr<tcp::socket> socket;
    Clock::time_point since;
  };
  // An acquire() waiting for a connection. Woken by cancelling its timer, with
  // either a connection handed over, a slot to open one, or the pool closed.
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    std::unique_ptr<tcp::socket> handed;
    bool slot = false;
    bool pool_closed = false;
  };

  State(asio::any_io_executor executor_, Connector connector_, PoolOptions options_)
      : executor(std::move(executor_)), connector(std::move(connector_)), options(options_), reaper(executor) {}

  asio::any_io_executor executor;
  Connector connector;
  PoolOptions options;
  PoolStats stats;
  std::deque<Idle> idle;  // oldest first; checkout takes the newest
  std::deque<std::shared_ptr<Waiter>> waiters;
  std::size_t open = 0;  // in use + idle + being opened: never above options.max_size
  bool closed = false;
  asio::steady_timer reaper;
  bool reaper_armed = false;

  // A slot (one of max_size) is free: the first waiter gets it, else it is given up.
  void free_slot() {
    if (!closed && !waiters.empty()) {
      auto waiter = std::move(waiters.front());
      waiters.pop_front();
      waiter->slot = true;
      waiter->timer.cancel();
      return;
    }
    --open;
  }

  void discard(tcp::socket& socket) {
    close_quietly(socket);
    ++stats.discarded;
    free_slot();
  }

  void give_back(std::unique_ptr<tcp::socket> socket, bool broken) {
    if (broken) {
      ++stats.discarded_after_error;
      discard(*socket);
      return;
    }
    if (closed) {
      close_quietly(*socket);
      --open;
      return;
    }
    // Hand it straight to the longest waiter: FIFO, and no one can take it in between.
    if (!waiters.empty()) {
      auto waiter = std::move(waiters.front());
      waiters.pop_front();
      waiter->handed = std::move(socket);
      waiter->timer.cancel();
      return;
    }
    idle.push_back({std::move(socket), Clock::now()});
    arm_reaper();
  }

  void expire_idle(Clock::time_point now) {
    while (!idle.empty() && now - idle.front().since >= options.idle_timeout) {
      auto socket = std::move(idle.front().socket);
      idle.pop_front();
      ++stats.expired;
      discard(*socket);
    }
  }

  // The idle timer runs only while idle connections exist, so a finished
  // program's io_context is not kept alive by an empty pool.
  void arm_reaper() {
    if (reaper_armed || idle.empty() || closed) return;
    reaper_armed = true;
    reaper.expires_at(idle.front().since + options.idle_timeout);
    reaper.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      const auto self = weak.lock();
      if (!self) return;
      self->reaper_armed = false;
      if (ec == asio::error::operation_aborted && self->closed) return;
      self->expire_idle(Clock::now());
      self->arm_reaper();
    });
  }

  void close() {
    if (closed) return;
    closed = true;
    for (auto& entry : idle) close_quietly(*entry.socket);
    open -= idle.size();
    idle.clear();
    for (auto& waiter : waiters) {
      waiter->pool_closed = true;
      waiter->timer.cancel();
    }
    waiters.clear();
    reaper.cancel();
  }
};

// ---- Lease -------------------------------------------------------------------

ConnectionPool::Lease::Lease(std::shared_ptr<State> state, std::unique_ptr<tcp::socket> socket, bool reused)
    : state_(std::move(state)), socket_(std::move(socket)), reused_(reused) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : state_(std::move(other.state_)),
      socket_(std::move(other.socket_)),
      reused_(other.reused_),
      broken_(other.broken_) {}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    socket_ = std::move(other.socket_);
    reused_ = other.reused_;
    broken_ = other.broken_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() { release(); }

void ConnectionPool::Lease::release() {
  if (state_ && socket_) state_->give_back(std::move(socket_), broken_);
  state_.reset();
  socket_.reset();
}

// ---- ConnectionPool ------------------------------------------------------------

ConnectionPool::ConnectionPool(asio::any_io_executor executor, Connector connector, PoolOptions options) {
  if (options.max_size == 0) throw std::invalid_argument("connection pool: max_size must be at least 1");
  state_ = std::make_shared<State>(std::move(executor), std::move(connector), options);
}

ConnectionPool::~ConnectionPool() { close(); }

void ConnectionPool::close() { state_->close(); }

const PoolStats& ConnectionPool::stats() const { return state_->stats; }
const PoolOptions& ConnectionPool::options() const { return state_->options; }
std::size_t ConnectionPool::idle() const { return state_->idle.size(); }
std::size_t ConnectionPool::in_use() const { return state_->open - state_->idle.size(); }
std::size_t ConnectionPool::waiting() const { return state_->waiters.size(); }

asio::awaitable<ConnectionPool::Lease> ConnectionPool::acquire() {
  const auto state = state_;  // the coroutine keeps the state alive, whatever happens to *this
  const auto deadline = Clock::now() + state->options.acquire_timeout;
  bool have_slot = false;
  // At most: one pass over the idle connections, then one wait, then one open.
  for (int round = 0; round < 3; ++round) {
    if (state->closed) {
      if (have_slot) --state->open;
      throw PoolError("connection pool closed");
    }
    if (!have_slot) {
      state->expire_idle(Clock::now());
      while (!state->idle.empty()) {
        auto socket = std::move(state->idle.back().socket);
        state->idle.pop_back();
        if (idle_connection_usable(*socket)) {
          ++state->stats.reused;
          co_return Lease(state, std::move(socket), true);
        }
        ++state->stats.discarded_closed_by_peer;
        state->discard(*socket);
      }
      if (state->open < state->options.max_size) {
        ++state->open;
        have_slot = true;
      }
    }

    if (have_slot) {
      std::unique_ptr<tcp::socket> socket;
      try {
        socket = std::make_unique<tcp::socket>(co_await state->connector());
      } catch (...) {
        ++state->stats.connect_failures;
        state->free_slot();
        throw;
      }
      if (state->closed) {
        close_quietly(*socket);
        --state->open;
        throw PoolError("connection pool closed");
      }
      ++state->stats.created;
      co_return Lease(state, std::move(socket), false);
    }

    // Every connection is in use: queue, bounded in length and in time.
    if (state->waiters.size() >= state->options.max_waiters) {
      ++state->stats.rejected;
      throw PoolError("connection pool: all " + std::to_string(state->options.max_size) + " connections in use and " +
                      std::to_string(state->waiters.size()) + " callers already waiting");
    }
    ++state->stats.waited;
    auto waiter = std::make_shared<State::Waiter>(state->executor);
    waiter->timer.expires_at(deadline);
    state->waiters.push_back(waiter);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Look at what we were given, not at the timer's error code: a connection
    // handed over just as the timer expired must still be used, not lost.
    if (waiter->handed) {
      if (idle_connection_usable(*waiter->handed)) {
        ++state->stats.reused;
        co_return Lease(state, std::move(waiter->handed), true);
      }
      ++state->stats.discarded_closed_by_peer;
      ++state->stats.discarded;
      close_quietly(*waiter->handed);
      have_slot = true;  // the slot of the dead connection is ours: open a new one
      continue;
    }
    if (waiter->slot) {
      have_slot = true;
      continue;
    }
    if (waiter->pool_closed) throw PoolError("connection pool closed");
    std::erase(state->waiters, waiter);
    ++state->stats.timed_out;
    throw PoolError("connection pool: no connection within " + std::to_string(state->options.acquire_timeout.count()) +
                    " ms (all " + std::to_string(state->options.max_size) + " in use)");
  }
  throw PoolError("connection pool: acquire made no progress");  // unreachable: each round above returns or throws
}

}  // namespace netlab
