// netlab-wire — a link between two network namespaces that a lab can program.
//
// It sits in its own namespace between two veth ends (--left: the client's
// side, --right: the server's side) and forwards every Ethernet frame from one
// to the other with AF_PACKET sockets, as a router with a bottleneck would:
// seeded loss, duplication, reordering, delay with jitter, a rate-limited
// drop-tail queue, and targeted rules that drop, delay, duplicate or replay
// the Nth segment with given TCP flags. Its model (model.hpp) decides; this
// file moves the frames and writes down what happened:
//   --stats-json  counters per direction (at exit and on SIGUSR1) and the log
//                 of every rule that fired
//   --events      one JSON line per rule firing, drop and queue sample, with
//                 CLOCK_MONOTONIC times that a lab lines up with TCP_INFO
// Frames are forwarded byte for byte. The namespaces' veth ends must have
// GRO/GSO/TSO and checksum offload off (scripts/lib/netns.sh does it), so
// every frame is a real, MSS-sized segment with a complete checksum.
#include "model.hpp"

#include "io/coro.hpp"
#include "io/net.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/readiness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

namespace {

using namespace netlab;
namespace wire = netlab::wire;
using asio::awaitable;
using wire::Direction;

constexpr std::size_t batch_size = 64;         // frames per recvmmsg / sendmmsg
constexpr std::size_t frame_capacity = 16384;  // room for a jumbo frame; a longer one is counted and dropped
constexpr std::size_t max_event_lines = 1'000'000;
constexpr std::size_t max_logged_rules = 10'000;

wire::Time now() { return std::chrono::steady_clock::now().time_since_epoch(); }

std::runtime_error os_error(const std::string& what, int error) {
  return std::runtime_error(what + ": " + std::strerror(error));
}

// One veth end in the wire's namespace, read and written whole frames at a time.
class PacketPort {
 public:
  PacketPort(asio::io_context& io, const std::string& name) : name_(name), descriptor_(io) {
    // Protocol 0 until bind: a packet socket made with ETH_P_ALL would see
    // every interface's frames in the moment before it is bound to one.
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int error = errno;
      throw std::runtime_error(std::string("socket(AF_PACKET): ") + std::strerror(error) +
                               (error == EPERM ? " — netlab-wire needs CAP_NET_RAW: run it as root, or inside the "
                                                 "user namespace that scripts/lib/netns.sh makes"
                                               : ""));
    }
    descriptor_.assign(fd);
    index_ = ::if_nametoindex(name.c_str());
    if (index_ == 0) {
      const int error = errno;
      throw std::runtime_error("interface '" + name + "': " + std::strerror(error) +
                               " — run netlab-wire inside the namespace that holds it (ip netns exec ...)");
    }
    const int on = 1;
    // Our own sends out of this interface would come back to us as "outgoing".
    if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on) != 0)
      throw os_error("setsockopt PACKET_IGNORE_OUTGOING on " + name, errno);
    ::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on);  // veth has no queue of its own anyway
    const int buffer = 8 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0)
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    // A send never waits long: a frame the interface cannot take in 20 ms is counted as lost.
    const ::timeval timeout{0, 20'000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(index_);
    if (::bind(fd, reinterpret_cast<const ::sockaddr*>(&address), sizeof address) != 0)
      throw os_error("bind to interface '" + name + "'", errno);
    // Frames for the other end's MAC address are not ours: take them all.
    ::packet_mreq membership{};
    membership.mr_ifindex = static_cast<int>(index_);
    membership.mr_type = PACKET_MR_PROMISC;
    ::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership);
    // The kernel stamps each frame as it arrives: when the wire is slow to
    // be scheduled, frames that waited in the socket still enter the queue
    // model at the time they reached the link, not all at once.
    ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    buffers_ = std::make_unique<std::array<std::uint8_t, frame_capacity>[]>(batch_size);
    for (std::size_t i = 0; i < batch_size; ++i) {
      iov_[i] = {buffers_[i].data(), frame_capacity};
      messages_[i] = {};
      messages_[i].msg_hdr.msg_iov = &iov_[i];
      messages_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  // When frame i arrived, on the monotonic clock (the stamp is wall-clock
  // time; `wall_minus_mono` converts it), never later than `now`.
  wire::Time arrival(std::size_t i, wire::Time now, wire::Time wall_minus_mono) const {
    const auto& header = messages_[i].msg_hdr;
    for (auto* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(const_cast<::msghdr*>(&header), c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        ::timespec stamp{};
        std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
        const wire::Time wall = std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec);
        return std::min(now, wall - wall_minus_mono);
      }
    }
    return now;
  }

  const std::string& name() const { return name_; }
  asio::posix::stream_descriptor& descriptor() { return descriptor_; }

  // Reads the frames waiting now (none: would_block). Returns how many.
  std::size_t receive() {
    for (std::size_t i = 0; i < batch_size; ++i) {
      auto& header = messages_[i].msg_hdr;
      header.msg_flags = 0;
      header.msg_control = control_[i].data();
      header.msg_controllen = control_[i].size();
    }
    const int n = ::recvmmsg(descriptor_.native_handle(), messages_.data(), batch_size, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      throw os_error("receive on " + name_, errno);
    }
    return static_cast<std::size_t>(n);
  }
  std::span<const std::uint8_t> frame(std::size_t i) const {
    return {buffers_[i].data(), std::min<std::size_t>(messages_[i].msg_len, frame_capacity)};
  }
  bool truncated(std::size_t i) const { return (messages_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }

  // Frames to send out of this interface, gathered and sent in one call.
  void queue(std::span<const std::uint8_t> frame) {
    if (pending_ == batch_size) flush();
    out_iov_[pending_] = {const_cast<std::uint8_t*>(frame.data()), frame.size()};
    out_[pending_] = {};
    out_[pending_].msg_hdr.msg_iov = &out_iov_[pending_];
    out_[pending_].msg_hdr.msg_iovlen = 1;
    ++pending_;
  }
  void flush() {
    std::size_t sent = 0;
    while (sent < pending_) {
      const int n =
          ::sendmmsg(descriptor_.native_handle(), out_.data() + sent, static_cast<unsigned>(pending_ - sent), 0);
      if (n <= 0) {
        // Full (the send timed out) or refused: that frame is lost on the wire, counted.
        ++send_errors_;
        ++sent;
        continue;
      }
      sent += static_cast<std::size_t>(n);
    }
    pending_ = 0;
  }
  std::uint64_t send_errors() const { return send_errors_; }

  // The kernel's count of frames this socket could not take (its buffer was full).
  std::uint64_t receive_drops() {
    ::tpacket_stats stats{};
    ::socklen_t length = sizeof stats;
    if (::getsockopt(descriptor_.native_handle(), SOL_PACKET, PACKET_STATISTICS, &stats, &length) == 0)
      receive_drops_ += stats.tp_drops;  // reading the statistics resets them
    return receive_drops_;
  }

 private:
  std::string name_;
  asio::posix::stream_descriptor descriptor_;
  unsigned index_ = 0;
  std::unique_ptr<std::array<std::uint8_t, frame_capacity>[]> buffers_;
  std::array<::iovec, batch_size> iov_{};
  std::array<::mmsghdr, batch_size> messages_{};
  std::array<std::array<char, CMSG_SPACE(sizeof(::timespec)) + 64>, batch_size> control_{};
  std::array<::iovec, batch_size> out_iov_{};
  std::array<::mmsghdr, batch_size> out_{};
  std::size_t pending_ = 0;
  std::uint64_t send_errors_ = 0, receive_drops_ = 0;
};

struct Options {
  std::string left, right;
  std::vector<std::string> delay, jitter, loss, duplicate, reorder, rate, queue, rules;
  std::string stats_json, events, ready_file, rules_file;
  std::size_t max_held = 200'000;
};

// The JSON of one frame, as the event log and the rule log write it.
boost::json::object frame_json(const wire::FrameInfo& f) {
  boost::json::object o;
  o["proto"] = f.protocol == 6 ? "tcp" : f.protocol == 17 ? "udp" : f.protocol == 1 ? "icmp" : "ip";
  if (f.protocol == 6) {
    o["flags"] = wire::flags_text(f.tcp_flags);
    o["seq"] = f.seq;
    o["ack"] = f.ack;
  }
  if (f.protocol == 6 || f.protocol == 17) {
    o["sport"] = f.source_port;
    o["dport"] = f.destination_port;
    o["len"] = f.payload;
  }
  if (f.malformed) o["malformed"] = true;
  return o;
}

class Wire {
 public:
  Wire(asio::io_context& io, const Options& options, wire::Engine& engine)
      : io_(io),
        options_(options),
        engine_(engine),
        left_(io, options.left),
        right_(io, options.right),
        timer_(io),
        started_(now()) {
    if (!options.events.empty()) {
      events_ = std::fopen(options.events.c_str(), "w");
      if (!events_) throw os_error("--events " + options.events, errno);
      std::setvbuf(events_, nullptr, _IOLBF, 0);  // a line is there as soon as it happened
    }
    engine_.on_event([this](const wire::Event& e) { record(e); });
  }
  ~Wire() {
    if (events_) std::fclose(events_);
  }

  void start() {
    asio::co_spawn(io_, receive(left_), rethrow);
    asio::co_spawn(io_, receive(right_), rethrow);
    asio::co_spawn(io_, release_when_due(), rethrow);
  }
  void stop() {
    stopped_ = true;
    left_.descriptor().cancel();
    right_.descriptor().cancel();
    timer_.cancel();
  }

  boost::json::object report();
  std::string summary();

 private:
  static void rethrow(std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  }
  PacketPort& out(Direction d) { return d == Direction::left_to_right ? right_ : left_; }

  awaitable<void> receive(PacketPort& port) {
    while (!stopped_) {
      auto [ec] = co_await port.descriptor().async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
      if (ec || stopped_) break;
      // Whichever side woke us, both are read until neither has a frame: the
      // data one way and its ACKs the other come in the same wake-up. (Reading
      // on for a while before sleeping did not measurably help on 2 cores.)
      for (int round = 0; round < 256; ++round)
        if (pump(left_, Direction::left_to_right) + pump(right_, Direction::right_to_left) == 0) break;
      rearm();
    }
  }

  // Reads what waits on `port` (at most 16 batches), decides each frame and
  // sends what goes now. Returns the frames read.
  std::size_t pump(PacketPort& port, Direction direction) {
    std::size_t total = 0;
    for (int round = 0; round < 16; ++round) {
      const std::size_t n = port.receive();
      if (n == 0) break;
      total += n;
      const auto t = now();
      const wire::Time wall_minus_mono = std::chrono::system_clock::now().time_since_epoch() - now();
      send_due(t);  // what was due goes before what just came in
      auto& destination = out(direction);
      wire::Time previous{0};
      for (std::size_t i = 0; i < n; ++i) {
        if (port.truncated(i)) {
          ++oversize_;
          continue;
        }
        const auto frame = port.frame(i);
        const auto arrived = std::max(previous, port.arrival(i, t, wall_minus_mono));
        previous = arrived;
        if (engine_.on_frame(direction, arrived, frame)) {
          engine_.count_forwarded(direction, frame.size());
          destination.queue(frame);
        }
      }
      send_due(t);  // a duplicate of a frame forwarded now
      destination.flush();
      if (n < batch_size) break;
    }
    return total;
  }

  void send_due(wire::Time t) {
    released_.clear();
    engine_.release(t, released_);
    if (released_.empty()) return;
    for (auto& r : released_) out(r.direction).queue(r.bytes);
    left_.flush();
    right_.flush();
  }

  void rearm() {
    const auto due = engine_.next_due();
    if (due && (!armed_ || *due < *armed_)) timer_.cancel();  // wake the timer loop to wait for the earlier time
  }

  awaitable<void> release_when_due() {
    while (!stopped_) {
      armed_ = engine_.next_due();
      timer_.expires_at(armed_ ? Clock::time_point(*armed_) : Clock::now() + std::chrono::hours(1));
      co_await timer_.async_wait(use_tuple);
      armed_.reset();
      if (stopped_) break;
      send_due(now());
    }
  }

  void record(const wire::Event& e) {
    boost::json::object line{{"t_us", std::chrono::duration_cast<std::chrono::microseconds>(e.at - started_).count()},
                             {"mono_ns", e.at.count()},
                             {"dir", wire::to_string(e.direction)}};
    switch (e.kind) {
      case wire::Event::Kind::rule:
        line["event"] = "rule";
        line["rule"] = e.rule;
        line["text"] = engine_.rules()[e.rule].text;
        line["action"] = wire::to_string(e.action);
        break;
      case wire::Event::Kind::drop:
        line["event"] = "drop";
        line["cause"] = wire::to_string(e.cause);
        if (e.cause == wire::DropCause::queue) line["queue"] = e.queue_depth;
        break;
      case wire::Event::Kind::queue:
        line["event"] = "queue";
        line["queue"] = e.queue_depth;
        break;
    }
    if (e.kind != wire::Event::Kind::queue)
      for (auto& [key, value] : frame_json(e.frame)) line[key] = value;
    if (e.kind == wire::Event::Kind::rule && rule_log_.size() < max_logged_rules) rule_log_.push_back(line);
    if (events_ && event_lines_ < max_event_lines) {
      ++event_lines_;
      std::fprintf(events_, "%s\n",
                   event_lines_ == max_event_lines
                       ? R"({"event":"truncated","why":"the event log stops at 1000000 lines"})"
                       : boost::json::serialize(line).c_str());
    }
  }

  asio::io_context& io_;
  const Options& options_;
  wire::Engine& engine_;
  PacketPort left_, right_;
  asio::steady_timer timer_;
  std::optional<wire::Time> armed_;
  std::vector<wire::Engine::Released> released_;
  wire::Time started_;
  std::FILE* events_ = nullptr;
  std::size_t event_lines_ = 0;
  boost::json::array rule_log_;
  std::uint64_t oversize_ = 0;
  bool stopped_ = false;
};

boost::json::object link_json(const wire::LinkConfig& l) {
  return {{"delay_ms", l.delay_ms},          {"jitter_ms", l.jitter_ms}, {"loss", l.loss},
          {"duplicate", l.duplicate},        {"reorder", l.reorder},     {"rate_kbit", l.rate_kbit},
          {"queue_packets", l.queue_packets}};
}

boost::json::object Wire::report() {
  const double elapsed = std::chrono::duration<double>(now() - started_).count();
  boost::json::object directions;
  for (auto d : {Direction::left_to_right, Direction::right_to_left}) {
    const auto s = engine_.stats(d);
    directions[wire::to_string(d)] = {{"link", link_json(engine_.link(d))},
                                      {"frames_in", s.frames_in},
                                      {"bytes_in", s.bytes_in},
                                      {"frames_out", s.frames_out},
                                      {"bytes_out", s.bytes_out},
                                      {"dropped",
                                       {{"loss", s.dropped_loss},
                                        {"queue", s.dropped_queue},
                                        {"rule", s.dropped_rule},
                                        {"held_limit", s.dropped_held_limit},
                                        {"tcp", s.dropped_tcp},
                                        {"udp", s.dropped_udp}}},
                                      {"duplicated", s.duplicated},
                                      {"reordered", s.reordered},
                                      {"delayed", s.delayed},
                                      {"replayed", s.replayed},
                                      {"not_ipv4", s.not_ipv4},
                                      {"malformed", s.malformed},
                                      {"queue_max", s.queue_max},
                                      {"queue_mean", elapsed > 0 ? s.queue_waiting_seconds / elapsed : 0.0},
                                      {"send_errors", out(d).send_errors()}};
  }
  boost::json::array rules;
  for (std::size_t r = 0; r < engine_.rules().size(); ++r)
    rules.push_back({{"text", engine_.rules()[r].text},
                     {"matches", engine_.rule_matches(r)},
                     {"fired", engine_.rule_fired(r)},
                     {"active", engine_.rules()[r].active},
                     {"from_file", engine_.rules()[r].from_file}});
  return {{"program", "netlab-wire"},
          {"left", options_.left},
          {"right", options_.right},
          {"elapsed_s", elapsed},
          {"directions", directions},
          {"rules", rules},
          {"rule_log", rule_log_},
          {"held_now", engine_.held()},
          {"oversize_dropped", oversize_},
          {"receive_drops", {{"left", left_.receive_drops()}, {"right", right_.receive_drops()}}}};
}

std::string Wire::summary() {
  std::string text;
  for (auto d : {Direction::left_to_right, Direction::right_to_left}) {
    const auto s = engine_.stats(d);
    text += std::string(wire::to_string(d)) + ": " + std::to_string(s.frames_in) + " frames in, " +
            std::to_string(s.frames_out) + " out; dropped " + std::to_string(s.dropped_loss) + " (loss) " +
            std::to_string(s.dropped_queue) + " (queue full) " + std::to_string(s.dropped_rule) +
            " (rule); duplicated " + std::to_string(s.duplicated) + ", reordered " + std::to_string(s.reordered) +
            ", delayed by rule " + std::to_string(s.delayed) + ", replayed " + std::to_string(s.replayed) +
            ", queue max " + std::to_string(s.queue_max) + "\n";
  }
  for (std::size_t r = 0; r < engine_.rules().size(); ++r)
    text += "rule '" + engine_.rules()[r].text + "': matched " + std::to_string(engine_.rule_matches(r)) + ", fired " +
            std::to_string(engine_.rule_fired(r)) + "\n";
  return text;
}

// The rules in --rules-file (RuleError when it cannot be read or a line is wrong).
std::vector<wire::Rule> read_rules_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw wire::RuleError("--rules-file " + path + ": cannot read it");
  std::string text;
  text.resize(1 << 20);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  try {
    return wire::parse_rules_file(text);
  } catch (const wire::RuleError& e) {
    throw wire::RuleError("--rules-file " + path + ": " + e.what());
  }
}

// Applies "V" or "DIR=V" settings of one option to the two directions.
template <typename Set>
void apply(const std::vector<std::string>& values, std::string_view option, std::array<wire::LinkConfig, 2>& links,
           Set set) {
  for (const auto& text : values) {
    const auto v = wire::parse_directional(text, option);
    for (auto d : {Direction::left_to_right, Direction::right_to_left})
      if (!v.direction || *v.direction == d) set(links[static_cast<std::size_t>(d)], v.value, text);
  }
}

std::array<wire::LinkConfig, 2> link_config(const Options& o) {
  std::array<wire::LinkConfig, 2> links{};
  auto probability = [](std::string_view option) {
    return [option](wire::LinkConfig&, double value, const std::string& text) {
      if (value > 1) throw wire::RuleError(std::string(option) + " '" + text + "': a probability is from 0 to 1");
    };
  };
  apply(o.delay, "--delay", links, [](auto& l, double v, auto&) { l.delay_ms = v; });
  apply(o.jitter, "--jitter", links, [](auto& l, double v, auto&) { l.jitter_ms = v; });
  apply(o.loss, "--loss", links, [&](auto& l, double v, auto& t) {
    probability("--loss")(l, v, t);
    l.loss = v;
  });
  apply(o.duplicate, "--duplicate", links, [&](auto& l, double v, auto& t) {
    probability("--duplicate")(l, v, t);
    l.duplicate = v;
  });
  apply(o.reorder, "--reorder", links, [&](auto& l, double v, auto& t) {
    probability("--reorder")(l, v, t);
    l.reorder = v;
  });
  apply(o.rate, "--rate", links, [](auto& l, double v, auto& t) {
    if (v > 100e6) throw wire::RuleError("--rate '" + t + "': at most 100000000 kbit/s");
    l.rate_kbit = static_cast<std::uint64_t>(v);
  });
  apply(o.queue, "--queue", links, [](auto& l, double v, auto& t) {
    if (v < 1 || v > 100000) throw wire::RuleError("--queue '" + t + "': from 1 to 100000 packets");
    l.queue_packets = static_cast<std::size_t>(v);
  });
  for (const auto& l : links)
    if (l.delay_ms > 600'000 || l.jitter_ms > 600'000) throw wire::RuleError("--delay and --jitter: at most 600000 ms");
  return links;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string log_level = "info";
  std::uint64_t seed = 1;
  double max_seconds = 0;
  CLI::App app{
      "netlab-wire: forward Ethernet frames between two interfaces (AF_PACKET) with seeded delay, "
      "jitter, loss, duplication, reordering, a rate-limited drop-tail queue and targeted rules. "
      "Settings take 'V' (both directions) or 'DIR=V', DIR = left>right | right>left.",
      "netlab-wire"};
  app.add_option("--left", o.left, "the client's side (an interface in this namespace)")->required();
  app.add_option("--right", o.right, "the server's side (an interface in this namespace)")->required();
  app.add_option("--delay", o.delay, "one-way delay, ms")->take_all();
  app.add_option("--jitter", o.jitter, "delay varies by up to +- this, ms (the link stays first in, first out)");
  app.add_option("--loss", o.loss, "probability that a frame is lost");
  app.add_option("--duplicate", o.duplicate, "probability that a frame is delivered twice");
  app.add_option("--reorder", o.reorder, "probability that a frame is held back until the next one has gone");
  app.add_option("--rate", o.rate, "the bottleneck's rate, kbit/s (0 = none)");
  app.add_option("--queue", o.queue, "the bottleneck's drop-tail queue, packets (default 1000)");
  app.add_option("--rule", o.rules,
                 "'DIR [PROTO] [CONDITION...] ACTION', e.g. 'left>right tcp flags=S nth=1 delay=3000'; "
                 "PROTO tcp|udp|icmp|ip; CONDITION flags=SA len>0 port=N sport=N dport=N nth=N|N-M|N+; "
                 "ACTION drop | delay=MS | duplicate | hold-and-replay=MS");
  app.add_option("--rules-file", o.rules_file,
                 "more rules, one per line ('#' comments); read again on SIGHUP, its new rules replacing its old ones");
  app.add_option("--seed", seed, "seed for every random decision (same seed, same decisions)")->capture_default_str();
  app.add_option("--stats-json,--json", o.stats_json,
                 "write the counters and the rule log here at exit and on SIGUSR1 ('-' = stdout)");
  app.add_option("--events", o.events, "write one JSON line per rule firing, drop and queue sample here");
  app.add_option("--ready-file", o.ready_file,
                 "write 'ready' here once both interfaces are open (and the number of rules to PATH.reloaded after "
                 "each SIGHUP that read --rules-file)");
  app.add_option("--max-held", o.max_held, "frames held for later at most (more are dropped and counted)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  app.add_option("--max-seconds", max_seconds, "stop after this many seconds (0 = until SIGINT/SIGTERM)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (logs go to stderr)")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  if (auto code = parse_options(app, argc, argv)) return *code;

  std::array<wire::LinkConfig, 2> links;
  std::vector<wire::Rule> rules;
  try {
    links = link_config(o);
    for (const auto& text : o.rules) rules.push_back(wire::parse_rule(text));
    if (!o.rules_file.empty())
      for (auto& rule : read_rules_file(o.rules_file)) rules.push_back(std::move(rule));
  } catch (const wire::RuleError& e) {
    std::cerr << "netlab-wire: " << e.what() << " (see --help)\n";
    return 2;
  }
  init_logging("netlab-wire", log_level);
  try {
    asio::io_context io;
    wire::Engine engine(links, std::move(rules), seed, o.max_held);
    Wire link(io, o, engine);
    auto write_stats = [&] {
      if (!o.stats_json.empty()) {
        const auto text = boost::json::serialize(link.report()) + "\n";
        if (o.stats_json == "-")
          std::cout << text << std::flush;
        else
          write_file_atomically(o.stats_json, text);
      }
    };
    asio::signal_set usr1(io, SIGUSR1), hup(io, SIGHUP);
    StopSignals stop(io, max_seconds, [&](std::string_view reason) {
      spdlog::info("stopping ({})", reason);
      link.stop();
      usr1.cancel();
      hup.cancel();
    });
    // SIGHUP: the rules file again. A file that does not parse changes nothing.
    std::function<void()> on_hup = [&] {
      hup.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (o.rules_file.empty()) {
          spdlog::warn("SIGHUP: no --rules-file to read");
        } else {
          try {
            auto fresh = read_rules_file(o.rules_file);
            const auto count = fresh.size();
            engine.replace_file_rules(std::move(fresh));
            spdlog::info("rules reloaded from {}: {} rule(s)", o.rules_file, count);
            if (!o.ready_file.empty()) write_file_atomically(o.ready_file + ".reloaded", std::to_string(count) + "\n");
          } catch (const wire::RuleError& e) {
            spdlog::error("SIGHUP: {} (the rules stay as they were)", e.what());
          }
        }
        on_hup();
      });
    };
    on_hup();
    std::function<void()> on_usr1 = [&] {
      usr1.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        write_stats();
        on_usr1();
      });
    };
    on_usr1();
    link.start();
    spdlog::info("forwarding {} <-> {}", o.left, o.right);
    if (!o.ready_file.empty()) write_file_atomically(o.ready_file, "ready\n");
    io.run();
    write_stats();
    if (o.stats_json != "-") std::cout << link.summary();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "netlab-wire: " << e.what() << "\n";
    return 1;
  }
}
