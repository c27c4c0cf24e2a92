#include "io/net.hpp"

#include "io/coro.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace netlab {

std::string to_string(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

std::string describe_connection(const tcp::socket& socket) {
  boost::system::error_code peer_ec, local_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  const auto local = socket.local_endpoint(local_ec);
  return (peer_ec ? std::string("?") : to_string(peer)) + " -> " + (local_ec ? std::string("?") : to_string(local));
}

std::string error_text(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

asio::ip::address parse_host(const std::string& host, std::string_view step) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error(std::string(step) + " " + host + ": not an IP address (use e.g. 127.0.0.1)");
  return address;
}

std::string bind_error(const std::string& where, const boost::system::error_code& ec, std::string_view program) {
  std::string hint;
  if (ec == asio::error::address_in_use)
    hint = " — is another " + std::string(program) + " running? (--port 0 picks a free port)";
  else if (ec == boost::system::errc::address_not_available)
    hint = " — that address is not on this machine";
  else if (ec == asio::error::access_denied)
    hint = " — ports below 1024 need root";
  return "bind " + where + ": " + error_text(ec) + hint;
}

tcp::acceptor open_listener(asio::io_context& io, const std::string& host, std::uint16_t port, std::string_view program,
                            int backlog) {
  const tcp::endpoint endpoint(parse_host(host, "bind"), port);
  tcp::acceptor acceptor(io);
  const std::string where = host + ":" + std::to_string(port);
  try {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(backlog);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(bind_error(where, e.code(), program));
  }
  return acceptor;
}

asio::awaitable<tcp::socket> connect_to(const std::string& host, std::uint16_t port, std::string_view server_program) {
  const tcp::endpoint endpoint(parse_host(host, "connect"), port);
  tcp::socket socket(co_await asio::this_coro::executor);
  try {
    co_await socket.async_connect(endpoint, asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    std::string hint;
    if (e.code() == asio::error::connection_refused) hint = " — is " + std::string(server_program) + " running?";
    throw std::runtime_error("connect " + to_string(endpoint) + ": " + error_text(e.code()) + hint);
  }
  co_return socket;
}

asio::awaitable<void> connect_socket(tcp::socket& socket, tcp::endpoint endpoint, boost::system::error_code& error) {
  auto [ec] = co_await socket.async_connect(endpoint, use_tuple);
  error = ec;
}

namespace {

// `||` waits for the first operation to *succeed*; a failure is caught here
// and turned into a success that carries it, so an error ends the race at once.
asio::awaitable<void> capture(asio::awaitable<void> operation, std::exception_ptr& error) {
  try {
    co_await std::move(operation);
  } catch (...) {
    error = std::current_exception();
  }
}

asio::awaitable<void> sleep_for(double seconds) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

asio::awaitable<bool> finish_within(asio::awaitable<void> operation, double seconds) {
  using namespace asio::experimental::awaitable_operators;
  std::exception_ptr error;
  const auto winner = co_await (capture(std::move(operation), error) || sleep_for(seconds));
  if (error) std::rethrow_exception(error);
  co_return winner.index() == 0;
}

bool run_client(asio::io_context& io, asio::awaitable<void> operation, double seconds) {
  std::exception_ptr error;
  bool finished = false;
  asio::co_spawn(io, finish_within(std::move(operation), seconds), [&](std::exception_ptr e, bool done) {
    error = e;
    finished = done;
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return finished;
}

StopSignals::StopSignals(asio::io_context& io, double max_seconds, std::function<void(std::string_view)> on_stop)
    : signals_(io, SIGINT, SIGTERM), deadline_(io), on_stop_(std::move(on_stop)) {
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (!ec) fire(signal == SIGINT ? "SIGINT" : "SIGTERM");
  });
  if (max_seconds > 0) {
    deadline_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds)));
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (!ec) fire("max-seconds");
    });
  }
}

void StopSignals::cancel() {
  fired_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  deadline_.cancel();
}

void StopSignals::fire(std::string_view reason) {
  if (fired_) return;
  fired_ = true;
  cancel();
  on_stop_(reason);
}

ConnectionRegistry::Entry::Entry(ConnectionRegistry& registry, tcp::socket& socket)
    : registry_(registry), socket_(&socket) {
  registry_.sockets_.insert(socket_);
}

ConnectionRegistry::Entry::~Entry() { registry_.sockets_.erase(socket_); }

void ConnectionRegistry::close_all() {
  for (auto* socket : sockets_) {
    boost::system::error_code ignored;
    socket->close(ignored);
  }
}

std::size_t send_now(tcp::socket& socket, asio::const_buffer bytes, boost::system::error_code& ec) {
  ec = {};
  if (!socket.non_blocking()) socket.non_blocking(true, ec);  // write_some may not wait
  const std::size_t sent = ec ? 0 : socket.write_some(bytes, ec);
  if (ec == asio::error::would_block) ec = {};
  return sent;
}

asio::awaitable<boost::system::error_code> write_all(tcp::socket& socket, asio::const_buffer bytes) {
  boost::system::error_code ec;
  bytes += send_now(socket, bytes, ec);
  if (ec) co_return ec;
  if (bytes.size() == 0) co_return boost::system::error_code{};
  auto [write_ec, written] = co_await asio::async_write(socket, bytes, use_tuple);
  co_return write_ec;
}

BlockingSocket::BlockingSocket(tcp::socket& socket, Clock::time_point deadline)
    : fd_(socket.native_handle()), deadline_(deadline) {
  socket.non_blocking(false);  // also clears the non-blocking mode Asio set for its own operations
  // One wait lasts at most a second (and never 0, which SO_RCVTIMEO reads as "forever").
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  const auto wait = std::clamp(left, std::chrono::microseconds{1000}, std::chrono::microseconds{1'000'000});
  const ::timeval tv{static_cast<time_t>(wait.count() / 1'000'000), static_cast<suseconds_t>(wait.count() % 1'000'000)};
  for (int option : {SO_RCVTIMEO, SO_SNDTIMEO})
    if (::setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv) != 0)
      throw boost::system::system_error(errno, boost::system::system_category(), "setsockopt");
}

std::size_t BlockingSocket::transfer(bool reading, Pieces pieces, boost::system::error_code& ec) {
  ec = {};
  if (pieces.bytes == 0) return 0;
  ::msghdr message{};
  message.msg_iov = pieces.at.data();
  message.msg_iovlen = pieces.count;
  // Each pass waits at most one SO_*TIMEO (or until a signal): the loop ends by the deadline.
  for (;;) {
    const ::ssize_t n = reading ? ::recvmsg(fd_, &message, 0) : ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {  // recvmsg only: the peer closed
      ec = asio::error::eof;
      return 0;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      ec.assign(errno, boost::system::system_category());
      return 0;
    }
    if (Clock::now() >= deadline_) {
      ec = asio::error::timed_out;
      return 0;
    }
  }
}

std::size_t BlockingSocket::transfer_or_throw(bool reading, Pieces pieces) {
  boost::system::error_code ec;
  const std::size_t bytes = transfer(reading, pieces, ec);
  if (ec) throw boost::system::system_error(ec, reading ? "recv" : "send");
  return bytes;
}

bool is_normal_ending(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
}

}  // namespace netlab
