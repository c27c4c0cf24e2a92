#include "stream.hpp"

#include "io/coro.hpp"
#include "kernel/transport_kernel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace netlab::transport {

namespace {
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;
}  // namespace

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

awaitable<void> pace(double rate, Clock::time_point start, std::size_t i) {
  if (rate <= 0) co_return;
  const auto due =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(i) / rate));
  if (due - Clock::now() < std::chrono::milliseconds(1)) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(due);
  co_await timer.async_wait(use_tuple);
}

StepError udp_failure(const asio::ip::udp::endpoint& to, const boost::system::error_code& ec) {
  const std::string hint = ec == asio::error::connection_refused
                               ? " (ICMP port unreachable) — is " + std::string(server_program) + " running?"
                               : "";
  return failure("udp " + to.address().to_string() + ":" + std::to_string(to.port()), ec, hint);
}

awaitable<boost::json::object> ask(asio::ip::udp::socket& socket, Kind kind, std::uint64_t sequence, Kind want,
                                   int attempts, int interval_ms, std::string_view peer, int& used) {
  asio::steady_timer timer(socket.get_executor());
  std::vector<char> buffer(65536);
  const auto to = socket.remote_endpoint();
  for (used = 1; used <= attempts; ++used) {
    std::string request;
    const char attempt[4] = {0, 0, static_cast<char>(used >> 8), static_cast<char>(used)};
    encode(kind, sequence, now_us(), {attempt, 4}, request);
    if (auto [ec, n] = co_await socket.async_send(asio::buffer(request), use_tuple); ec) throw udp_failure(to, ec);
    timer.expires_after(std::chrono::milliseconds(interval_ms));
    for (;;) {
      auto got = co_await (socket.async_receive(asio::buffer(buffer), use_tuple) || timer.async_wait(use_tuple));
      if (got.index() == 1) break;  // no answer this time: ask again
      auto [ec, n] = std::get<0>(got);
      if (ec) throw udp_failure(to, ec);
      const auto decoded = decode_datagram({buffer.data(), n});
      if (decoded.message && decoded.message->header.kind == want)
        co_return boost::json::parse(decoded.message->payload).as_object();
    }
  }
  throw std::runtime_error("no answer after " + std::to_string(attempts) + " requests, " + std::to_string(interval_ms) +
                           " ms apart — is " + std::string(peer) + " running there?");
}

awaitable<void> write_counted(tcp::socket& socket, std::string_view bytes, SendTally& tally) {
  while (!bytes.empty()) {
    boost::system::error_code ec;
    const std::size_t n = socket.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == asio::error::would_block) {
      ++tally.would_block;
      const auto t0 = Clock::now();
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_write, use_tuple);
      tally.blocked_seconds += seconds_since(t0);
      if (wait_ec) throw boost::system::system_error(wait_ec, "wait to write");
      continue;
    }
    if (ec) throw boost::system::system_error(ec, "write");
    bytes.remove_prefix(n);
  }
}

void sample_window(tcp::socket& socket, SendTally& tally) {
  auto flow = read_tcp_flow(socket.native_handle());
  if (!flow || !flow->peer_window_known) return;
  tally.min_peer_window = std::min(tally.min_peer_window, flow->peer_window);
  if (flow->peer_window == 0) ++tally.zero_window_samples;
}

awaitable<std::optional<StreamDecoder::Owned>> read_until(tcp::socket& socket, StreamDecoder& decoder, Kind want,
                                                          std::uint64_t& bytes_in) {
  std::vector<char> buffer(65536);
  std::vector<StreamDecoder::Owned> messages;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) co_return std::nullopt;
    if (ec) throw boost::system::system_error(ec, "read from the server");
    bytes_in += n;
    messages.clear();
    if (auto error = decoder.feed({buffer.data(), n}, messages))
      throw std::runtime_error(std::string("the server's reply: ") + std::string(to_string(*error)));
    for (auto& m : messages)
      if (m.header.kind == want) co_return std::move(m);
  }
}

}  // namespace netlab::transport
