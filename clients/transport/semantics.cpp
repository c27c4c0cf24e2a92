// What "connection-oriented" means on the wire: transport/experiments.hpp.
#include "experiments.hpp"
#include "io/coro.hpp"
#include "io/net.hpp"
#include "kernel/transport_kernel.hpp"
#include "stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace netlab::transport {

using asio::awaitable;
namespace {
using namespace asio::experimental::awaitable_operators;

// ---- semantics: connections, and what one message costs ---------------------------

std::uint16_t pick_dead_port(asio::any_io_executor executor, const std::string& host) {
  // Bind a port and let it go: nothing listens on it afterwards.
  tcp::acceptor probe(executor, tcp::endpoint(asio::ip::make_address(host), 0));
  return probe.local_endpoint().port();
}

// Waits up to `ms` for a datagram or an error on `socket`: "" when nothing came.
awaitable<std::string> wait_for_anything(asio::ip::udp::socket& socket, int ms) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(std::chrono::milliseconds(ms));
  std::vector<char> buffer(65536);
  asio::ip::udp::endpoint from;
  auto got = co_await (socket.async_receive_from(asio::buffer(buffer), from, use_tuple) || timer.async_wait(use_tuple));
  if (got.index() == 1) co_return "";
  auto [ec, n] = std::get<0>(got);
  co_return ec ? ec.message() : "a " + std::to_string(n) + "-byte datagram";
}

}  // namespace

awaitable<Semantics> semantics(const CommonOptions& options, const Config& config) {
  auto executor = co_await asio::this_coro::executor;
  const auto address = asio::ip::make_address(options.host);
  const std::uint16_t dead = config.dead_port ? config.dead_port : pick_dead_port(executor, options.host);
  std::string message;
  encode(Kind::data, 0, now_us(), std::string(config.size, 'x'), message);
  Semantics out;
  out.dead_port = dead;

  // TCP: connect needs the other side to answer; nobody there, the kernel answers RST.
  tcp::socket tcp_probe(executor);
  auto t0 = Clock::now();
  auto [connect_ec] = co_await tcp_probe.async_connect({address, dead}, use_tuple);
  out.tcp_connect_error = connect_ec ? connect_ec.message() : "none (it connected)";
  out.tcp_connect_refused = connect_ec == asio::error::connection_refused;
  out.tcp_connect_ms = seconds_since(t0) * 1000;

  // UDP unconnected: sendto hands the datagram to the kernel and returns; the
  // ICMP "port unreachable" that comes back is not reported to this socket.
  asio::ip::udp::socket loose(executor, asio::ip::udp::v4());
  auto [send_ec, sent] =
      co_await loose.async_send_to(asio::buffer(message), asio::ip::udp::endpoint(address, dead), use_tuple);
  out.udp_sendto_error = send_ec ? send_ec.message() : "none";
  out.udp_sendto_bytes = sent;
  out.udp_unconnected_then = co_await wait_for_anything(loose, 300);

  // UDP connected: same datagram, but now the kernel ties the ICMP error to us.
  asio::ip::udp::socket tied(executor, asio::ip::udp::v4());
  tied.connect({address, dead});
  auto [tied_ec, tied_sent] = co_await tied.async_send(asio::buffer(message), use_tuple);
  (void)tied_sent;
  out.udp_connected_send_error = tied_ec ? tied_ec.message() : "none";
  const std::string then = co_await wait_for_anything(tied, 1000);
  out.udp_connected_then = then.empty() ? "nothing within 1 s" : then;
  out.udp_connected_refused = then == asio::error::make_error_code(asio::error::connection_refused).message();

  // One message to the live server over TCP: handshake, data, teardown.
  {
    tcp::socket socket = co_await connect_to(options.host, options.port, server_program);
    SendTally tally;
    co_await write_counted(socket, message, tally);
    socket.shutdown(tcp::socket::shutdown_send);
    StreamDecoder decoder;
    std::uint64_t bytes_in = 0;
    co_await read_until(socket, decoder, Kind::report, bytes_in);  // to the server's FIN
    const auto flow = read_tcp_flow(socket.native_handle());
    if (flow) out.tcp_one_message = OneMessage{flow->segs_out, flow->segs_in, flow->segs_out + flow->segs_in};
  }
  // ... and over UDP: one datagram. We ask the server afterwards whether it came.
  {
    asio::ip::udp::socket socket(executor, asio::ip::udp::v4());
    socket.connect({address, options.port});
    auto [ec, n] = co_await socket.async_send(asio::buffer(message), use_tuple);
    (void)n;
    if (ec) throw udp_failure({address, options.port}, ec);
    int attempts = 0;
    const auto report = co_await ask(socket, Kind::done, 1, Kind::report, config.done_attempts, config.done_interval_ms,
                                     server_program, attempts);
    out.udp_one_message_packets = 1;
    out.udp_one_message_arrived = read_account(report).unique == 1;
  }
  co_return out;
}

}  // namespace netlab::transport
