#include "zero_rtt.hpp"

#include "capture/pcap.hpp"
#include "https/notes.hpp"
#include "io/coro.hpp"
#include "program/logging.hpp"
#include "tls/memory_bio.hpp"
#include "tls/openssl.hpp"
#include "tls/tls.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <array>
#include <set>

namespace netlab::https {

namespace asio = boost::asio;

namespace {

using SessionPtr = std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>;

constexpr std::size_t max_page = 1u << 20;
constexpr double replay_wait_seconds = 2;  // for the server's first answer to the replayed flight
constexpr int capture_reads = 20;          // tcpdump -U writes each packet at once; 20 x 50 ms at most

std::string early_status_name(int status) {
  switch (status) {
    case SSL_EARLY_DATA_ACCEPTED:
      return "accepted";
    case SSL_EARLY_DATA_REJECTED:
      return "rejected";
    default:
      return "not sent";
  }
}

// One connection: TCP, the handshake (resuming `session` when given; with
// `early`, the request goes as early data), the page, close_notify. Returns the
// session to resume next (its last ticket).
asio::awaitable<SessionPtr> exchange(const std::string& host, std::uint16_t port, SSL_CTX* ctx,
                                     const std::string& server_name, const std::string& request, SSL_SESSION* session,
                                     bool early, EarlyConnection& c, tls::Trace* trace,
                                     std::vector<std::uint8_t>* first_flight) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  // Each flight leaves at once: Nagle would hold a second small write for the
  // peer's (delayed) ACK, 40 ms on Linux, on every connection of the step.
  socket.set_option(tcp::no_delay(true));
  tls::Owned<SSL> owned(SSL_new(ctx));
  if (!owned) tls::fail("SSL_new");
  SSL* ssl = owned.get();
  SSL_set_connect_state(ssl);
  tls::set_expected_server_name(ssl, server_name);
  if (session && SSL_set_session(ssl, session) != 1) tls::fail("SSL_set_session");
  if (trace) trace->attach(ssl);
  tls::MemoryBioPump pump(ssl);
  c.client_port = socket.local_endpoint().port();
  boost::system::error_code ec;
  const auto failed = [&](const std::string& step) {
    c.error = step + ": " + ec.message();
    spdlog::warn("0-RTT {}: {}", who, c.error);
  };
  if (early) {
    // The GET rides in the first flight, encrypted with the ticket's early traffic key.
    co_await pump.call(
        socket, [&](SSL* s) { return SSL_write_early_data(s, request.data(), request.size(), &c.early_data_bytes); },
        ec);
    if (ec) {
      failed("write early data");
      co_return SessionPtr(nullptr, SSL_SESSION_free);
    }
    c.early_data_sent = true;
    c.round_trips_to_answer = pump.flights_sent();
  }
  if (first_flight) *first_flight = pump.first_flight();
  co_await pump.call(
      socket, [](SSL* s) { return SSL_do_handshake(s); }, ec);
  c.resumed = SSL_session_reused(ssl) == 1;
  c.early_data_status = early_status_name(SSL_get_early_data_status(ssl));
  if (ec) {
    failed("handshake");
    co_return SessionPtr(nullptr, SSL_SESSION_free);
  }
  if (!c.early_data_sent || c.early_data_status != "accepted") {
    // Rejected early data is lost: the request goes again, after Finished.
    std::size_t written = 0;
    co_await pump.call(
        socket, [&](SSL* s) { return SSL_write_ex(s, request.data(), request.size(), &written); }, ec);
    if (ec) {
      failed("write request");
      co_return SessionPtr(nullptr, SSL_SESSION_free);
    }
    c.round_trips_to_answer = pump.flights_sent();
  }
  std::string response;
  std::array<char, 16384> chunk{};
  while (response.size() <= max_page) {
    std::size_t n = 0;
    co_await pump.call(
        socket, [&](SSL* s) { return SSL_read_ex(s, chunk.data(), chunk.size(), &n); }, ec);
    response.append(chunk.data(), n);
    if (ec) break;
  }
  if (ec != asio::error::eof) {
    failed("read page");
    co_return SessionPtr(nullptr, SSL_SESSION_free);
  }
  co_await pump.call(
      socket, [](SSL* s) { return SSL_shutdown(s) >= 0 ? 1 : -1; }, ec);  // our close_notify
  const auto [head, body] = split_response(response);
  c.status_line = head.substr(0, head.find("\r\n"));
  c.server_says = header_value(head, "x-netlab-early-data");
  c.server_counts = header_value(head, "x-netlab-early-data-counts");
  spdlog::info("0-RTT {}: {}{}, early data {}; server: {}", who, c.resumed ? "resumed" : "full handshake",
               c.early_data_sent ? ", GET sent as early data" : "", c.early_data_status, c.server_says);
  co_return SessionPtr(SSL_get1_session(ssl), SSL_SESSION_free);
}

// The first flight as the capture holds it: what the client of the connection
// from `client_port` sent before the server's first byte (each segment once).
std::vector<std::uint8_t> flight_in_capture(const std::string& path, std::uint16_t client_port) {
  std::vector<Packet> packets;
  try {
    packets = read_pcap(path);
  } catch (const std::exception&) {
    return {};  // not written yet, or cut mid-record while tcpdump writes
  }
  std::vector<std::uint8_t> flight;
  std::set<std::uint32_t> seen;
  for (const auto& p : packets) {
    if (!p.is_tcp || p.payload.empty()) continue;
    if (p.dst_port == client_port) return flight;  // the server's first bytes: the flight is over
    if (p.src_port == client_port && seen.insert(p.seq).second)
      flight.insert(flight.end(), p.payload.begin(), p.payload.end());
  }
  return {};  // the server's answer is not in the file yet
}

// The bytes to replay: the capture's, when it has them, else the client's own record.
asio::awaitable<std::vector<std::uint8_t>> bytes_to_replay(const ZeroRtt& z, const std::vector<std::uint8_t>& recorded,
                                                           Replay& r) {
  const std::string own =
      "the client's own record of its first flight (the bytes it wrote to the socket before the "
      "server's first byte came back)";
  if (z.capture.empty()) {
    r.source = own;
    co_return recorded;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int read = 0; read < capture_reads; ++read) {
    auto flight = flight_in_capture(z.capture, z.early.client_port);
    if (!flight.empty()) {
      r.source = z.capture + ", the connection from port " + std::to_string(z.early.client_port) +
                 ": its first flight (" + (flight == recorded ? "equal to" : "DIFFERENT from") +
                 " the client's own record)";
      co_return flight;
    }
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(use_tuple);
  }
  r.source = own + "; the capture " + z.capture + " did not hold it";
  co_return recorded;
}

// The attacker: the same bytes on a new TCP connection. It has no keys, so it
// reads the server's first record and leaves; the server finds out the rest.
asio::awaitable<void> replay_first_flight(const std::string& host, std::uint16_t port,
                                          const std::vector<std::uint8_t>& flight, Replay& r) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-https-server");
  const std::string who = describe_connection(socket);
  if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(flight), use_tuple); ec) {
    r.error = "replay write: " + ec.message();
    co_return;
  }
  std::vector<std::uint8_t> answer(5);
  boost::system::error_code ec;
  const auto read_answer = [&]() -> asio::awaitable<void> {
    std::size_t n = 0;
    std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(answer), use_tuple);
    r.bytes_back = n;
    if (ec) co_return;
    answer.resize(5 + ((std::size_t{answer[3]} << 8) | answer[4]));
    std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(answer.data() + 5, answer.size() - 5), use_tuple);
    r.bytes_back += n;
  };
  if (!co_await finish_within(read_answer(), replay_wait_seconds)) {
    r.server_answer = "nothing within " + std::to_string(replay_wait_seconds) + " s";
  } else if (ec) {
    r.server_answer = "connection ended: " + ec.message();
  } else if (answer[0] == 21) {
    r.server_answer = "an alert";
  } else if (answer[0] == 22) {
    const auto hello = tls::decode_handshake(tls::Direction::received, std::span(answer).subspan(5), true);
    r.server_answer = hello.message + (hello.pre_shared_key ? " accepting the PSK (the ticket)"
                                                            : " without pre_shared_key: a full handshake, the "
                                                              "ticket not taken, the early data undecryptable");
  } else {
    r.server_answer = "a record of type " + std::to_string(answer[0]);
  }
  spdlog::info("0-RTT replay {}: {} B sent again; the server answered {}", who, flight.size(), r.server_answer);
}

}  // namespace

asio::awaitable<void> zero_rtt(const std::string& host, std::uint16_t port, asio::ssl::context& context,
                               const std::string& server_name, const std::string& path, ZeroRtt& z) {
  SSL_CTX* ctx = context.native_handle();
  const std::string head = "GET " + path + " HTTP/1.1\r\nHost: " + server_name +
                           "\r\nUser-Agent: netlab-https-client\r\nConnection: close\r\n";
  const std::string request = head + "\r\n";
  // 1. A full handshake: its NewSessionTicket is the first ticket.
  SessionPtr session =
      co_await exchange(host, port, ctx, server_name, request, nullptr, false, z.full, nullptr, nullptr);
  if (!session) {
    z.early.error = "no ticket: the full handshake's connection failed: " + z.full.error;
    co_return;
  }
  // 2. Resumed without early data: 1 round trip before the request, as in --resume.
  session = co_await exchange(host, port, ctx, server_name, request, session.get(), false, z.resumed, nullptr, nullptr);
  if (!session) {
    z.early.error = "no ticket: the resumed connection failed: " + z.resumed.error;
    co_return;
  }
  z.max_early_data = SSL_SESSION_get_max_early_data(session.get());
  if (z.max_early_data == 0) {
    z.early.error = "the ticket allows no early data (max_early_data 0): is the server's --max-early-data 0?";
    co_return;
  }
  // --early-data-pad past what the ticket allows: a client that ignores the limit (bad input).
  const std::string early_request = z.pad ? head + "X-Netlab-Pad: " + std::string(z.pad, 'x') + "\r\n\r\n" : request;
  if (early_request.size() > z.max_early_data &&
      SSL_SESSION_set_max_early_data(session.get(), static_cast<std::uint32_t>(early_request.size())) != 1)
    tls::fail("SSL_SESSION_set_max_early_data");
  // 3. 0-RTT: the GET in the first flight.
  tls::Trace trace;
  std::vector<std::uint8_t> flight;
  co_await exchange(host, port, ctx, server_name, early_request, session.get(), true, z.early, &trace, &flight);
  z.trace = trace_json(trace.steps(), true);
  if (z.early.early_data_status != "accepted" || !z.early.error.empty()) co_return;  // nothing to replay
  // 4. The replay, then the server's counts on a connection of its own.
  Replay& r = z.replay.emplace();
  const std::vector<std::uint8_t> replayed = co_await bytes_to_replay(z, flight, r);
  r.bytes = replayed.size();
  co_await replay_first_flight(host, port, replayed, r);
  EarlyConnection after;
  co_await exchange(host, port, ctx, server_name, request, nullptr, false, after, nullptr, nullptr);
  r.counts_after = after.server_counts;
  if (!after.error.empty()) r.error = "counts after the replay: " + after.error;
}

}  // namespace netlab::https
