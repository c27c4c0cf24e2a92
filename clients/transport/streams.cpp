// The numbered stream over UDP and over TCP: transport/experiments.hpp.
#include "experiments.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"
#include "io/stats.hpp"
#include "kernel/transport_kernel.hpp"
#include "program/logging.hpp"
#include "stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace netlab::transport {

using asio::awaitable;
namespace json = boost::json;
namespace {}  // namespace

// ---- UDP: the stream, then "done" ----------------------------------------------

awaitable<UdpStream> udp_stream(const CommonOptions& options, const Config& config) {
  const asio::ip::udp::endpoint to(asio::ip::make_address(options.host), options.port);
  asio::ip::udp::socket socket(co_await asio::this_coro::executor, asio::ip::udp::v4());
  // A connected UDP socket: no packet is sent, but the kernel now reports an
  // ICMP "port unreachable" for this peer back to us as ECONNREFUSED.
  socket.connect(to);
  PayloadGenerator payloads(config.seed, config.size, config.size);
  std::string datagram;
  std::uint64_t bytes = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.messages; ++i) {
    co_await pace(config.rate, start, i);
    datagram.clear();
    encode(Kind::data, i, now_us(), payloads.next(), datagram);
    auto [ec, n] = co_await socket.async_send(asio::buffer(datagram), use_tuple);
    if (ec) throw udp_failure(to, ec);
    bytes += n;
  }
  const double send_seconds = seconds_since(start);
  int attempts = 0;
  auto server = co_await ask(socket, Kind::done, config.messages, Kind::report, config.done_attempts,
                             config.done_interval_ms, server_program, attempts);
  UdpStream result{.sent = config.messages,
                   .bytes_sent = bytes,
                   .send_seconds = send_seconds,
                   .done_attempts = attempts,
                   .server = read_account(std::move(server))};
  if (config.relay) {
    int relay_attempts = 0;
    auto reply = co_await ask(socket, Kind::relay_query, 0, Kind::relay_report, config.done_attempts,
                              config.done_interval_ms, "netlab-relay", relay_attempts);
    result.relay = read_relay(reply.at("session").as_object());
  }
  co_return result;
}

// ---- TCP: the stream, flow control seen from the sender --------------------------

awaitable<TcpStream> tcp_stream(const CommonOptions& options, const Config& config) {
  tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  // A small send buffer makes the wait visible sooner: the kernel refuses more
  // bytes as soon as the peer's closed window keeps them from leaving.
  if (config.sndbuf > 0) socket.set_option(asio::socket_base::send_buffer_size(config.sndbuf));
  socket.non_blocking(true);  // so that a full send buffer shows as EAGAIN, which we count
  PayloadGenerator payloads(config.seed, config.size, config.size);
  SendTally tally;
  std::string frame;
  std::uint64_t bytes = 0, bytes_in = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.messages; ++i) {
    co_await pace(config.rate, start, i);
    frame.clear();
    encode(Kind::data, i, now_us(), payloads.next(), frame);
    co_await write_counted(socket, frame, tally);
    bytes += frame.size();
    if (i % 64 == 0) sample_window(socket, tally);
  }
  const double send_seconds = seconds_since(start);
  frame.clear();
  encode(Kind::done, config.messages, now_us(), {}, frame);
  co_await write_counted(socket, frame, tally);
  bytes += frame.size();
  StreamDecoder decoder;
  auto report = co_await read_until(socket, decoder, Kind::report, bytes_in);
  if (!report) throw std::runtime_error("the server closed the connection without a report");
  const auto flow = read_tcp_flow(socket.native_handle());
  // Our FIN; the server answers with its own, and we read to the end.
  socket.shutdown(tcp::socket::shutdown_send);
  co_await read_until(socket, decoder, Kind::report, bytes_in);
  spdlog::info("DOWN {}", who);

  TcpStream result{.sent = config.messages,
                   .bytes_sent = bytes,
                   .bytes_received = bytes_in,
                   .send_seconds = send_seconds,
                   .would_block = tally.would_block,
                   .blocked_seconds = tally.blocked_seconds,
                   .server = read_account(json::parse(report->payload).as_object())};
  if (tally.min_peer_window != UINT32_MAX) {
    result.min_peer_window = tally.min_peer_window;
    result.zero_window_samples = tally.zero_window_samples;
  }
  if (flow) {
    result.total_retrans = flow->total_retrans;
    result.segs_out = flow->segs_out;
    result.segs_in = flow->segs_in;
    result.rwnd_limited_ms = static_cast<double>(flow->rwnd_limited_us) / 1000.0;
    result.sndbuf_limited_ms = static_cast<double>(flow->sndbuf_limited_us) / 1000.0;
    result.timestamps = flow->timestamps;
  }
  co_return result;
}

}  // namespace netlab::transport
