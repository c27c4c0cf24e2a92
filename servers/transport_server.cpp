// netlab-transport-server — the tcp和udp lab's server.
//
// Receives the same numbered message stream over TCP and over UDP, on one
// port number (--proto both, the default: UDP is bound first, TCP takes the
// same number), and keeps an account per sender: received, lost (numbers that
// never came), reordered (came after a higher number), duplicated, corrupted.
// When the sender says "done, I sent N" (a done message; over UDP it is resent
// until answered), the account goes back to it as a report.
//
// A slow reader (--reader-delay-us, a small --rcvbuf) lets the receive buffer
// fill: TCP then closes its window and the sender waits (flow control); UDP
// has no window, so the kernel drops datagrams. Each UDP datagram carries the
// socket's drop count (SO_RXQ_OVFL) and /proc/net/snmp counts UdpRcvbufErrors,
// so the report sets our loss against the kernel's own count.
// A TCP connection that moves no byte for --idle-timeout (default 300 s) is closed.
#include "io/coro.hpp"
#include "kernel/netstat.hpp"
#include "kernel/transport_kernel.hpp"
#include "program/server.hpp"
#include "proto/transport_message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>
#include <map>
#include <optional>

namespace {

using namespace netlab;
namespace tr = netlab::transport;
using asio::awaitable;

enum class Proto { tcp, udp, both };

const ProgramInfo program_info{
    "transport", "The tcp和udp lab's server: accounts for a numbered message stream over TCP and UDP.", 7001};

struct Config {
  Proto proto = Proto::both;
  int rcvbuf = 0;  // 0 = the kernel's default
  std::uint32_t reader_delay_us = 0;
  double idle_timeout = default_idle_timeout;  // TCP connections
};

struct Counters {
  std::size_t tcp_connections = 0, tcp_bad_streams = 0, tcp_messages = 0, tcp_idle_closed = 0;
  std::size_t udp_datagrams = 0, udp_bad_datagrams = 0, udp_messages = 0, udp_senders = 0;
  std::size_t reports_sent = 0;
};
BOOST_DESCRIBE_STRUCT(Counters, (),
                      (tcp_connections, tcp_bad_streams, tcp_messages, tcp_idle_closed, udp_datagrams,
                       udp_bad_datagrams, udp_messages, udp_senders, reports_sent))

// Bad input is logged, but a flood of it must not flood the log.
bool worth_logging(std::size_t count) { return count <= 10 || count % 1000 == 0; }

awaitable<void> pause_reader(std::uint32_t microseconds) {
  if (microseconds == 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::microseconds(microseconds));
  co_await timer.async_wait(use_tuple);
}

boost::json::object accounting(const tr::SequenceAccounting& account, std::uint64_t expected) {
  return {{"expected", expected},
          {"received", account.received()},
          {"unique", account.unique()},
          {"lost", account.lost(expected)},
          {"reordered", account.reordered()},
          {"duplicated", account.duplicated()},
          {"corrupted", account.corrupted()},
          {"bytes", account.bytes()}};
}

// ---- UDP -------------------------------------------------------------------

struct UdpSender {
  tr::SequenceAccounting account;
  std::uint32_t drops_before = 0;  // the socket's drop count when this sender's first datagram was queued
  std::optional<std::int64_t> rcvbuf_errors_before;
  std::string report;  // once done: the encoded report, resent for every further done
};

constexpr std::size_t max_udp_senders = 1024;

// The account of one sender, once it said "done, I sent N" on attempt A.
std::string udp_report(UdpSender& sender, std::uint64_t expected, std::uint32_t attempt, std::uint32_t drops_now,
                       const Config& config, int rcvbuf) {
  auto report = accounting(sender.account, expected);
  const std::uint32_t socket_drops = drops_now - sender.drops_before;
  // Earlier copies of "done" that never reached us were dropped too: on
  // loopback only this socket's full buffer drops, so they are in its count.
  const std::uint32_t earlier_done = attempt > 0 ? attempt - 1 : 0;
  report["proto"] = "udp";
  report["socket_drops"] = socket_drops;
  report["done_attempt"] = attempt;
  report["socket_drops_of_data"] = socket_drops >= earlier_done ? socket_drops - earlier_done : 0;
  const auto errors_now = read_snmp_counter("Udp", "RcvbufErrors");
  if (errors_now && sender.rcvbuf_errors_before)
    report["udp_rcvbuf_errors_delta"] = *errors_now - *sender.rcvbuf_errors_before;
  report["rcvbuf"] = rcvbuf;
  report["reader_delay_us"] = config.reader_delay_us;
  std::string bytes;
  tr::encode(tr::Kind::report, expected, 0, boost::json::serialize(report), bytes);
  return bytes;
}

// `errors_when_idle`: UdpRcvbufErrors read while our queue was empty, so before
// any datagram still to be read was queued: a baseline no later drop escapes.
void account_udp(asio::ip::udp::socket& socket, std::string_view datagram, const ReceivedDatagram& got,
                 std::map<asio::ip::udp::endpoint, UdpSender>& senders, std::optional<std::int64_t> errors_when_idle,
                 const Config& config, Counters& counters, std::string& reply) {
  ++counters.udp_datagrams;
  auto it = senders.find(got.from);
  if (it == senders.end()) {
    if (senders.size() >= max_udp_senders) std::erase_if(senders, [](auto& s) { return !s.second.report.empty(); });
    if (senders.size() >= max_udp_senders) {
      ++counters.udp_bad_datagrams;
      if (worth_logging(counters.udp_bad_datagrams))
        spdlog::warn("udp: over {} senders, ignoring {}", max_udp_senders, got.from.address().to_string());
      return;
    }
    it = senders.emplace(got.from, UdpSender{}).first;
    it->second.drops_before = got.socket_drops;
    it->second.rcvbuf_errors_before = errors_when_idle;
    ++counters.udp_senders;
    spdlog::info("udp: first datagram from {}:{}", got.from.address().to_string(), got.from.port());
  }
  UdpSender& sender = it->second;
  const auto decoded =
      got.truncated ? tr::Decoded{std::nullopt, tr::DecodeError::oversized} : tr::decode_datagram(datagram);
  if (decoded.error) {
    ++counters.udp_bad_datagrams;
    sender.account.on_corrupted();
    if (worth_logging(counters.udp_bad_datagrams))
      spdlog::warn("udp {}:{}: {}-byte datagram: {} (bad datagrams so far: {})", got.from.address().to_string(),
                   got.from.port(), got.size, tr::to_string(*decoded.error), counters.udp_bad_datagrams);
    return;
  }
  const auto& message = *decoded.message;
  switch (message.header.kind) {
    case tr::Kind::data:
      if (!sender.report.empty()) {  // a new stream from the same address (a relay, say)
        sender = UdpSender{};
        sender.drops_before = got.socket_drops;
        sender.rcvbuf_errors_before = errors_when_idle;
      }
      ++counters.udp_messages;
      sender.account.on_message(message.header.sequence, message.payload.size());
      return;
    case tr::Kind::done: {
      std::uint32_t attempt = 0;
      for (unsigned char c : message.payload.substr(0, 4)) attempt = (attempt << 8) | c;
      if (sender.report.empty()) {
        sender.report = udp_report(sender, message.header.sequence, attempt, got.socket_drops, config,
                                   receive_buffer(socket.native_handle()));
        spdlog::info("udp {}:{}: done after {} messages: received {}, lost {}", got.from.address().to_string(),
                     got.from.port(), message.header.sequence, sender.account.unique(),
                     sender.account.lost(message.header.sequence));
      }
      reply = sender.report;
      return;
    }
    default:
      ++counters.udp_bad_datagrams;
      spdlog::warn("udp {}:{}: unexpected message kind {}", got.from.address().to_string(), got.from.port(),
                   static_cast<int>(message.header.kind));
  }
}

awaitable<void> serve_udp(asio::ip::udp::socket& socket, const Config& config, Counters& counters) {
  std::map<asio::ip::udp::endpoint, UdpSender> senders;
  std::vector<char> buffer(65536);
  std::string reply;
  std::optional<std::int64_t> errors_when_idle = read_snmp_counter("Udp", "RcvbufErrors");
  for (;;) {
    auto [ec] = co_await socket.async_wait(asio::ip::udp::socket::wait_read, use_tuple);
    if (ec) co_return;  // closed on stop
    // Read what is queued, one datagram at a time, as slowly as asked (a
    // bounded batch, so TCP sessions get their turn under a flood).
    for (int batch = 0; batch < 256; ++batch) {
      ReceivedDatagram got;
      if (receive_datagram(socket.native_handle(), buffer, got)) {
        // The queue looks empty: read the counter, then make sure it still is.
        const auto errors = read_snmp_counter("Udp", "RcvbufErrors");
        if (receive_datagram(socket.native_handle(), buffer, got)) {
          errors_when_idle = errors;
          break;
        }
      }
      reply.clear();
      account_udp(socket, {buffer.data(), got.size}, got, senders, errors_when_idle, config, counters, reply);
      if (!reply.empty()) {
        auto [send_ec, sent] = co_await socket.async_send_to(asio::buffer(reply), got.from, use_tuple);
        (void)sent;
        if (send_ec)
          spdlog::warn("udp: send report: {}", send_ec.message());
        else
          ++counters.reports_sent;
      }
      co_await pause_reader(config.reader_delay_us);
    }
  }
}

// ---- TCP -------------------------------------------------------------------

awaitable<void> tcp_session(tcp::socket socket, const Config& config, Counters& counters,
                            ConnectionRegistry& registry) {
  ServedConnection served(socket, registry, config.idle_timeout);
  const std::string& who = served.who();
  tr::StreamDecoder decoder;
  tr::SequenceAccounting account;
  std::vector<tr::StreamDecoder::Owned> messages;
  std::vector<char> buffer(65536);
  std::string ending;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) {
      if (served.idle().expired()) {
        ++counters.tcp_idle_closed;
        ending = "idle timeout";
      } else if (ec == asio::error::eof && decoder.buffered() > 0) {
        ++counters.tcp_bad_streams;
        spdlog::warn("{}: the stream ended inside a message ({} bytes of it)", who, decoder.buffered());
        ending = "truncated message";
      } else {
        ending = is_normal_ending(ec) ? "end of stream" : "read: " + ec.message();
      }
      break;
    }
    // A slow reader (--reader-delay-us) works through its full receive buffer
    // while the kernel moves no byte: that is progress, not idleness.
    served.idle().touch();
    messages.clear();
    const auto error = decoder.feed({buffer.data(), n}, messages);
    bool stop = false;
    for (const auto& message : messages) {
      if (message.header.kind == tr::Kind::data) {
        ++counters.tcp_messages;
        account.on_message(message.header.sequence, message.payload.size());
        co_await pause_reader(config.reader_delay_us);
      } else if (message.header.kind == tr::Kind::done) {
        auto report = accounting(account, message.header.sequence);
        report["proto"] = "tcp";
        report["rcvbuf"] = receive_buffer(socket.native_handle());
        report["reader_delay_us"] = config.reader_delay_us;
        if (auto flow = read_tcp_flow(socket.native_handle())) report["receiver_rcv_space"] = flow->rcv_space;
        std::string frame;
        tr::encode(tr::Kind::report, message.header.sequence, 0, boost::json::serialize(report), frame);
        auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(frame), use_tuple);
        (void)written;
        if (write_ec) {
          ending = "write report: " + write_ec.message();
          stop = true;
          break;
        }
        ++counters.reports_sent;
        spdlog::info("{}: done after {} messages: received {}, lost {}", who, message.header.sequence, account.unique(),
                     account.lost(message.header.sequence));
      }
    }
    if (stop) break;
    if (error) {
      // Stop parsing: after a bad header nothing later in the stream can be trusted.
      ++counters.tcp_bad_streams;
      spdlog::warn("{}: {} — closing this connection", who, tr::to_string(*error));
      ending = "bad message";
      break;
    }
  }
  served.down(ending + "; " + std::to_string(account.received()) + " messages");
}

// ---- binding both on one port number ----------------------------------------

struct Sockets {
  std::optional<asio::ip::udp::socket> udp_socket;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
};

// UDP first (port 0 picks a free number), then TCP on that number. With
// --port 0 the TCP number may be taken by someone else: try another, bounded.
Sockets bind_sockets(asio::io_context& io, const CommonOptions& options, const Config& config) {
  constexpr std::string_view program = "netlab-transport-server";
  for (int attempt = 1;; ++attempt) {
    Sockets s;
    std::uint16_t port = options.port;
    if (config.proto != Proto::tcp) {
      s.udp_socket.emplace(open_udp_socket(io, options.host, port, program));
      port = s.udp_socket->local_endpoint().port();
      enable_drop_count(s.udp_socket->native_handle());
      if (config.rcvbuf > 0) set_receive_buffer(s.udp_socket->native_handle(), config.rcvbuf);
    }
    try {
      if (config.proto != Proto::udp) {
        s.acceptor.emplace(open_listener(io, options.host, port, program));
        // Accepted sockets inherit the listener's buffer (and so the window it advertises).
        if (config.rcvbuf > 0) set_receive_buffer(s.acceptor->native_handle(), config.rcvbuf);
        port = s.acceptor->local_endpoint().port();
      }
    } catch (const std::exception& e) {
      if (options.port != 0 || config.proto != Proto::both || attempt >= 20) throw;
      spdlog::debug("tcp port {} taken ({}): trying another", port, e.what());
      continue;
    }
    s.port = port;
    return s;
  }
}

std::string_view proto_name(Proto proto) { return proto == Proto::tcp ? "tcp" : proto == Proto::udp ? "udp" : "both"; }

}  // namespace

int transport_server(ServerProgram& program, CLI::App& app, Config& config) {
  app.add_option("--proto", config.proto, "tcp | udp | both (both: one port number for TCP and UDP)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Proto>{{"tcp", Proto::tcp}, {"udp", Proto::udp}, {"both", Proto::both}}))
      ->capture_default_str();
  add_bounded_option(app, "--rcvbuf", config.rcvbuf, "SO_RCVBUF in bytes (0 = the kernel's default)", 0, 64 << 20);
  add_bounded_option(app, "--reader-delay-us", config.reader_delay_us, "pause after each message: a slow reader", 0u,
                     1'000'000u);
  program.add_idle_timeout(config.idle_timeout);
  program.add_max_connections();
  // UDP beside TCP on one port number (or UDP alone): this server opens its own sockets.
  std::optional<asio::ip::udp::socket> udp_socket;
  program.open_sockets([&](ServerRun& run) {
    Sockets sockets = bind_sockets(run.io(), run.options(), config);
    udp_socket = std::move(sockets.udp_socket);
    if (sockets.acceptor) run.acceptor() = std::move(*sockets.acceptor);
    return tcp::endpoint(parse_host(run.options().host, "--host"), sockets.port);
  });
  Counters counters;
  return program.run([&](ServerRun& run) {
    run.at_exit([&] { udp_socket.reset(); });  // made on run.io(): gone before it
    run.on_stop([&](std::string_view) {
      boost::system::error_code ignored;
      if (udp_socket) udp_socket->close(ignored);
    });
    if (run.acceptor().is_open())
      run.serve([&](tcp::socket socket) {
        ++counters.tcp_connections;
        return tcp_session(std::move(socket), config, counters, run.registry());
      });
    if (udp_socket) asio::co_spawn(run.io(), serve_udp(*udp_socket, config, counters), asio::detached);
    const int rcvbuf =
        udp_socket ? receive_buffer(udp_socket->native_handle()) : receive_buffer(run.acceptor().native_handle());
    run.listening(fmt::format("{}, SO_RCVBUF {} bytes, reader delay {} us", proto_name(config.proto), rcvbuf,
                              config.reader_delay_us));
    run.report([&, rcvbuf](Result& result, std::ostream& out) {
      result.set_params(boost::json::object{{"proto", proto_name(config.proto)},
                                            {"rcvbuf", config.rcvbuf},
                                            {"reader_delay_us", config.reader_delay_us},
                                            {"idle_timeout", config.idle_timeout}});
      result.set_observed(counters);
      result.observed()["socket_rcvbuf"] = rcvbuf;
      out << "netlab-transport-server (" << proto_name(config.proto) << ") on " << to_string(run.bound())
          << " stopped by " << run.stop_reason() << " after " << run.seconds() << " s\n"
          << "  tcp: connections " << counters.tcp_connections << ", messages " << counters.tcp_messages
          << ", bad streams " << counters.tcp_bad_streams << ", closed idle " << counters.tcp_idle_closed
          << ", refused (--max-connections " << run.limit().max() << ") " << run.limit().refused() << "\n"
          << "  udp: senders " << counters.udp_senders << ", datagrams " << counters.udp_datagrams << ", messages "
          << counters.udp_messages << ", bad datagrams " << counters.udp_bad_datagrams << "\n  reports sent "
          << counters.reports_sent << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, transport_server); }
