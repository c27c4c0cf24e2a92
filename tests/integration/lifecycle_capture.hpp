#pragma once
// Test support for the TCP lifecycle labs (handshake, teardown): tcpdump on
// loopback for one port, written to a pcap and read back with the project's
// own reader (netlab::read_pcap, group_flows), one Flow per connection; the
// tests ask netlab::analyse_flow what each connection did. Root only; a test
// that gets a reason from capture_blocker() prints it and skips.
#include "lab.hpp"
#include "loopback.hpp"
#include "process.hpp"

#include "capture/capture.hpp"
#include "capture/pcap.hpp"

#include <boost/json/object.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <unistd.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace netlab::test {

// Why a capture cannot run here, or "" when it can.
inline std::string capture_blocker() {
  if (::geteuid() != 0) return "needs root (tcpdump on lo)";
  if (::access("/usr/bin/tcpdump", X_OK) != 0 && ::access("/usr/sbin/tcpdump", X_OK) != 0)
    return "tcpdump is not installed";
  return "";
}

// Skips the test (exit 77) when a capture cannot run here.
inline void require_capture() {
  if (const auto why = capture_blocker(); !why.empty()) skip(why);
}

inline std::string tcpdump_path() {
  return ::access("/usr/bin/tcpdump", X_OK) == 0 ? "/usr/bin/tcpdump" : "/usr/sbin/tcpdump";
}

inline bool touches(const Flow& flow, std::uint16_t client_port) {
  return !flow.packets.empty() &&
         (flow.packets.front().src_port == client_port || flow.packets.front().dst_port == client_port);
}

// The connection that uses `client_port`, or nullptr when the capture has none.
inline const Flow* connection(const std::vector<Flow>& flows, std::uint16_t client_port) {
  for (const auto& flow : flows)
    if (touches(flow, client_port)) return &flow;
  return nullptr;
}

// From a flow's first packet to its last, in the capture's own time stamps.
inline double seconds_spanned(const Flow& flow) {
  return flow.packets.empty() ? 0 : flow.packets.back().time - flow.packets.front().time;
}

// From a flow's first payload byte to its last: the calls, without the
// handshake and the close.
inline double seconds_of_data(const Flow& flow) {
  double first = -1, last = 0;
  for (const auto& p : flow.packets)
    if (p.payload_length > 0) {
      if (first < 0) first = p.time;
      last = p.time;
    }
  return first < 0 ? 0 : last - first;
}

// Application bytes one side put on the wire (retransmissions included).
inline std::size_t payload_from(const Flow& flow, bool client) {
  std::size_t bytes = 0;
  for (const auto& p : flow.packets)
    if (flow.from_client(p) == client) bytes += p.payload_length;
  return bytes;
}

// The verdict `ratio` earns against a lab's thresholds (ratio >= upper:
// confirmed, >= lower: nuanced, else refuted), or "" when it lies within
// `margin` (relative) of a threshold: there two honest timings of the same
// run (the client's clock, the capture's stamps) may land on either side.
inline std::string graded(double ratio, double upper, double lower, double margin = 0.25) {
  const auto near = [&](double threshold) {
    return ratio > threshold / (1 + margin) && ratio < threshold * (1 + margin);
  };
  if (near(upper) || near(lower)) return "";
  return ratio >= upper ? "confirmed" : ratio >= lower ? "nuanced" : "refuted";
}

// A rate ratio timed twice, by the client and from the capture's own stamps:
// the check's verdict is the one the wire's ratio earns (unless it lies near a
// threshold, see graded), and the client's ratio is the wire's within a factor of 2.
inline void expect_verdict_follows_wire(const boost::json::object& result, std::string_view check_id, double wire_ratio,
                                        double client_ratio, double upper, double lower, double margin = 0.25) {
  INFO(check_id << ": rate ratio " << wire_ratio << " on the wire, " << client_ratio << " by the client");
  if (const auto expected = graded(wire_ratio, upper, lower, margin); !expected.empty())
    CHECK(text(check(result, check_id).at("verdict")) == expected);
  CHECK(client_ratio > wire_ratio / 2);
  CHECK(client_ratio < wire_ratio * 2);
}

class Capture {
 public:
  // Starts tcpdump for `port` on lo and waits (bounded, 5 s) until it listens.
  // `protocol`: "tcp" (default), or "" for TCP and UDP on the port.
  explicit Capture(std::uint16_t port, const std::string& protocol = "tcp") : port_(port) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{tcpdump_path(), "-i", "lo", "-U", "-n", "-Z", "root", "-w", dir_.file("capture.pcap"),
                                 (protocol.empty() ? "" : protocol + " ") + "port " + std::to_string(port)},
        dir_.file("out"), dir_.file("err"));
    for (int i = 0; i < 500; ++i) {
      if (read_text(dir_.file("err")).find("listening on") != std::string::npos) return;
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("tcpdump did not start: " + read_text(dir_.file("err")));
  }

  // Stops tcpdump and reads the connections back, in order of their first
  // packet. tcpdump lags the wire a little: a marker connection to the port is
  // made first, and tcpdump is stopped once the marker shows in the file
  // (bounded, 5 s), so every earlier segment is in it too. The marker's own
  // connection is left out.
  std::vector<Flow> stop() {
    const std::uint16_t marker = send_marker();
    for (int i = 0; i < 100; ++i) {
      if (connection(read_back(), marker)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    process_->signal(SIGINT);
    process_->wait(std::chrono::seconds(10));
    // "N packets dropped by kernel": tcpdump could not keep up (a busy machine).
    const std::string said = read_text(dir_.file("err"));
    if (const auto at = said.find(" packets dropped by kernel"); at != std::string::npos) {
      const auto start = said.rfind('\n', at);
      dropped_ = std::stoul(said.substr(start == std::string::npos ? 0 : start + 1, at));
    }
    auto flows = group_flows(read_pcap(dir_.file("capture.pcap")), port_);
    std::erase_if(flows, [&](const Flow& flow) { return touches(flow, marker); });
    return flows;
  }

  // Packets tcpdump said it dropped (known once stopped).
  std::size_t dropped() const { return dropped_; }

  // A test that counts bytes or times on the wire cannot judge an incomplete
  // capture: it says why and exits 77 (skipped), after stop().
  void require_complete() const {
    if (dropped_ == 0) return;
    std::cout << "skipped: tcpdump dropped " << dropped_ << " packets (a busy machine): the capture is incomplete\n";
    std::exit(77);
  }

 private:
  // A connection to the captured port, closed at once; its local port.
  std::uint16_t send_marker() {
    const Connection marker(port_);
    return marker.local_port();
  }

  // The file as tcpdump has written it so far. While it runs, the file may
  // still be shorter than its header or end inside a record: read as empty.
  std::vector<Flow> read_back() {
    try {
      return group_flows(read_pcap(dir_.file("capture.pcap")), port_);
    } catch (const std::runtime_error&) {
      return {};
    }
  }

  std::uint16_t port_;
  std::size_t dropped_ = 0;
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

}  // namespace netlab::test
