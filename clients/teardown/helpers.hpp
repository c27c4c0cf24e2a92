#pragma once
// What the teardown client's wire stories share (wire.cpp, old_segment.cpp).
#include "wire.hpp"

#include "io/net.hpp"
#include "program/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

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
// old-segment and old-segment-bare (old_segment.cpp).
boost::asio::awaitable<void> old_segment(const CommonOptions& options, const WireConfig& config, Result& result);

}  // namespace netlab::teardown
