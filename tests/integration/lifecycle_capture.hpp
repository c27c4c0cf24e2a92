#pragma once
// Test support for the TCP lifecycle labs (handshake, teardown): tcpdump on
// loopback for one port, read back as text, one Segment per line. Root only;
// a test that gets std::nullopt from Capture::start prints why and skips.
#include "process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace netlab::test {

struct CapturedSegment {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::string flags;  // tcpdump's: "S", "S.", ".", "P.", "F.", "R", "R."
  std::uint32_t seq = 0;  // absolute (tcpdump -S); 0 when the line shows none
};

// Why a capture cannot run here, or "" when it can.
inline std::string capture_blocker() {
  if (::geteuid() != 0) return "needs root (tcpdump on lo)";
  if (::access("/usr/bin/tcpdump", X_OK) != 0 && ::access("/usr/sbin/tcpdump", X_OK) != 0)
    return "tcpdump is not installed";
  return "";
}

inline std::string tcpdump_path() {
  return ::access("/usr/bin/tcpdump", X_OK) == 0 ? "/usr/bin/tcpdump" : "/usr/sbin/tcpdump";
}

// The segments of the connection that uses `client_port`, in order.
inline std::vector<CapturedSegment> connection_segments(const std::vector<CapturedSegment>& all,
                                                        std::uint16_t client_port) {
  std::vector<CapturedSegment> out;
  for (const auto& s : all)
    if (s.source_port == client_port || s.destination_port == client_port) out.push_back(s);
  return out;
}

// From the first FIN or RST to the end: the segments that closed the connection.
inline std::size_t closing_segments(const std::vector<CapturedSegment>& connection) {
  for (std::size_t i = 0; i < connection.size(); ++i)
    if (connection[i].flags.find('F') != std::string::npos || connection[i].flags.find('R') != std::string::npos)
      return connection.size() - i;
  return 0;
}

class Capture {
 public:
  // Starts tcpdump for `port` on lo and waits (bounded, 5 s) until it listens.
  explicit Capture(std::uint16_t port) : port_(port) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{tcpdump_path(), "-i", "lo", "-U", "-n", "-Z", "root", "-w", dir_.file("capture.pcap"),
                                 "tcp port " + std::to_string(port)},
        dir_.file("out"), dir_.file("err"));
    for (int i = 0; i < 500; ++i) {
      if (read_text(dir_.file("err")).find("listening on") != std::string::npos) return;
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("tcpdump did not start: " + read_text(dir_.file("err")));
  }

  // Stops tcpdump and reads the segments back, in order. tcpdump lags the
  // wire a little: a marker connection to the port is made first, and tcpdump
  // is stopped once the marker shows in the file (bounded, 5 s), so every
  // earlier segment is in it too. The marker's own segments are left out.
  std::vector<CapturedSegment> stop() {
    const std::uint16_t marker = send_marker();
    std::vector<CapturedSegment> segments;
    for (int i = 0; i < 100; ++i) {
      segments = read_back();
      if (!connection_segments(segments, marker).empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    process_->signal(SIGINT);
    process_->wait(std::chrono::seconds(10));
    segments = read_back();
    std::erase_if(segments, [&](const CapturedSegment& s) {
      return s.source_port == marker || s.destination_port == marker;
    });
    return segments;
  }

 private:
  // A connection to the captured port, closed at once; its local port.
  std::uint16_t send_marker() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
    ::close(fd);
    return ntohs(local.sin_port);
  }

  std::vector<CapturedSegment> read_back() {
    const auto text = run({tcpdump_path(), "-r", dir_.file("capture.pcap"), "-n", "-S"}, std::chrono::seconds(10));
    static const std::regex line(R"(IP [0-9.]+\.([0-9]+) > [0-9.]+\.([0-9]+): Flags \[([^\]]*)\](, seq ([0-9]+))?)");
    std::vector<CapturedSegment> segments;
    std::istringstream in(text.out);
    for (std::string row; std::getline(in, row);) {
      std::smatch m;
      if (!std::regex_search(row, m, line)) continue;
      CapturedSegment s;
      s.source_port = static_cast<std::uint16_t>(std::stoul(m[1]));
      s.destination_port = static_cast<std::uint16_t>(std::stoul(m[2]));
      s.flags = m[3];
      if (m[5].matched) s.seq = static_cast<std::uint32_t>(std::stoul(m[5]));
      segments.push_back(s);
    }
    return segments;
  }

  std::uint16_t port_;
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

}  // namespace netlab::test
