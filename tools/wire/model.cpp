#include "model.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace netlab::wire {

namespace {

constexpr Time reorder_hold_max = std::chrono::milliseconds(10);  // a held frame with no successor goes anyway
constexpr Time queue_sample_period = std::chrono::milliseconds(10);

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

Time from_ms(double ms) { return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ms * 1e6))); }

// The letters of the flags, in the order people write them (SYN first).
constexpr std::pair<char, std::uint8_t> flag_letters[] = {
    {'S', tcp_flag::syn}, {'F', tcp_flag::fin}, {'R', tcp_flag::rst}, {'P', tcp_flag::psh},
    {'A', tcp_flag::ack}, {'U', tcp_flag::urg}, {'E', tcp_flag::ece}, {'C', tcp_flag::cwr}};

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<Direction> parse_direction(std::string_view word, bool& both) {
  both = false;
  if (word == "left>right" || word == "l2r") return Direction::left_to_right;
  if (word == "right>left" || word == "r2l") return Direction::right_to_left;
  if (word == "both") both = true;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Direction direction) {
  return direction == Direction::left_to_right ? "left>right" : "right>left";
}

std::string_view to_string(Action action) {
  switch (action) {
    case Action::drop:
      return "drop";
    case Action::delay:
      return "delay";
    case Action::duplicate:
      return "duplicate";
    case Action::hold_and_replay:
      return "hold-and-replay";
  }
  return "?";
}

std::string_view to_string(DropCause cause) {
  switch (cause) {
    case DropCause::loss:
      return "loss";
    case DropCause::queue:
      return "queue";
    case DropCause::rule:
      return "rule";
    case DropCause::held_limit:
      return "held-limit";
  }
  return "?";
}

std::string flags_text(std::uint8_t flags) {
  std::string text;
  for (auto [letter, bit] : flag_letters)
    if (flags & bit) text += letter;
  return text;
}

FrameInfo classify(std::span<const std::uint8_t> frame) {
  FrameInfo info;
  constexpr std::size_t ethernet = 14;
  if (frame.size() < ethernet + 20 || be16(frame, 12) != 0x0800) return info;
  const auto ip = frame.subspan(ethernet);
  info.ipv4 = true;
  const std::size_t header = std::size_t{ip[0] & 0x0fu} * 4;
  const std::size_t total = be16(ip, 2);
  if ((ip[0] >> 4) != 4 || header < 20 || header > ip.size() || total < header) {
    info.malformed = true;
    return info;
  }
  info.protocol = ip[9];
  info.source = be32(ip, 12);
  info.destination = be32(ip, 16);
  if (total > ip.size()) info.malformed = true;  // cut short: the payload length below is what is here
  if ((be16(ip, 6) & 0x1fff) != 0) return info;  // a later fragment: no transport header in it
  const auto l4 = ip.subspan(header, std::min(total, ip.size()) - header);
  if (info.protocol == 6) {
    if (l4.size() < 20) {
      info.malformed = true;
      return info;
    }
    const std::size_t offset = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (offset < 20 || offset > l4.size()) {
      info.malformed = true;
      return info;
    }
    info.source_port = be16(l4, 0);
    info.destination_port = be16(l4, 2);
    info.seq = be32(l4, 4);
    info.ack = be32(l4, 8);
    info.tcp_flags = l4[13];
    info.payload = l4.size() - offset;
  } else if (info.protocol == 17) {
    if (l4.size() < 8) {
      info.malformed = true;
      return info;
    }
    info.source_port = be16(l4, 0);
    info.destination_port = be16(l4, 2);
    info.payload = l4.size() - 8;
  }
  return info;
}

bool LengthTest::holds(std::size_t length) const {
  switch (op) {
    case Op::eq:
      return length == value;
    case Op::gt:
      return length > value;
    case Op::ge:
      return length >= value;
    case Op::lt:
      return length < value;
    case Op::le:
      return length <= value;
  }
  return false;
}

bool Rule::matches(Direction d, const FrameInfo& frame) const {
  if (direction && *direction != d) return false;
  if (!frame.ipv4) return false;
  const bool needs_transport = flags || length || port || source_port || destination_port;
  if (frame.malformed && (needs_transport || protocol != Protocol::any)) return false;
  switch (protocol) {
    case Protocol::any:
      break;
    case Protocol::tcp:
      if (frame.protocol != 6) return false;
      break;
    case Protocol::udp:
      if (frame.protocol != 17) return false;
      break;
    case Protocol::icmp:
      if (frame.protocol != 1) return false;
      break;
  }
  if (needs_transport && frame.protocol != 6 && frame.protocol != 17) return false;
  if (flags && (frame.protocol != 6 || frame.tcp_flags != *flags)) return false;
  if (length && !length->holds(frame.payload)) return false;
  if (port && frame.source_port != *port && frame.destination_port != *port) return false;
  if (source_port && frame.source_port != *source_port) return false;
  if (destination_port && frame.destination_port != *destination_port) return false;
  return true;
}

Rule parse_rule(std::string_view text) {
  Rule rule;
  rule.text = std::string(text);
  auto fail = [&](std::string_view word, std::string_view why) -> RuleError {
    return RuleError("rule '" + rule.text + "': '" + std::string(word) + "' " + std::string(why));
  };
  std::vector<std::string_view> words;
  for (std::size_t at = 0; at < text.size();) {
    const auto start = text.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    const auto end = std::min(text.find_first_of(" \t", start), text.size());
    words.push_back(text.substr(start, end - start));
    at = end;
  }
  if (words.empty()) throw RuleError("rule '': empty (expected 'DIR [PROTO] [CONDITION...] ACTION')");
  if (words.size() > 16) throw fail(words[16], "is one word too many (a rule has at most 16)");

  bool both = false;
  rule.direction = parse_direction(words[0], both);
  if (!rule.direction && !both) throw fail(words[0], "is not a direction (left>right, right>left or both)");

  bool have_action = false;
  auto port_value = [&](std::string_view word, std::string_view value) {
    auto n = parse_number<std::uint32_t>(value);
    if (!n || *n > 65535) throw fail(word, "wants a port number from 0 to 65535");
    return static_cast<std::uint16_t>(*n);
  };
  auto ms_value = [&](std::string_view word, std::string_view value) {
    auto ms = parse_double(value);
    if (!ms || *ms < 0 || *ms > 600'000) throw fail(word, "wants milliseconds from 0 to 600000");
    return from_ms(*ms);
  };
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto word = words[i];
    if (have_action) throw fail(word, "comes after the action (the action is the last word)");
    const auto eq = word.find('=');
    const auto key = word.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : word.substr(eq + 1);
    if (i == 1 && (word == "tcp" || word == "udp" || word == "icmp" || word == "ip")) {
      rule.protocol = word == "tcp"    ? Protocol::tcp
                      : word == "udp"  ? Protocol::udp
                      : word == "icmp" ? Protocol::icmp
                                       : Protocol::any;
    } else if (word == "tcp" || word == "udp" || word == "icmp" || word == "ip") {
      throw fail(word, "must come right after the direction");
    } else if (key == "flags" && eq != std::string_view::npos) {
      if (value.empty()) throw fail(word, "names no flag (use letters of S F R P A U E C, e.g. flags=SA)");
      std::uint8_t set = 0;
      for (char c : value) {
        auto it =
            std::find_if(std::begin(flag_letters), std::end(flag_letters), [c](auto pair) { return pair.first == c; });
        if (it == std::end(flag_letters))
          throw fail(word, std::string("has '") + c + "', not one of the flags S F R P A U E C");
        set |= it->second;
      }
      if (rule.protocol != Protocol::any && rule.protocol != Protocol::tcp)
        throw fail(word, "is a TCP condition on a non-TCP rule");
      rule.protocol = Protocol::tcp;
      rule.flags = set;
    } else if (word.starts_with("len")) {
      auto rest = word.substr(3);
      LengthTest test;
      if (rest.starts_with(">="))
        test.op = LengthTest::Op::ge, rest.remove_prefix(2);
      else if (rest.starts_with("<="))
        test.op = LengthTest::Op::le, rest.remove_prefix(2);
      else if (rest.starts_with(">"))
        test.op = LengthTest::Op::gt, rest.remove_prefix(1);
      else if (rest.starts_with("<"))
        test.op = LengthTest::Op::lt, rest.remove_prefix(1);
      else if (rest.starts_with("="))
        test.op = LengthTest::Op::eq, rest.remove_prefix(1);
      else
        throw fail(word, "wants a comparison: len=N, len>N, len>=N, len<N or len<=N");
      auto n = parse_number<std::size_t>(rest);
      if (!n || *n > 65535) throw fail(word, "wants a payload length from 0 to 65535");
      test.value = *n;
      rule.length = test;
    } else if (key == "port" && eq != std::string_view::npos) {
      rule.port = port_value(word, value);
    } else if (key == "sport" && eq != std::string_view::npos) {
      rule.source_port = port_value(word, value);
    } else if (key == "dport" && eq != std::string_view::npos) {
      rule.destination_port = port_value(word, value);
    } else if (key == "nth" && eq != std::string_view::npos) {
      const auto dash = value.find('-');
      std::optional<std::uint64_t> first, last;
      if (value.ends_with('+')) {
        first = parse_number<std::uint64_t>(value.substr(0, value.size() - 1));
        last = UINT64_MAX;
      } else if (dash != std::string_view::npos) {
        first = parse_number<std::uint64_t>(value.substr(0, dash));
        last = parse_number<std::uint64_t>(value.substr(dash + 1));
      } else {
        first = last = parse_number<std::uint64_t>(value);
      }
      if (!first || !last || *first == 0 || *last < *first)
        throw fail(word, "wants nth=N, nth=N-M or nth=N+ with 1 <= N <= M");
      rule.nth_first = *first;
      rule.nth_last = *last;
    } else if (word == "drop") {
      rule.action = Action::drop, have_action = true;
    } else if (word == "duplicate") {
      rule.action = Action::duplicate, have_action = true;
    } else if (key == "delay" && eq != std::string_view::npos) {
      rule.action = Action::delay, rule.delay = ms_value(word, value), have_action = true;
    } else if (key == "hold-and-replay" && eq != std::string_view::npos) {
      rule.action = Action::hold_and_replay, rule.delay = ms_value(word, value), have_action = true;
    } else {
      throw fail(word,
                 "is not a condition (flags=, len, port=, sport=, dport=, nth=) or an action "
                 "(drop, delay=MS, duplicate, hold-and-replay=MS)");
    }
  }
  if (!have_action)
    throw fail(words.back(), "is not an action: a rule ends with drop, delay=MS, duplicate or hold-and-replay=MS");
  return rule;
}

std::vector<Rule> parse_rules_file(std::string_view text) {
  std::vector<Rule> rules;
  std::size_t number = 0;
  for (std::size_t at = 0; at <= text.size() && number < 10'000;) {
    const auto end = std::min(text.find('\n', at), text.size());
    auto line = text.substr(at, end - at);
    ++number;
    at = end + 1;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    try {
      rules.push_back(parse_rule(line));
      rules.back().from_file = true;
    } catch (const RuleError& e) {
      throw RuleError("line " + std::to_string(number) + ": " + e.what());
    }
    if (rules.size() > 1000) throw RuleError("line " + std::to_string(number) + ": more than 1000 rules");
  }
  return rules;
}

DirectionalValue parse_directional(std::string_view text, std::string_view option) {
  DirectionalValue result;
  auto number = text;
  const auto eq = text.find('=');
  if (eq != std::string_view::npos) {
    bool both = false;
    result.direction = parse_direction(text.substr(0, eq), both);
    if (!result.direction && !both)
      throw RuleError(std::string(option) + " '" + std::string(text) +
                      "': the direction is left>right, right>left or both");
    number = text.substr(eq + 1);
  }
  auto value = parse_double(number);
  if (!value || *value < 0)
    throw RuleError(std::string(option) + " '" + std::string(text) + "': '" + std::string(number) +
                    "' is not a number >= 0");
  result.value = *value;
  return result;
}

// --- the bottleneck ---------------------------------------------------------------------

Bottleneck::Bottleneck(std::uint64_t rate_bits_per_s, std::size_t limit)
    : rate_(std::max<std::uint64_t>(rate_bits_per_s, 1)),
      limit_(std::max<std::size_t>(limit, 1)),
      departures_(limit_) {}

std::size_t Bottleneck::depth(Time now) {
  while (size_ > 0 && departures_[head_] <= now) {
    head_ = (head_ + 1) % limit_;
    --size_;
  }
  return size_;
}

std::optional<Time> Bottleneck::admit(Time now, std::size_t bytes) {
  if (depth(now) >= limit_) return std::nullopt;
  // Serialising `bytes` at `rate_` takes bytes * 8 / rate seconds.
  const auto serialise = Time(static_cast<std::int64_t>(static_cast<double>(bytes) * 8e9 / static_cast<double>(rate_)));
  const Time departure = std::max(now, busy_until_) + serialise;
  busy_until_ = departure;
  departures_[(head_ + size_) % limit_] = departure;
  ++size_;
  max_depth_ = std::max(max_depth_, size_);
  waiting_seconds_ += std::chrono::duration<double>(departure - now).count();
  return departure;
}

// --- the engine -----------------------------------------------------------------------

Engine::Engine(std::array<LinkConfig, 2> links, std::vector<Rule> rules, std::uint64_t seed, std::size_t max_held)
    : links_(links),
      rules_(std::move(rules)),
      rule_matches_(rules_.size()),
      rule_fired_(rules_.size()),
      max_held_(max_held) {
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t kind = 0; kind < 3; ++kind) {
      std::seed_seq sequence{seed, std::uint64_t{i}, std::uint64_t{kind}};
      random_[i][kind].seed(sequence);
    }
    if (links_[i].rate_kbit > 0) bottleneck_[i].emplace(links_[i].rate_kbit * 1000, links_[i].queue_packets);
  }
}

DirectionStats Engine::stats(Direction direction) const {
  DirectionStats s = stats_[index(direction)];
  if (const auto& b = bottleneck_[index(direction)]) {
    s.queue_max = b->max_depth();
    s.queue_waiting_seconds = b->waiting_seconds();
  }
  return s;
}

void Engine::replace_file_rules(std::vector<Rule> rules) {
  for (auto& rule : rules_)
    if (rule.from_file) rule.active = false;
  for (auto& rule : rules) {
    rule.from_file = true;
    rules_.push_back(std::move(rule));
    rule_matches_.push_back(0);
    rule_fired_.push_back(0);
  }
}

std::optional<std::size_t> Engine::fire_rule(Direction direction, const FrameInfo& info) {
  std::optional<std::size_t> fired;
  for (std::size_t r = 0; r < rules_.size(); ++r) {
    if (!rules_[r].active || !rules_[r].matches(direction, info)) continue;
    const auto nth = ++rule_matches_[r];
    if (!fired && nth >= rules_[r].nth_first && nth <= rules_[r].nth_last) fired = r;
  }
  if (fired) ++rule_fired_[*fired];
  return fired;
}

void Engine::count_drop(Direction direction, const FrameInfo& info, DropCause cause) {
  auto& s = stats_[index(direction)];
  switch (cause) {
    case DropCause::loss:
      ++s.dropped_loss;
      break;
    case DropCause::queue:
      ++s.dropped_queue;
      break;
    case DropCause::rule:
      ++s.dropped_rule;
      break;
    case DropCause::held_limit:
      ++s.dropped_held_limit;
      break;
  }
  if (!info.malformed && info.protocol == 6) ++s.dropped_tcp;
  if (!info.malformed && info.protocol == 17) ++s.dropped_udp;
}

bool Engine::schedule(Direction direction, Time due, std::span<const std::uint8_t> frame, const FrameInfo& info,
                      Time now) {
  if (scheduled_.size() >= max_held_) {
    count_drop(direction, info, DropCause::held_limit);
    emit({.kind = Event::Kind::drop, .at = now, .direction = direction, .frame = info, .cause = DropCause::held_limit});
    return false;
  }
  scheduled_.emplace(Key{due, ++order_}, Pending{direction, Bytes(frame.begin(), frame.end())});
  return true;
}

bool Engine::on_frame(Direction direction, Time now, std::span<const std::uint8_t> frame) {
  const auto i = index(direction);
  auto& s = stats_[i];
  const auto& link = links_[i];
  ++s.frames_in;
  s.bytes_in += frame.size();
  const FrameInfo info = classify(frame);
  if (!info.ipv4) {  // ARP and the rest pass untouched
    ++s.not_ipv4;
    return true;
  }
  if (info.malformed) ++s.malformed;

  // 1. Targeted rules: the story a lab wants to tell.
  bool extra_copy = false;
  if (auto r = fire_rule(direction, info)) {
    const Rule& rule = rules_[*r];
    emit({.kind = Event::Kind::rule,
          .at = now,
          .direction = direction,
          .frame = info,
          .rule = *r,
          .action = rule.action});
    switch (rule.action) {
      case Action::drop:
        count_drop(direction, info, DropCause::rule);
        return false;
      case Action::delay:  // held in the network: it skips the queue and the random impairments
        ++s.delayed;
        schedule(direction, now + rule.delay, frame, info, now);
        return false;
      case Action::duplicate:
        ++s.duplicated;
        extra_copy = true;
        break;
      case Action::hold_and_replay:
        ++s.replayed;
        schedule(direction, now + rule.delay, frame, info, now);
        break;
    }
  }

  // 2. The random impairments: four draws per frame, always in this order,
  // so one seed gives one run whatever is switched on.
  auto& random = random_[i][info.malformed ? 2 : info.protocol == 6 ? 0 : info.protocol == 17 ? 1 : 2];
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double u_loss = unit(random), u_duplicate = unit(random), u_reorder = unit(random), u_jitter = unit(random);
  if (u_loss < link.loss) {
    count_drop(direction, info, DropCause::loss);
    emit({.kind = Event::Kind::drop, .at = now, .direction = direction, .frame = info, .cause = DropCause::loss});
    return false;
  }
  if (u_duplicate < link.duplicate) {
    ++s.duplicated;
    extra_copy = true;
  }

  // 3. The bottleneck: wait for the link, or find the queue full.
  Time departure = now;
  if (auto& bottleneck = bottleneck_[i]) {
    const auto admitted = bottleneck->admit(now, frame.size());
    const auto depth = bottleneck->depth(now);
    if (!admitted) {
      count_drop(direction, info, DropCause::queue);
      emit({.kind = Event::Kind::drop,
            .at = now,
            .direction = direction,
            .frame = info,
            .cause = DropCause::queue,
            .queue_depth = depth});
      return false;
    }
    departure = *admitted;
    if (depth != last_queue_depth_[i] && now - last_queue_sample_[i] >= queue_sample_period) {
      last_queue_sample_[i] = now;
      last_queue_depth_[i] = depth;
      emit({.kind = Event::Kind::queue, .at = now, .direction = direction, .frame = info, .queue_depth = depth});
    }
  }

  // 4. The propagation delay with jitter; the link itself stays first in, first out.
  Time due = departure + from_ms(link.delay_ms + (2 * u_jitter - 1) * link.jitter_ms);
  due = std::max({due, departure, last_due_[i]});
  last_due_[i] = due;

  // 5. Reordering: hold this frame back until the next one has gone.
  if (u_reorder < link.reorder && !held_[i]) {
    if (!schedule(direction, due + reorder_hold_max, frame, info, now)) return false;
    held_[i] = Key{due + reorder_hold_max, order_};
    if (extra_copy) schedule(direction, due, frame, info, now);
    return false;
  }
  const bool forward_now = due <= now;
  if (!forward_now && !schedule(direction, due, frame, info, now)) return false;
  if (extra_copy) schedule(direction, due, frame, info, now);
  if (held_[i]) {  // the held frame goes right after this one: that is the reordering
    auto node = scheduled_.extract(*held_[i]);
    held_[i].reset();
    if (!node.empty()) {
      node.key() = Key{due, ++order_};
      scheduled_.insert(std::move(node));
      ++s.reordered;
    }
  }
  return forward_now;
}

void Engine::count_forwarded(Direction direction, std::size_t bytes) {
  auto& s = stats_[index(direction)];
  ++s.frames_out;
  s.bytes_out += bytes;
}

std::optional<Time> Engine::next_due() const {
  if (scheduled_.empty()) return std::nullopt;
  return scheduled_.begin()->first.first;
}

void Engine::release(Time now, std::vector<Released>& out) {
  while (!scheduled_.empty() && scheduled_.begin()->first.first <= now) {
    auto node = scheduled_.extract(scheduled_.begin());
    for (auto& held : held_)
      if (held && *held == node.key()) held.reset();  // its time ran out with no frame after it
    count_forwarded(node.mapped().direction, node.mapped().bytes.size());
    out.push_back(std::move(node.mapped()));
  }
}

}  // namespace netlab::wire
