#pragma once
// A TCP connection pool: the note's fix for mass TIME_WAIT. Every request that
// opens and closes its own connection leaves one TIME_WAIT socket behind on the
// side that closed first; a pool keeps a few connections open and carries many
// requests over each, so the number of closes — and of TIME_WAIT sockets — is
// bounded by the pool's size, not by the number of requests.
//
//   ConnectionPool pool(executor, connector, {.max_size = 8});
//   auto lease = co_await pool.acquire();   // reuses an idle connection or opens one
//   co_await asio::async_write(lease.socket(), ...);
//   if (it failed) lease.discard();         // a broken connection is never reused
//   // the lease's destructor returns a healthy connection to the pool
//
// - acquire() waits, when all max_size connections are in use, in a bounded
//   FIFO queue (max_waiters) for at most acquire_timeout; connections are handed
//   to waiters directly, in order.
// - On checkout an idle connection is validated: if the server has closed it
//   (its FIN is queued: a read would return EOF), reset it, or sent bytes nobody
//   asked for, it is discarded and the next one is tried.
// - Idle connections older than idle_timeout are closed (by a timer and on checkout).
// - Single-threaded: use it from one io_context thread (or one strand).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/describe/class.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>

namespace netlab {

struct PoolOptions {
  std::size_t max_size = 8;        // connections open at once (in use + idle), at least 1
  std::size_t max_waiters = 1024;  // acquire() calls allowed to wait when all are in use
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds idle_timeout{30000};
};

struct PoolStats {
  std::size_t created = 0;                   // connections opened
  std::size_t reused = 0;                    // checkouts served by an existing connection
  std::size_t discarded = 0;                 // connections closed as broken or stale (all causes below)
  std::size_t discarded_closed_by_peer = 0;  // found closed (EOF/RST/unexpected bytes) on checkout
  std::size_t discarded_after_error = 0;     // returned by a lease that saw an error
  std::size_t expired = 0;                   // idle longer than idle_timeout (closed, also in discarded)
  std::size_t waited = 0;                    // acquire() calls that had to queue
  std::size_t timed_out = 0;                 // ... and gave up after acquire_timeout
  std::size_t rejected = 0;                  // acquire() calls refused: the wait queue was full
  std::size_t connect_failures = 0;          // the connector threw
};
BOOST_DESCRIBE_STRUCT(PoolStats, (),
                      (created, reused, discarded, discarded_closed_by_peer, discarded_after_error, expired, waited,
                       timed_out, rejected, connect_failures))

// Thrown by acquire() when it cannot give a connection: timeout, full queue,
// pool closed. A connector's own exception is passed on unchanged.
class PoolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConnectionPool {
  struct State;

 public:
  using tcp = boost::asio::ip::tcp;
  // Opens one new connection (throws on failure, e.g. netlab::connect_to).
  using Connector = std::function<boost::asio::awaitable<tcp::socket>()>;

  // One checked-out connection. Returned to the pool when destroyed, unless
  // discard() was called (then it is closed). May outlive the pool object.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    tcp::socket& socket() { return *socket_; }
    bool reused() const { return reused_; }  // false: opened for this checkout
    // This connection must not be reused (an error, or the server said it will close).
    void discard() { broken_ = true; }
    // Returns the connection now (healthy unless discard() was called).
    void release();

   private:
    friend class ConnectionPool;
    Lease(std::shared_ptr<State> state, std::unique_ptr<tcp::socket> socket, bool reused);
    std::shared_ptr<State> state_;
    std::unique_ptr<tcp::socket> socket_;
    bool reused_ = false;
    bool broken_ = false;
  };

  // Throws std::invalid_argument when options.max_size is 0.
  ConnectionPool(boost::asio::any_io_executor executor, Connector connector, PoolOptions options = {});
  ~ConnectionPool();  // close()
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  boost::asio::awaitable<Lease> acquire();

  // Closes every idle connection and fails every waiter; later acquire() calls
  // throw, and leases still out are closed when they come back.
  void close();

  const PoolStats& stats() const;
  const PoolOptions& options() const;
  std::size_t idle() const;     // open, waiting in the pool
  std::size_t in_use() const;   // checked out (or being opened)
  std::size_t waiting() const;  // acquire() calls queued

 private:
  std::shared_ptr<State> state_;
};

// True when an idle connection can carry another request: nothing is queued
// to read (no EOF from the peer's FIN, no reset, no stray bytes). Does not block.
bool idle_connection_usable(ConnectionPool::tcp::socket& socket);

}  // namespace netlab
