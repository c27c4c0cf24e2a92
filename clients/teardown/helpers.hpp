#pragma once
// What the teardown client's wire stories share (wire.cpp, old_segment.cpp).
#include "wire.hpp"

#include "io/net.hpp"
#include "kernel/lifecycle.hpp"
#include "program/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::teardown {

inline constexpr std::string_view server_program = "netlab-teardown-server";

// This namespace's setting (the process reads /proc/sys/net of its own network
// namespace): sysctl("tcp_rfc1337"), or "?".
std::string sysctl(const std::string& key);
// "1.234 s".
std::string seconds(std::uint64_t ms);
// Waits for the peer's FIN (EOF), at most `bound`.
boost::asio::awaitable<void> read_to_eof(tcp::socket& socket, std::chrono::milliseconds bound);
// What the server saw of its own end of our connection ("report port=N").
boost::asio::awaitable<boost::json::object> server_report(const CommonOptions& options, std::uint16_t our_port);

// "FIN-WAIT-1 > CLOSING > TIME-WAIT": the states one end went through, in order.
std::string path_of(const std::vector<EndSample>& samples);
bool went_through(const std::vector<EndSample>& samples, std::string_view state);

// What the server's report (servers/teardown/wire.cpp) says of its end.
struct ServerEnd {
  std::vector<EndSample> samples;
  std::uint64_t fin_retransmits = 0;
  std::optional<long> gone_after_ms{};
  std::optional<std::uint64_t> segments_sent{}, segments_received{}, out_rsts_since_close{};
};
ServerEnd read_server_end(const boost::json::object& report);

// rfc1337 (rfc1337.cpp).
boost::asio::awaitable<void> rfc1337(const CommonOptions& options, const WireConfig& config, Result& result);
// old-segment and old-segment-bare (old_segment.cpp).
boost::asio::awaitable<void> old_segment(const CommonOptions& options, const WireConfig& config, Result& result);

}  // namespace netlab::teardown
