// The teardown server's stories across netlab-wire: see wire.hpp.
#include "wire.hpp"

#include "io/coro.hpp"
#include "kernel/lifecycle.hpp"
#include "kernel/netstat.hpp"
#include "kernel/tcp_info.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>

namespace netlab::teardown {

namespace {

using asio::awaitable;
using namespace std::chrono_literals;

std::uint32_t most_retransmits(const std::vector<EndSample>& samples) {
  std::uint32_t most = 0;
  for (const auto& s : samples) most = std::max(most, s.retransmits);
  return most;
}

}  // namespace

// passive-close: the client sent nothing and closed; our FIN leaves at once
// (carrying the ACK of theirs). Then our end waits in LAST_ACK for their last
// ACK; if it is lost, the retransmission timer sends our FIN again.
awaitable<std::string> passive_close(tcp::socket& socket, Reports& reports) {
  const auto local = socket.local_endpoint().port(), remote = socket.remote_endpoint().port();
  const auto rsts = read_kernel_counter("Tcp", "OutRsts");
  const auto retransmitted = read_kernel_counter("Tcp", "RetransSegs").value_or(0);
  socket.close();
  const auto samples = co_await watch_end(
      local, remote, [](const auto& s) { return s.back().state == "none"; }, 10s);
  const bool gone = samples.back().state == "none";
  // The census shows a retransmission only while the next one is pending; the
  // namespace's counter keeps it (this server has no other connection now).
  const auto counted = read_kernel_counter("Tcp", "RetransSegs").value_or(0) - retransmitted;
  reports.by_port[remote] = {{"mode", "passive-close"},
                             {"samples", boost::json::value_from(samples)},
                             {"fin_retransmits", std::max<std::uint64_t>(most_retransmits(samples), counted)},
                             {"census_retransmits", most_retransmits(samples)},
                             {"retrans_segs_delta", counted},
                             {"gone_after_ms", gone ? boost::json::value(samples.back().at_ms) : nullptr},
                             {"out_rsts_at_close", rsts ? boost::json::value(*rsts) : nullptr}};
  co_return "closed at once; our end " + std::string(gone ? "gone" : "still there") + " after " +
      std::to_string(samples.back().at_ms) + " ms, " + std::to_string(counted) + " segment(s) retransmitted";
}

// simultaneous-close: both sides shut down at the same CLOCK_MONOTONIC time;
// the FINs cross on the wire. Our end, sampled back to back (CLOSING lasts one
// one-way delay); this blocks the server for those milliseconds (at most 3 s).
awaitable<std::string> simultaneous_close(tcp::socket& socket, long long at_ns, Reports& reports) {
  const auto local = socket.local_endpoint().port(), remote = socket.remote_endpoint().port();
  const auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns));
  const auto wait = at - std::chrono::steady_clock::now();
  if (wait > 5s) throw std::runtime_error("at= is more than 5 s away");
  // Asleep until 30 ms before, then spinning: a late timer would let the FINs not cross.
  if (wait > 30ms) co_await pause_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait - 30ms));
  while (std::chrono::steady_clock::now() < at) {
  }  // the last fraction of a millisecond
  const auto before = read_tcp_info(socket.native_handle());
  socket.shutdown(tcp::socket::shutdown_send);
  const auto samples = co_await watch_end(
      local, remote, [](const auto& s) { return s.back().state == "TIME-WAIT" || s.back().state == "none"; }, 3s, 0ms);
  const auto after = read_tcp_info(socket.native_handle());
  boost::json::object report{{"mode", "simultaneous-close"}, {"samples", boost::json::value_from(samples)}};
  if (before && after) {
    report["segments_sent"] = after->segs_out - before->segs_out;
    report["segments_received"] = after->segs_in - before->segs_in;
  }
  reports.by_port[remote] = std::move(report);
  socket.close();
  co_return "shut down at the agreed time; our end " + samples.back().state;
}

// old-segment: whatever reaches this connection, to the client's FIN. An old
// segment of an earlier connection on the same four-tuple, replayed by the
// wire, is dropped by PAWS (TcpExt PAWSEstab) or by the sequence check — or,
// if neither held, would be here among the bytes.
awaitable<std::string> receive_and_report(tcp::socket& socket, Reports& reports) {
  const auto remote = socket.remote_endpoint().port();
  const auto paws = read_kernel_counter("TcpExt", "PAWSEstab").value_or(0);
  std::string data;
  char buffer[4096];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) break;
    if (data.size() < 65536) data.append(buffer, n);
  }
  const auto dropped = read_kernel_counter("TcpExt", "PAWSEstab").value_or(0) - paws;
  reports.by_port[remote] = {
      {"mode", "old-segment"}, {"bytes", data.size()}, {"data", data.substr(0, 256)}, {"paws_estab", dropped}};
  socket.close();
  co_return std::to_string(data.size()) + " bytes after the request line, " + std::to_string(dropped) + " PAWS drop(s)";
}

// "report port=N": what passive-close or simultaneous-close saw (waits for it, at most 15 s).
awaitable<std::string> answer_report(tcp::socket& socket, long port, Reports& reports) {
  const auto key = static_cast<std::uint16_t>(port);
  co_await poll_until([&] { return reports.by_port.contains(key); }, 15s);
  std::string body;
  if (auto it = reports.by_port.find(key); it != reports.by_port.end()) {
    boost::json::object report = it->second;
    const auto rsts = read_kernel_counter("Tcp", "OutRsts");
    if (rsts && report["out_rsts_at_close"].is_uint64())
      report["out_rsts_since_close"] = *rsts - report["out_rsts_at_close"].as_uint64();
    body = boost::json::serialize(report);
  }
  const std::string reply = body.empty() ? "ERR no connection from port " + std::to_string(port) + " was watched\n"
                                         : "OK " + std::to_string(body.size()) + "\n" + body;
  co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
  co_return "report for port " + std::to_string(port);
}

}  // namespace netlab::teardown
