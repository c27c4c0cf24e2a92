#include "early_data.hpp"

#include "io/coro.hpp"
#include "program/logging.hpp"
#include "tls/contexts.hpp"
#include "tls/prf.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>

namespace netlab::https {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

constexpr std::size_t max_request_head = 8192;  // as the Asio path's read_until
constexpr std::size_t max_used_tickets = 10000;
constexpr std::size_t max_early_reads = 1024;  // each returns bytes; recv_max_early_data bounds them too

bool too_much_early_data(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_TOO_MUCH_EARLY_DATA;
}

bool head_complete(const std::string& text) { return text.find("\r\n\r\n") != std::string::npos; }

const tls::Step* client_hello(const tls::Trace& trace) {
  for (const auto& step : trace.steps())
    if (step.direction == tls::Direction::received && step.message == "ClientHello") return &step;
  return nullptr;
}

}  // namespace

EarlyData::EarlyData(ssl::context& context, std::size_t max_bytes, bool anti_replay) {
  counters_.max_early_data = max_bytes;
  counters_.anti_replay = anti_replay;
  SSL_CTX* ctx = context.native_handle();
  // max_early_data goes into the tickets (what a client may send);
  // recv_max_early_data is what this server reads, or skips, before it refuses.
  // Anti-replay stays on (no SSL_OP_NO_ANTI_REPLAY): tickets become single use.
  const auto bytes = static_cast<std::uint32_t>(max_bytes);
  if (SSL_CTX_set_max_early_data(ctx, bytes) != 1 || SSL_CTX_set_recv_max_early_data(ctx, bytes) != 1)
    throw std::runtime_error("SSL_CTX_set_max_early_data failed");
  // Without anti-replay, tickets stay stateless and can be used again: a
  // replayed first flight is then accepted like the original.
  if (!anti_replay) SSL_CTX_set_options(ctx, SSL_OP_NO_ANTI_REPLAY);
}

std::string EarlyData::counts_header() const {
  const auto& c = counters_;
  std::string text = "offered=" + std::to_string(c.offered) + "; accepted=" + std::to_string(c.accepted) +
                     "; served=" + std::to_string(c.requests_served);
  for (const char* reason :
       {reason_ticket_used, reason_ticket_unknown, reason_no_ticket, reason_too_much, reason_other, reason_not_read}) {
    const auto found = c.rejected.find(reason);
    text += "; " + std::string(reason) + "=" + std::to_string(found == c.rejected.end() ? 0 : found->second);
  }
  return text;
}

void EarlyData::remember_used(const std::vector<std::uint8_t>& identity) {
  if (used_tickets_.size() < max_used_tickets) used_tickets_.insert(tls::sha256_hex(identity));
}

bool EarlyData::used(const std::vector<std::uint8_t>& identity) const {
  return used_tickets_.contains(tls::sha256_hex(identity));
}

Connection::Connection(ssl_stream& stream, EarlyData& early, const tls::Trace& trace, std::string who)
    : stream_(stream), early_(early), trace_(trace), who_(std::move(who)) {}

// A look at the first record, left in the socket for OpenSSL: does its
// ClientHello carry the early_data extension? A ClientHello that has not
// arrived whole in the first read goes the Asio way (its early data is then
// rejected, and counted so).
asio::awaitable<bool> Connection::offers_early_data(boost::system::error_code& wait_ec) {
  tcp::socket& socket = stream_.next_layer();
  std::tie(wait_ec) = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
  if (wait_ec) co_return false;
  std::array<std::uint8_t, 5 + 16384> first{};
  boost::system::error_code ec;
  const std::size_t n = socket.receive(asio::buffer(first), tcp::socket::message_peek, ec);
  if (ec || n < 5 || first[0] != 22) co_return false;  // not a handshake record: OpenSSL will say why
  const std::size_t length = (std::size_t{first[3]} << 8) | first[4];
  if (n < 5 + length) co_return false;
  const auto hello = tls::decode_handshake(tls::Direction::received, std::span(first).subspan(5, length), false);
  co_return hello.message == "ClientHello" && hello.early_data;
}

// Once OpenSSL has read the ClientHello: accepted, or rejected and why.
void Connection::classify() {
  SSL* ssl = stream_.native_handle();
  const tls::Step* hello = client_hello(trace_);
  const std::vector<std::uint8_t> identity = hello ? hello->psk_identity : std::vector<std::uint8_t>{};
  if (SSL_get_early_data_status(ssl) == SSL_EARLY_DATA_ACCEPTED) {
    ++early_.counters().accepted;
    early_.remember_used(identity);
    status_ = "accepted";
    spdlog::info("0-RTT {}: early data accepted ({})", who_,
                 early_.counters().anti_replay ? "its ticket is used up: single use"
                                               : "anti-replay OFF: its ticket stays usable");
    return;
  }
  const char* reason = identity.empty()               ? reason_no_ticket
                       : SSL_session_reused(ssl) == 1 ? reason_other
                       : early_.used(identity)        ? reason_ticket_used
                                                      : reason_ticket_unknown;
  ++early_.counters().rejected[reason];
  status_ = std::string("rejected: ") + reason;
  spdlog::warn("0-RTT {}: early data rejected: {}{} — skipped, never read as a request", who_, reason,
               reason == reason_ticket_used ? " (a replay: RFC 8446 8)" : "");
}

// SSL_read_early_data until the request head is complete or the early data ends.
asio::awaitable<void> Connection::read_early_request(boost::system::error_code& ec) {
  std::array<char, 4096> chunk{};
  bool classified = false;
  for (std::size_t reads = 0; reads < max_early_reads; ++reads) {
    int outcome = SSL_READ_EARLY_DATA_ERROR;
    std::size_t n = 0;
    co_await pump_->call(
        stream_.next_layer(),
        [&](SSL* ssl) {
          outcome = SSL_read_early_data(ssl, chunk.data(), chunk.size(), &n);
          return outcome == SSL_READ_EARLY_DATA_ERROR ? 0 : 1;
        },
        ec);
    if (!classified && (!ec || too_much_early_data(ec)) && client_hello(trace_)) {
      classify();
      classified = true;
    }
    if (ec) co_return;
    if (outcome == SSL_READ_EARLY_DATA_SUCCESS) early_request_.append(chunk.data(), n);
    if (head_complete(early_request_)) {
      early_request_complete_ = true;
      co_return;
    }
    if (outcome == SSL_READ_EARLY_DATA_FINISH) co_return;
  }
  ec = asio::error::message_size;
}

asio::awaitable<void> Connection::handshake(boost::system::error_code& ec) {
  SSL* ssl = stream_.native_handle();
  bool offered = false;
  if (early_.enabled()) {
    offered = co_await offers_early_data(ec);
    // Cancelled by the handshake's deadline: any further co_await would throw.
    if (ec) co_return;
  }
  if (!offered) {
    std::tie(ec) = co_await stream_.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec || !early_.enabled() || SSL_version(ssl) != TLS1_3_VERSION) co_return;
    const tls::Step* hello = client_hello(trace_);
    if (hello && hello->early_data) {  // offered, but the ClientHello came in pieces: OpenSSL skipped it
      ++early_.counters().offered;
      ++early_.counters().rejected[reason_not_read];
      status_ = std::string("rejected: ") + reason_not_read;
    } else {
      ++early_.counters().not_offered;
    }
    co_return;
  }
  ++early_.counters().offered;
  tls::skip_h2(ssl);  // the early request is read as HTTP/1.1, and this stream stays ours (not the h2 session's)
  pump_.emplace(ssl);
  co_await read_early_request(ec);
  // Accepted, with the whole request: answer before the client's Finished.
  // Otherwise finish the handshake now (rejected early data is skipped here).
  if (!ec && !(status_ == "accepted" && early_request_complete_))
    co_await pump_->call(
        stream_.next_layer(), [](SSL* s) { return SSL_do_handshake(s); }, ec);
  if (too_much_early_data(ec)) {
    if (status_ == "accepted") --early_.counters().accepted;
    ++early_.counters().rejected[reason_too_much];
    status_ = std::string("rejected: ") + reason_too_much;
    failure_reported_ = true;
    spdlog::warn(
        "0-RTT {}: more early data than the {} B this server takes (max_early_data) — connection refused, "
        "unexpected_message alert (RFC 8446 4.2.10)",
        who_, early_.counters().max_early_data);
  }
}

asio::awaitable<void> Connection::read_request(std::string& request, boost::system::error_code& ec) {
  if (!pump_) {
    // A request head larger than 8 KiB is not one this lab sends: the read stops there.
    std::tie(ec, std::ignore) = co_await asio::async_read_until(
        stream_, asio::dynamic_buffer(request, max_request_head), "\r\n\r\n", use_tuple);
    co_return;
  }
  request = early_request_;
  std::array<char, 4096> chunk{};
  while (!head_complete(request)) {
    if (request.size() > max_request_head) {
      ec = asio::error::message_size;
      co_return;
    }
    std::size_t n = 0;
    co_await pump_->call(
        stream_.next_layer(), [&](SSL* s) { return SSL_read_ex(s, chunk.data(), chunk.size(), &n); }, ec);
    if (ec) co_return;
    request.append(chunk.data(), n);
  }
  if (early_request_complete_) ++early_.counters().requests_served;
}

asio::awaitable<void> Connection::send_page(const std::string& response, boost::system::error_code& ec) {
  if (!pump_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(response), use_tuple);
    if (ec) co_return;
    // close_notify: the client learns the page is complete, not cut by an attacker.
    std::tie(ec) = co_await stream_.async_shutdown(use_tuple);
    co_return;
  }
  tcp::socket& socket = stream_.next_layer();
  std::size_t written = 0;
  if (SSL_is_init_finished(stream_.native_handle()) != 1) {
    // 0.5-RTT: the page goes out right behind our Finished, before the client's:
    // its first byte reaches the client one round trip after its ClientHello.
    co_await pump_->call(
        socket, [&](SSL* s) { return SSL_write_early_data(s, response.data(), response.size(), &written); }, ec);
    if (ec) co_return;
    // The rest of the early data (none from a client that sent one request),
    // then EndOfEarlyData and the client's Finished.
    std::array<char, 4096> discard{};
    int outcome = SSL_READ_EARLY_DATA_SUCCESS;
    for (std::size_t reads = 0; outcome != SSL_READ_EARLY_DATA_FINISH && reads < max_early_reads; ++reads) {
      std::size_t n = 0;
      co_await pump_->call(
          socket,
          [&](SSL* s) {
            outcome = SSL_read_early_data(s, discard.data(), discard.size(), &n);
            return outcome == SSL_READ_EARLY_DATA_ERROR ? 0 : 1;
          },
          ec);
      if (ec) co_return;
    }
    co_await pump_->call(
        socket, [](SSL* s) { return SSL_do_handshake(s); }, ec);
  } else {
    co_await pump_->call(
        socket, [&](SSL* s) { return SSL_write_ex(s, response.data(), response.size(), &written); }, ec);
  }
  if (ec) co_return;
  // close_notify, then the client's (or its leaving).
  co_await pump_->call(
      socket, [](SSL* s) { return SSL_shutdown(s) >= 0 ? 1 : -1; }, ec);
  if (!ec)
    co_await pump_->call(
        socket, [](SSL* s) { return SSL_shutdown(s); }, ec);
}

void print_early_data(std::ostream& out, const EarlyDataCounters& c) {
  if (!c.max_early_data) return;
  out << "  0-RTT (max_early_data " << c.max_early_data << " B, anti-replay " << (c.anti_replay ? "on" : "OFF")
      << "): offered " << c.offered << ", accepted " << c.accepted << ", requests answered from early data "
      << c.requests_served << ", not offered " << c.not_offered << "\n";
  for (const auto& [reason, count] : c.rejected) out << "  0-RTT rejected, " << reason << ": " << count << "\n";
}

std::string Connection::headers() const {
  if (!early_.enabled()) return "";
  return "X-Netlab-Early-Data: " + status_ + "\r\nX-Netlab-Early-Data-Counts: " + early_.counts_header() + "\r\n";
}

}  // namespace netlab::https
