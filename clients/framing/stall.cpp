// --write-write-read: the pattern that meets Nagle's algorithm and the
// receiver's delayed ACK. Each request is a length header written on its own,
// then the body written on its own, then a wait for the server's echo. With
// Nagle on (RFC 896; RFC 9293 §3.7.4), the body — a small segment while the
// header is still unacknowledged — is held until the header's ACK comes; the
// server, which has nothing to answer before the body arrives, delays that
// ACK (RFC 1122 §4.2.3.2; Linux: at least TCP_DELACK_MIN, 40 ms). Three ways
// out are timed beside it: TCP_NODELAY, one gathered write (writev), and
// TCP_CORK around the two writes. Each variant runs on its own connection,
// and the kernel's count of delayed ACKs (TcpExt DelayedACKs, this network
// namespace) is read around it.
#include "framing.hpp"

#include "kernel/netstat.hpp"
#include "program/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <system_error>

namespace netlab::framing {

namespace {

using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t body_bytes = 100;

enum class Way { nagle, nodelay, writev, cork };

struct WayText {
  Way way;
  const char* name;
  const char* how;
};
constexpr std::array<WayText, 4> ways{{
    {Way::nagle, "nagle", "header and body written one after the other, Nagle on (the default)"},
    {Way::nodelay, "nodelay", "the same two writes with TCP_NODELAY"},
    {Way::writev, "writev", "header and body in one gathered write"},
    {Way::cork, "cork", "the two writes between TCP_CORK on and off"},
}};

void set_cork(tcp::socket& socket, bool on) {
  const int value = on ? 1 : 0;
  if (::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value) != 0)
    throw std::system_error(errno, std::generic_category(), "setsockopt TCP_CORK");
}

std::optional<std::int64_t> delayed_acks() {
  if (auto n = read_kernel_counter("TcpExt", "DelayedACKs")) return static_cast<std::int64_t>(*n);
  return std::nullopt;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

awaitable<void> send_request(tcp::socket& socket, Way way, std::string_view header, std::string_view body) {
  if (way == Way::writev) {
    const std::array<asio::const_buffer, 2> both{asio::buffer(header), asio::buffer(body)};
    auto [ec, n] = co_await asio::async_write(socket, both, use_tuple);
    if (ec) throw failure("write request", ec);
    co_return;
  }
  if (way == Way::cork) set_cork(socket, true);
  for (const auto part : {header, body}) {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(part), use_tuple);
    if (ec) throw failure("write request", ec);
  }
  if (way == Way::cork) set_cork(socket, false);  // uncorking sends what is held at once
}

awaitable<StallVariant> run_variant(const std::string& host, std::uint16_t port, const WayText& way,
                                    std::size_t requests, Progress& progress) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-framing-server --codec length");
  if (way.way == Way::nodelay) socket.set_option(tcp::no_delay(true));
  StallVariant variant{.name = way.name, .how = way.how};
  const auto acks_before = delayed_acks();
  std::string header;
  LengthHeaderCodec::put_header(static_cast<std::uint32_t>(body_bytes), header);
  std::string body(body_bytes, 'x');
  std::string echo(header.size() + body.size(), '\0');
  std::vector<double> latencies_ms;
  for (std::size_t i = 0; i < requests; ++i) {
    body[0] = static_cast<char>('a' + i % 26);  // each echo must be of its own request
    const auto started = Clock::now();
    co_await send_request(socket, way.way, header, body);
    ++progress.sent;
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(echo), use_tuple);
    if (ec) throw failure("read echo", ec, "is the server running --codec length (and not --one-way)?");
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    if (echo != header + body)
      throw std::runtime_error("the echo of request " + std::to_string(i + 1) + " differs from it");
    ++progress.received;
    ++variant.requests;
  }
  if (const auto acks_after = delayed_acks(); acks_before && acks_after)
    variant.delayed_acks = *acks_after - *acks_before;
  variant.median_ms = median(latencies_ms);
  variant.max_ms = latencies_ms.empty() ? 0 : *std::max_element(latencies_ms.begin(), latencies_ms.end());
  co_return variant;
}

}  // namespace

awaitable<void> run_stall(const std::string& host, std::uint16_t port, const Config& config, Progress& progress,
                          StallObserved& observed) {
  observed.requests_per_variant = config.write_write_read;
  observed.body_bytes = body_bytes;
  for (const auto& way : ways)
    observed.variants.push_back(co_await run_variant(host, port, way, config.write_write_read, progress));
}

}  // namespace netlab::framing
