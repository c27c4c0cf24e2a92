#pragma once
// The teardown lab's stories across netlab-wire (the client in one network
// namespace, the server in another): a lost last ACK, the same without a
// TIME_WAIT socket, a simultaneous close, and an RST reaching TIME_WAIT
// (RFC 1337). Each side sees only its own end in the census; the server's is
// fetched from it afterwards ("report port=N").
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace netlab::teardown {

struct WireConfig {
  std::string mode;  // lost-last-ack | no-time-wait | simultaneous-close | rfc1337
  std::chrono::milliseconds settle{3000};
  std::string compare_with;  // rfc1337: the run with the other tcp_rfc1337 setting
};

bool is_wire_mode(const std::string& mode);
boost::asio::awaitable<void> wire_scenario(const CommonOptions& options, const WireConfig& config, Result& result);

}  // namespace netlab::teardown
