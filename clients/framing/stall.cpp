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
// namespace) is read around it when the server shares the namespace.
// Across a wire (the server in another namespace, a real round trip) the
// body waits for the header's ACK a round trip anyway: what the delayed ACK
// adds is Nagle's time less the slowest way out's less that round trip.
#include "framing.hpp"

#include "io/coro.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"
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
constexpr std::size_t body_bytes = 100;
// Linux holds an ACK back at least TCP_DELACK_MIN (HZ/25: 40 ms); a hold of
// half that or more is that timer, not scheduling noise.
constexpr double delayed_ack_floor_ms = 20;

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
                                    std::size_t requests, Progress& progress, bool& peer_in_this_namespace) {
  tcp::socket socket = co_await connect_to(host, port, "netlab-framing-server --codec length");
  if (way.way == Way::nodelay) socket.set_option(tcp::no_delay(true));
  StallVariant variant{.name = way.name, .how = way.how};
  // The server's delayed ACKs are counted in its network namespace: ours only
  // when it talks to us from one of our own addresses (loopback).
  const bool peer_here = socket.local_endpoint().address() == socket.remote_endpoint().address();
  peer_in_this_namespace = peer_here;
  const auto acks_before = peer_here ? delayed_acks() : std::nullopt;
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
  if (const auto acks_after = peer_here ? delayed_acks() : std::nullopt; acks_before && acks_after)
    variant.delayed_acks = *acks_after - *acks_before;
  if (const auto info = read_tcp_info(socket.native_handle())) variant.min_rtt_ms = info->min_rtt_us / 1000.0;
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
    observed.variants.push_back(
        co_await run_variant(host, port, way, config.write_write_read, progress, observed.peer_in_this_namespace));
  const StallVariant& nagle = observed.variants.front();
  double slowest_fix = 0;
  for (std::size_t i = 1; i < observed.variants.size(); ++i)
    slowest_fix = std::max(slowest_fix, observed.variants[i].median_ms);
  observed.ack_held_ms = std::max(0.0, nagle.median_ms - slowest_fix - nagle.min_rtt_ms);
  observed.decided_by = observed.ack_held_ms >= delayed_ack_floor_ms
                            ? "the delayed-ACK timer: the server held the header's ACK back"
                            : "the round trip: the header's ACK came back at once, Nagle waited one RTT for it";
  if (!config.loopback_result.empty()) observed.loopback = read_stall_variants(config.loopback_result);
}

std::vector<StallVariant> read_stall_variants(const std::string& path) {
  const auto result = read_json_object(path, "the loopback run's result");
  const auto* observed = result.if_contains("observed");
  const auto* variants = observed && observed->is_object() ? observed->as_object().if_contains("variants") : nullptr;
  if (!variants || !variants->is_array())
    throw std::runtime_error(path + ": no observed.variants (a --write-write-read result?)");
  std::vector<StallVariant> out;
  for (const auto& v : variants->as_array()) {
    const auto& o = v.as_object();
    StallVariant s{.name = std::string(o.at("name").as_string()),
                   .how = std::string(o.at("how").as_string()),
                   .requests = o.at("requests").to_number<std::size_t>(),
                   .median_ms = o.at("median_ms").to_number<double>(),
                   .max_ms = o.at("max_ms").to_number<double>()};
    if (const auto* acks = o.if_contains("delayed_acks")) s.delayed_acks = acks->to_number<std::int64_t>();
    if (const auto* rtt = o.if_contains("min_rtt_ms")) s.min_rtt_ms = rtt->to_number<double>();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace netlab::framing
