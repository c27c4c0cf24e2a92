#pragma once
// Asio plumbing every lab shares: a listener that says clearly why it could
// not listen, a connect that says clearly why it failed, endpoint text for
// log lines, and the stop conditions (SIGINT/SIGTERM, --max-seconds).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/uio.h>

#include <array>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <string_view>

namespace netlab {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// "127.0.0.1:7006"
std::string to_string(const tcp::endpoint& endpoint);

// An error's message as a cause reads in a one-line error: "connection refused"
// (strerror capitalises it).
std::string error_text(const boost::system::error_code& ec);

// The address of --host: an IP address, or "localhost" for 127.0.0.1. Throws
// std::runtime_error "<step> <host>: not an IP address (use e.g. 127.0.0.1)".
asio::ip::address parse_host(const std::string& host, std::string_view step);

// The one line for a failed bind of `where` ("127.0.0.1:7006", "…/udp"), with
// the hint that helps: another `program` running, an address not on this
// machine, a port below 1024.
std::string bind_error(const std::string& where, const boost::system::error_code& ec, std::string_view program);

// "peer -> local" of a connected socket, as muduo prints it, for UP/DOWN lines.
std::string describe_connection(const tcp::socket& socket);

// Binds and listens on host:port (SO_REUSEADDR, so a restarted server can bind
// while old connections sit in TIME_WAIT). Throws std::runtime_error with one line:
//   "bind 127.0.0.1:7006: Address already in use — is another netlab-framing-server
//    running? (--port 0 picks a free port)"
tcp::acceptor open_listener(asio::io_context& io, const std::string& host, std::uint16_t port, std::string_view program,
                            int backlog = asio::socket_base::max_listen_connections);

// Connects to host:port. Throws std::runtime_error with one line, e.g.
//   "connect 127.0.0.1:7006: Connection refused — is netlab-framing-server running?"
asio::awaitable<tcp::socket> connect_to(const std::string& host, std::uint16_t port, std::string_view server_program);

// Connects `socket` to `endpoint` and puts the outcome in `error` instead of
// throwing, so that finish_within can bound it and the caller still reads why
// it failed (a refusal, a reset) or sees it did not finish (still SYN-SENT).
asio::awaitable<void> connect_socket(tcp::socket& socket, tcp::endpoint endpoint, boost::system::error_code& error);

// Runs `operation` against a deadline of `seconds`. Returns true if it
// finished, false if the deadline came first (the operation is cancelled);
// an exception from the operation is rethrown as it is.
asio::awaitable<bool> finish_within(asio::awaitable<void> operation, double seconds);

// Runs `operation` on `io` until it finishes, throws, or `seconds` pass: the
// whole run of a client. Returns false on timeout; rethrows its exception.
bool run_client(asio::io_context& io, asio::awaitable<void> operation, double seconds);

// Writes all of `bytes` to `socket`: what the socket buffer takes right now
// with one send in the calling handler, and only the rest through async_write.
// An answer of a few bytes always fits, so it costs one system call, where
// async_write alone completes the same send "immediately" by posting its
// handler, and the event loop polls epoll once more before running it: a
// third system call per round trip (docs/performance.md, request/response).
asio::awaitable<boost::system::error_code> write_all(tcp::socket& socket, asio::const_buffer bytes);

// write_all's first step: one non-blocking send of what the socket buffer
// takes right now. Returns the bytes sent; would_block is not an error.
std::size_t send_now(tcp::socket& socket, asio::const_buffer bytes, boost::system::error_code& ec);

using Clock = std::chrono::steady_clock;

// A connected socket driven by blocking system calls, for a client that holds
// one conversation and has nothing else to do while it waits for an answer:
// a round trip costs one send and one recv, as in sockperf's ping-pong client.
// Through the event loop the same round trip cost about 3.6 system calls
// (a recv tried before waiting, epoll_wait, the recv itself, the send);
// docs/performance.md, request/response row.
//
// Every wait is bounded: SO_RCVTIMEO and SO_SNDTIMEO of at most one second,
// repeated until `deadline`; after it read_some and write_some fail with
// asio::error::timed_out. The end of the stream is asio::error::eof.
// It meets Asio's SyncReadStream and SyncWriteStream, so asio::write and
// Beast's http::read take it. Asynchronous operations on the socket later on
// make it non-blocking again by themselves.
class BlockingSocket {
 public:
  BlockingSocket(tcp::socket& socket, Clock::time_point deadline);  // throws boost::system::system_error

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    return transfer(true, gather(buffers), ec);
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    return transfer(false, gather(buffers), ec);
  }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    return transfer_or_throw(true, gather(buffers));
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    return transfer_or_throw(false, gather(buffers));
  }

 private:
  struct Pieces {
    std::array<::iovec, 16> at{};  // as many as one recvmsg/sendmsg takes here; the rest waits for the next call
    std::size_t count = 0, bytes = 0;
  };
  template <class BufferSequence>
  static Pieces gather(const BufferSequence& buffers) {
    Pieces pieces;
    for (auto it = asio::buffer_sequence_begin(buffers);
         it != asio::buffer_sequence_end(buffers) && pieces.count < pieces.at.size(); ++it) {
      const asio::const_buffer piece(*it);
      if (piece.size() == 0) continue;
      pieces.at[pieces.count++] = {const_cast<void*>(piece.data()), piece.size()};
      pieces.bytes += piece.size();
    }
    return pieces;
  }
  std::size_t transfer(bool reading, Pieces pieces, boost::system::error_code& ec);
  std::size_t transfer_or_throw(bool reading, Pieces pieces);  // throws boost::system::system_error

  int fd_;
  Clock::time_point deadline_;
};

// The stop conditions of a program: SIGINT, SIGTERM and an optional deadline.
// `on_stop` runs once, with the reason ("SIGINT", "SIGTERM", "max-seconds").
class StopSignals {
 public:
  StopSignals(asio::io_context& io, double max_seconds, std::function<void(std::string_view)> on_stop);
  void cancel();  // forget the stop conditions (the program finished by itself)

 private:
  void fire(std::string_view reason);

  asio::signal_set signals_;
  asio::steady_timer deadline_;
  std::function<void(std::string_view)> on_stop_;
  bool fired_ = false;
};

// The open connections of a server, so that a stop closes every one of them:
// their pending reads finish with operation_aborted and each session ends
// through its normal path (its DOWN log line included).
class ConnectionRegistry {
 public:
  class Entry {
   public:
    Entry(ConnectionRegistry& registry, tcp::socket& socket);
    ~Entry();
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    ConnectionRegistry& registry_;
    tcp::socket* socket_;
  };

  std::size_t size() const { return sockets_.size(); }
  void close_all();

 private:
  std::set<tcp::socket*> sockets_;
};

// True for the ways a connection normally ends (the peer closed or reset it,
// or we are shutting down): logged at debug, not reported as errors.
bool is_normal_ending(const boost::system::error_code& ec);

}  // namespace netlab
