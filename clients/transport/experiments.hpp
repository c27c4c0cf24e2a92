#pragma once
// The tcp和udp lab's experiments against netlab-transport-server
// (docs/labs/transport.md), each returning what it measured:
//   tcp_stream / udp_stream  --mode stream: N numbered messages, "done", and
//                            the server's account; over TCP also flow control
//                            seen from the sender (EAGAIN, the peer's window)
//   semantics                --mode semantics: what "connection-oriented" means
//                            on the wire, and what one message costs
#include "checks.hpp"
#include "congestion.hpp"
#include "program/options.hpp"
#include "window.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace netlab::transport {

enum class Proto { tcp, udp, both };
enum class Mode { stream, semantics, congestion, overhead_capture, window, window_verdicts, probes_capture };

struct Config {
  Proto proto = Proto::both;
  Mode mode = Mode::stream;
  std::size_t messages = 10'000;
  std::size_t size = 200;
  double rate = 0;  // messages per second; 0 = as fast as the socket takes them
  bool relay = false;
  double link_loss = 0;
  int sndbuf = 0;  // TCP SO_SNDBUF; 0 = the kernel's default (autotuned)
  std::uint16_t dead_port = 0;
  int done_attempts = 25;
  int done_interval_ms = 200;
  std::uint64_t seed = 1;
  CongestionConfig congestion;
  WindowConfig window;
  std::string pcap;  // overhead-capture and probes-capture: the capture to read
  OverheadCheck overhead_check = OverheadCheck::from_headers;
};

boost::asio::awaitable<TcpStream> tcp_stream(const CommonOptions& options, const Config& config);
boost::asio::awaitable<UdpStream> udp_stream(const CommonOptions& options, const Config& config);
boost::asio::awaitable<Semantics> semantics(const CommonOptions& options, const Config& config);

}  // namespace netlab::transport
