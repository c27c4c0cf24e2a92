#pragma once
// netlab-wire's model of a link, with no sockets in it: what a frame is (the
// classifier), the targeted rules and their parser, the bottleneck (a token
// bucket of one frame feeding a drop-tail queue), and the engine that decides,
// frame by frame and from one seeded generator per direction, what the link
// does: forward now, drop (and why), delay, duplicate, reorder, replay later.
// Time is passed in, so the unit tests drive it with a fake clock and the
// same seed gives the same decisions for the same frames.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::wire {

using Time = std::chrono::nanoseconds;  // CLOCK_MONOTONIC (steady_clock), so other processes can line events up
using Bytes = std::vector<std::uint8_t>;

enum class Direction : std::uint8_t { left_to_right = 0, right_to_left = 1 };
std::string_view to_string(Direction direction);  // "left>right", "right>left"

// --- what a frame is ------------------------------------------------------------

namespace tcp_flag {
constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20, ece = 0x40, cwr = 0x80;
}

// "SA", "FA", "PA", "R": the set flags in the order S F R P A U E C ("" for none).
std::string flags_text(std::uint8_t flags);

struct FrameInfo {
  bool ipv4 = false;                          // EtherType 0x0800 with a whole IPv4 header
  bool malformed = false;                     // IPv4 that is cut short (header or TCP/UDP header past the frame)
  std::uint8_t protocol = 0;                  // 1 icmp, 6 tcp, 17 udp
  std::uint32_t source = 0, destination = 0;  // host byte order
  std::uint16_t source_port = 0, destination_port = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::size_t payload = 0;  // TCP/UDP payload bytes (by the IPv4 total length, not the frame's padding)
};

// Reads the Ethernet, IPv4 and TCP/UDP headers with byte shifts. Never reads
// past `frame`; anything it cannot read whole is !ipv4 or malformed.
FrameInfo classify(std::span<const std::uint8_t> frame);

// --- targeted rules ------------------------------------------------------------------

enum class Protocol : std::uint8_t { any, tcp, udp, icmp };
enum class Action : std::uint8_t { drop, delay, duplicate, hold_and_replay };
std::string_view to_string(Action action);

struct LengthTest {
  enum class Op : std::uint8_t { eq, gt, ge, lt, le } op = Op::eq;
  std::size_t value = 0;
  bool holds(std::size_t length) const;
};

struct Rule {
  std::string text;
  std::optional<Direction> direction;  // nullopt: both
  Protocol protocol = Protocol::any;
  std::optional<std::uint8_t> flags;  // the exact set of TCP flags
  std::optional<LengthTest> length;   // payload length
  std::optional<std::uint16_t> port, source_port, destination_port;
  std::uint64_t nth_first = 1, nth_last = UINT64_MAX;  // which matches fire (1-based)
  Action action = Action::drop;
  Time delay{0};           // delay=MS, hold-and-replay=MS
  bool active = true;      // a rule replaced by a reload of --rules-file stays listed, inactive
  bool from_file = false;  // came from --rules-file (a reload replaces these)

  bool matches(Direction direction, const FrameInfo& frame) const;
};

// A rule that does not parse: what() names the rule and the word that was wrong.
struct RuleError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// 'DIR [PROTO] [CONDITION...] ACTION', e.g. 'left>right tcp flags=S nth=1 delay=3000'.
//   DIR        left>right | right>left | both
//   PROTO      tcp | udp | icmp | ip (any; the default)
//   CONDITION  flags=SA (exact set of S F R P A U E C; implies tcp), len=N len>N len>=N len<N len<=N
//              (payload bytes), port=N sport=N dport=N, nth=N | nth=N-M | nth=N+ (which of the
//              matching frames the action takes; default: every one)
//   ACTION     drop | delay=MS | duplicate | hold-and-replay=MS (forward now, send a copy again MS later)
Rule parse_rule(std::string_view text);

// The rules of a --rules-file: one per line; blank lines and lines starting
// with '#' are skipped. A bad line throws RuleError naming its line number.
std::vector<Rule> parse_rules_file(std::string_view text);

// A per-direction setting: "20" (both directions) or "left>right=20".
struct DirectionalValue {
  std::optional<Direction> direction;
  double value = 0;
};
DirectionalValue parse_directional(std::string_view text, std::string_view option);  // throws RuleError

// --- the link ---------------------------------------------------------------------------

struct LinkConfig {
  double delay_ms = 0, jitter_ms = 0;
  double loss = 0, duplicate = 0, reorder = 0;  // probabilities 0..1
  std::uint64_t rate_kbit = 0;                  // 0: no bottleneck
  std::size_t queue_packets = 1000;             // the bottleneck's drop-tail queue
};

// The bottleneck: frames leave one after another at `rate`; a frame that
// finds `limit` frames waiting (the one being sent included) is dropped.
class Bottleneck {
 public:
  Bottleneck(std::uint64_t rate_bits_per_s, std::size_t limit);
  // The time the frame has left the bottleneck, or nullopt: the queue is full.
  std::optional<Time> admit(Time now, std::size_t bytes);
  std::size_t depth(Time now);  // frames admitted that have not left yet
  std::size_t max_depth() const { return max_depth_; }
  // Frame-seconds spent waiting (Little's law: divided by the elapsed time, the mean depth).
  double waiting_seconds() const { return waiting_seconds_; }

 private:
  std::uint64_t rate_;
  std::size_t limit_;
  std::vector<Time> departures_;  // a ring, oldest first
  std::size_t head_ = 0, size_ = 0;
  Time busy_until_{0};
  std::size_t max_depth_ = 0;
  double waiting_seconds_ = 0;
};

enum class DropCause : std::uint8_t { loss, queue, rule, held_limit };
std::string_view to_string(DropCause cause);

struct DirectionStats {
  std::uint64_t frames_in = 0, bytes_in = 0, frames_out = 0, bytes_out = 0;
  std::uint64_t dropped_loss = 0, dropped_queue = 0, dropped_rule = 0, dropped_held_limit = 0;
  std::uint64_t duplicated = 0, reordered = 0, delayed = 0, replayed = 0;
  std::uint64_t not_ipv4 = 0, malformed = 0;
  std::uint64_t dropped_tcp = 0, dropped_udp = 0;  // every cause, by protocol
  std::size_t queue_max = 0;
  double queue_waiting_seconds = 0;
};

// Something the wire did that the labs use as evidence.
struct Event {
  enum class Kind : std::uint8_t { rule, drop, queue } kind = Kind::rule;
  Time at{0};
  Direction direction = Direction::left_to_right;
  FrameInfo frame;
  std::size_t rule = 0;               // kind rule: its index
  Action action = Action::drop;       // kind rule
  DropCause cause = DropCause::loss;  // kind drop
  std::size_t queue_depth = 0;        // kind queue (and drop by queue)
};

class Engine {
 public:
  Engine(std::array<LinkConfig, 2> links, std::vector<Rule> rules, std::uint64_t seed, std::size_t max_held = 200'000);

  void on_event(std::function<void(const Event&)> sink) { sink_ = std::move(sink); }

  // A frame arrived. True: the caller forwards `frame` itself at once (nothing
  // to wait for); after that it calls release() for anything due now (a
  // duplicate). False: the engine dropped or stored it.
  bool on_frame(Direction direction, Time now, std::span<const std::uint8_t> frame);
  // Counts a frame the caller forwarded itself (on_frame returned true).
  void count_forwarded(Direction direction, std::size_t bytes);

  // The earliest time a stored frame is due, if any.
  std::optional<Time> next_due() const;
  struct Released {
    Direction direction;
    Bytes bytes;
  };
  // Moves every stored frame due at `now` to the end of `out`, in order.
  void release(Time now, std::vector<Released>& out);

  DirectionStats stats(Direction direction) const;
  const std::vector<Rule>& rules() const { return rules_; }
  // Replaces the rules that came from --rules-file with `rules` (the old ones
  // stay listed, inactive, so the rule log's indices keep their meaning).
  void replace_file_rules(std::vector<Rule> rules);
  std::uint64_t rule_matches(std::size_t rule) const { return rule_matches_[rule]; }
  std::uint64_t rule_fired(std::size_t rule) const { return rule_fired_[rule]; }
  std::size_t held() const { return scheduled_.size(); }
  const LinkConfig& link(Direction direction) const { return links_[index(direction)]; }

 private:
  using Pending = Released;
  using Key = std::pair<Time, std::uint64_t>;  // due, then arrival order
  static std::size_t index(Direction d) { return static_cast<std::size_t>(d); }

  void emit(const Event& event) const {
    if (sink_) sink_(event);
  }
  void count_drop(Direction direction, const FrameInfo& info, DropCause cause);
  bool schedule(Direction direction, Time due, std::span<const std::uint8_t> frame, const FrameInfo& info, Time now);
  std::optional<std::size_t> fire_rule(Direction direction, const FrameInfo& info);

  std::array<LinkConfig, 2> links_;
  std::vector<Rule> rules_;
  std::vector<std::uint64_t> rule_matches_, rule_fired_;
  // One generator per direction and per kind of traffic (TCP, UDP, the rest):
  // the decisions for a UDP stream do not depend on how many TCP frames went
  // before it, so the same seed drops the same datagrams of the same stream.
  std::array<std::array<std::mt19937_64, 3>, 2> random_;
  std::array<std::optional<Bottleneck>, 2> bottleneck_;
  std::array<Time, 2> last_due_{};            // FIFO: the link never reorders by itself
  std::array<std::optional<Key>, 2> held_{};  // --reorder: goes out right after the next frame
  std::array<Time, 2> last_queue_sample_{};
  std::array<std::size_t, 2> last_queue_depth_{};
  std::array<DirectionStats, 2> stats_{};
  std::map<Key, Pending> scheduled_;
  std::uint64_t order_ = 0;
  std::size_t max_held_;
  std::function<void(const Event&)> sink_;
};

}  // namespace netlab::wire
