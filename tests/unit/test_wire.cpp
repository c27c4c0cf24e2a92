// netlab-wire's model without sockets: the frame classifier (byte by byte,
// every truncation), the rule parser (every error path), the bottleneck's
// accounting, and the engine's seeded decisions on a fake clock.
#include "model.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

using namespace netlab::wire;
using std::chrono::milliseconds;

namespace {

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// An Ethernet + IPv4 + TCP (or UDP) frame from 198.18.0.1:40000 to 198.18.0.2:7001.
Bytes make_frame(std::uint8_t protocol, std::uint8_t flags, std::uint32_t seq, std::size_t payload,
                 std::uint8_t fill = 0xab) {
  const std::size_t l4 = protocol == 6 ? 20 : 8;
  Bytes b(14 + 20 + l4, 0);
  b.resize(b.size() + payload, fill);
  put16(b, 12, 0x0800);
  b[14] = 0x45;
  put16(b, 16, static_cast<std::uint16_t>(20 + l4 + payload));
  b[14 + 8] = 64;
  b[14 + 9] = protocol;
  put32(b, 14 + 12, 0xc6120001);
  put32(b, 14 + 16, 0xc6120002);
  put16(b, 34, 40000);
  put16(b, 36, 7001);
  if (protocol == 6) {
    put32(b, 38, seq);
    put32(b, 42, seq + 1000);
    b[46] = 0x50;
    b[47] = flags;
  } else {
    put16(b, 38, static_cast<std::uint16_t>(8 + payload));
  }
  return b;
}
Bytes tcp(std::uint8_t flags, std::uint32_t seq = 1, std::size_t payload = 0) {
  return make_frame(6, flags, seq, payload);
}
Bytes udp(std::size_t payload, std::uint8_t fill = 0) { return make_frame(17, 0, 0, payload, fill); }

Bytes arp() {
  Bytes b(42, 0);
  put16(b, 12, 0x0806);
  return b;
}

std::string error_of(std::string_view rule) {
  try {
    parse_rule(rule);
  } catch (const RuleError& e) {
    return e.what();
  }
  return "";
}

Engine engine(LinkConfig link, std::vector<Rule> rules = {}, std::uint64_t seed = 1) {
  return Engine({link, link}, std::move(rules), seed);
}

const Time t0 = std::chrono::seconds(1000);
constexpr auto l2r = Direction::left_to_right;

}  // namespace

TEST_CASE("classify reads a TCP segment's flags, sequence, ports and payload length") {
  const auto frame = tcp(tcp_flag::syn | tcp_flag::ack, 123456789, 100);
  const auto info = classify(frame);
  REQUIRE(info.ipv4);
  REQUIRE_FALSE(info.malformed);
  CHECK(info.protocol == 6);
  CHECK(info.tcp_flags == (tcp_flag::syn | tcp_flag::ack));
  CHECK(flags_text(info.tcp_flags) == "SA");
  CHECK(info.seq == 123456789);
  CHECK(info.ack == 123457789);
  CHECK(info.source_port == 40000);
  CHECK(info.destination_port == 7001);
  CHECK(info.payload == 100);
  CHECK(info.source == 0xc6120001);
}

TEST_CASE("classify takes the payload length from the IPv4 total length, not the frame's padding") {
  auto frame = tcp(tcp_flag::ack);
  frame.resize(60, 0);  // Ethernet pads a bare ACK to 60 bytes
  CHECK(classify(frame).payload == 0);
  CHECK_FALSE(classify(frame).malformed);
}

TEST_CASE("classify of every truncation of a frame never reads past it") {
  for (const auto& whole : {tcp(tcp_flag::psh | tcp_flag::ack, 7, 30), udp(30)}) {
    for (std::size_t n = 0; n < whole.size(); ++n) {
      const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      const auto info = classify(cut);
      INFO("length " << n);
      CHECK((!info.ipv4 || info.malformed));  // cut short: never a clean segment
    }
  }
}

TEST_CASE("classify: ARP and other EtherTypes are not IPv4, a bad IPv4 header is malformed") {
  CHECK_FALSE(classify(arp()).ipv4);
  auto bad = tcp(tcp_flag::syn);
  bad[14] = 0x44;  // header length 16 < 20
  CHECK(classify(bad).malformed);
  auto offset = tcp(tcp_flag::syn);
  offset[46] = 0x40;  // TCP data offset 16 < 20
  CHECK(classify(offset).malformed);
  auto fragment = tcp(tcp_flag::syn);
  fragment[14 + 7] = 0x10;  // a later fragment: no TCP header to read
  CHECK(classify(fragment).ipv4);
  CHECK(classify(fragment).tcp_flags == 0);
  CHECK_FALSE(parse_rule("both tcp flags=S drop").matches(Direction::left_to_right, classify(fragment)));
}

TEST_CASE("parse_rule reads the issue's examples") {
  auto syn = parse_rule("left>right tcp flags=S nth=1 delay=3000");
  CHECK(syn.direction == l2r);
  CHECK(syn.protocol == Protocol::tcp);
  CHECK(syn.flags == tcp_flag::syn);
  CHECK(syn.nth_first == 1);
  CHECK(syn.nth_last == 1);
  CHECK(syn.action == Action::delay);
  CHECK(syn.delay == milliseconds(3000));

  auto fin = parse_rule("right>left tcp flags=F nth=1 drop");
  CHECK(fin.direction == Direction::right_to_left);
  CHECK(fin.action == Action::drop);

  auto data = parse_rule("left>right tcp len>0 nth=5 duplicate");
  CHECK(data.length->op == LengthTest::Op::gt);
  CHECK(data.nth_first == 5);
  CHECK(data.action == Action::duplicate);

  auto all = parse_rule("both ip drop");
  CHECK_FALSE(all.direction.has_value());
  CHECK(all.nth_last == UINT64_MAX);

  auto replay = parse_rule("left>right tcp flags=PA dport=7003 nth=2+ hold-and-replay=250");
  CHECK(replay.flags == (tcp_flag::psh | tcp_flag::ack));
  CHECK(replay.destination_port == 7003);
  CHECK(replay.nth_first == 2);
  CHECK(replay.nth_last == UINT64_MAX);
  CHECK(replay.action == Action::hold_and_replay);
  CHECK(replay.delay == milliseconds(250));

  CHECK(parse_rule("r2l udp port=7001 nth=3-5 drop").nth_last == 5);
}

TEST_CASE("parse_rule names the word that is wrong") {
  struct Case {
    const char* rule;
    const char* word;
  };
  const Case cases[] = {
      {"up tcp drop", "'up' is not a direction"},
      {"left>right drop tcp", "'tcp' comes after the action"},
      {"left>right len>0 tcp drop", "'tcp' must come right after the direction"},
      {"left>right tcp flags=SX drop", "has 'X'"},
      {"left>right tcp flags= drop", "names no flag"},
      {"left>right udp flags=S drop", "TCP condition on a non-TCP rule"},
      {"left>right tcp len!0 drop", "wants a comparison"},
      {"left>right tcp len>x drop", "wants a payload length"},
      {"left>right tcp port=70000 drop", "wants a port number"},
      {"left>right tcp nth=0 drop", "wants nth=N"},
      {"left>right tcp nth=5-2 drop", "wants nth=N"},
      {"left>right tcp nth=x drop", "wants nth=N"},
      {"left>right tcp delay=-1", "wants milliseconds"},
      {"left>right tcp hold-and-replay=abc", "wants milliseconds"},
      {"left>right tcp flag=S drop", "'flag=S' is not a condition"},
      {"left>right tcp flags=S", "'flags=S' is not an action"},
      {"left>right", "'left>right' is not an action"},
  };
  for (const auto& c : cases) {
    INFO(c.rule);
    const auto message = error_of(c.rule);
    CHECK_THAT(message, Catch::Contains(c.word));
    CHECK_THAT(message, Catch::Contains(c.rule));
  }
  CHECK_THAT(error_of(""), Catch::Contains("empty"));
  CHECK_THAT(error_of("both a b c d e f g h i j k l m n o p q"), Catch::Contains("one word too many"));
}

TEST_CASE("parse_directional reads 'V' and 'DIR=V'") {
  CHECK_FALSE(parse_directional("20", "--delay").direction.has_value());
  CHECK(parse_directional("20", "--delay").value == 20);
  CHECK(parse_directional("right>left=0.5", "--loss").direction == Direction::right_to_left);
  CHECK_THROWS_WITH(parse_directional("up=3", "--delay"), Catch::Contains("the direction is"));
  CHECK_THROWS_WITH(parse_directional("x", "--delay"), Catch::Contains("'x' is not a number"));
  CHECK_THROWS_WITH(parse_directional("-1", "--loss"), Catch::Contains("not a number >= 0"));
}

TEST_CASE("rules match direction, protocol, the exact flag set, length and ports") {
  const auto syn = parse_rule("left>right tcp flags=S drop");
  CHECK(syn.matches(l2r, classify(tcp(tcp_flag::syn))));
  CHECK_FALSE(syn.matches(Direction::right_to_left, classify(tcp(tcp_flag::syn))));
  CHECK_FALSE(syn.matches(l2r, classify(tcp(tcp_flag::syn | tcp_flag::ack))));  // exact set
  CHECK_FALSE(syn.matches(l2r, classify(udp(10))));
  const auto data = parse_rule("both tcp len>0 dport=7001 drop");
  CHECK(data.matches(l2r, classify(tcp(tcp_flag::ack, 1, 1))));
  CHECK_FALSE(data.matches(l2r, classify(tcp(tcp_flag::ack, 1, 0))));
  CHECK_FALSE(parse_rule("both tcp sport=7001 drop").matches(l2r, classify(tcp(tcp_flag::ack))));
  CHECK(parse_rule("both ip drop").matches(l2r, classify(udp(5))));
  CHECK_FALSE(parse_rule("both ip drop").matches(l2r, classify(arp())));  // ARP always passes
}

TEST_CASE("the bottleneck sends one frame after another at its rate and drops at the tail") {
  // 8 Mbit/s: a 1000-byte frame takes 1 ms to leave.
  Bottleneck link(8'000'000, 3);
  CHECK(link.admit(t0, 1000) == t0 + milliseconds(1));
  CHECK(link.admit(t0, 1000) == t0 + milliseconds(2));
  CHECK(link.admit(t0, 1000) == t0 + milliseconds(3));
  CHECK_FALSE(link.admit(t0, 1000).has_value());  // three waiting: full
  CHECK(link.depth(t0 + std::chrono::microseconds(1500)) == 2);
  CHECK(link.admit(t0 + std::chrono::microseconds(1500), 1000) == t0 + milliseconds(4));
  CHECK(link.max_depth() == 3);
  // Waiting: 1 + 2 + 3 ms for the first three, 2.5 ms for the fourth.
  CHECK(link.waiting_seconds() == Approx(0.0085));
  // An idle link sends at once.
  CHECK(link.admit(t0 + milliseconds(100), 500) == t0 + milliseconds(100) + std::chrono::microseconds(500));
}

TEST_CASE("the same seed makes the same decisions, and loss P drops about P") {
  auto run = [](std::uint64_t seed) {
    auto e = engine({.loss = 0.3}, {}, seed);
    std::vector<bool> passed;
    for (int i = 0; i < 10'000; ++i) passed.push_back(e.on_frame(l2r, t0 + milliseconds(i), udp(100)));
    return std::pair{passed, e.stats(l2r)};
  };
  const auto [a, stats_a] = run(7);
  const auto [b, stats_b] = run(7);
  const auto [c, stats_c] = run(8);
  CHECK(a == b);
  CHECK(a != c);
  const auto dropped = static_cast<std::uint64_t>(std::count(a.begin(), a.end(), false));
  CHECK(stats_a.dropped_loss == dropped);
  CHECK(stats_a.dropped_udp == dropped);
  CHECK(stats_a.dropped_tcp == 0);
  CHECK(dropped > 2800);
  CHECK(dropped < 3200);
}

TEST_CASE("ARP passes untouched even when every frame is lost") {
  auto e = engine({.delay_ms = 50, .loss = 1.0});
  CHECK(e.on_frame(l2r, t0, arp()));
  CHECK_FALSE(e.on_frame(l2r, t0, udp(10)));
  CHECK(e.stats(l2r).not_ipv4 == 1);
  CHECK(e.stats(l2r).dropped_loss == 1);
}

TEST_CASE("delay holds a frame and hands back the same bytes when it is due") {
  auto e = engine({.delay_ms = 20});
  const auto frame = udp(64, 0x5a);
  CHECK_FALSE(e.on_frame(l2r, t0, frame));
  CHECK(e.next_due() == t0 + milliseconds(20));
  std::vector<Engine::Released> out;
  e.release(t0 + milliseconds(19), out);
  CHECK(out.empty());
  e.release(t0 + milliseconds(20), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].bytes == frame);
  CHECK(out[0].direction == l2r);
  CHECK(e.stats(l2r).frames_out == 1);
}

TEST_CASE("jitter never reorders: the link stays first in, first out") {
  auto e = engine({.delay_ms = 10, .jitter_ms = 9});
  for (std::uint8_t i = 0; i < 200; ++i)
    CHECK_FALSE(e.on_frame(l2r, t0 + std::chrono::microseconds(i * 100), udp(8, i)));
  std::vector<Engine::Released> out;
  e.release(t0 + milliseconds(100), out);
  REQUIRE(out.size() == 200);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i].bytes.back() == static_cast<std::uint8_t>(i));
}

TEST_CASE("reordering holds a frame back until the next one has gone") {
  auto e = engine({.reorder = 1.0});
  CHECK_FALSE(e.on_frame(l2r, t0, udp(8, 1)));  // held
  CHECK(e.on_frame(l2r, t0, udp(8, 2)));        // goes now (only one is held at a time)
  std::vector<Engine::Released> out;
  e.release(t0, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].bytes.back() == 1);  // right after frame 2
  CHECK(e.stats(l2r).reordered == 1);
  // With nothing after it, a held frame goes after 10 ms.
  CHECK_FALSE(e.on_frame(l2r, t0 + milliseconds(1), udp(8, 3)));
  out.clear();
  e.release(t0 + milliseconds(10), out);
  CHECK(out.empty());
  e.release(t0 + milliseconds(11), out);
  CHECK(out.size() == 1);
}

TEST_CASE("a rule fires on the Nth match only, and every firing is an event") {
  auto e = engine({}, {parse_rule("left>right tcp flags=S nth=2 drop")});
  std::vector<Event> events;
  e.on_event([&](const Event& ev) { events.push_back(ev); });
  CHECK(e.on_frame(l2r, t0, tcp(tcp_flag::syn, 100)));
  CHECK(e.on_frame(l2r, t0, tcp(tcp_flag::ack, 101)));
  CHECK_FALSE(e.on_frame(l2r, t0, tcp(tcp_flag::syn, 200)));
  CHECK(e.on_frame(l2r, t0, tcp(tcp_flag::syn, 300)));
  CHECK(e.rule_matches(0) == 3);
  CHECK(e.rule_fired(0) == 1);
  CHECK(e.stats(l2r).dropped_rule == 1);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Event::Kind::rule);
  CHECK(events[0].frame.seq == 200);
  CHECK(events[0].action == Action::drop);
}

TEST_CASE("delay=MS, duplicate and hold-and-replay=MS") {
  auto e = engine({}, {parse_rule("left>right tcp flags=S delay=3000"), parse_rule("left>right tcp flags=A duplicate"),
                       parse_rule("left>right tcp flags=F hold-and-replay=500")});
  std::vector<Engine::Released> out;
  CHECK_FALSE(e.on_frame(l2r, t0, tcp(tcp_flag::syn)));
  CHECK(e.next_due() == t0 + milliseconds(3000));

  CHECK(e.on_frame(l2r, t0, tcp(tcp_flag::ack)));  // forwarded now, a copy right after
  e.release(t0, out);
  CHECK(out.size() == 1);

  out.clear();
  CHECK(e.on_frame(l2r, t0, tcp(tcp_flag::fin)));  // forwarded now, again 500 ms later
  e.release(t0 + milliseconds(499), out);
  CHECK(out.empty());
  e.release(t0 + milliseconds(500), out);
  REQUIRE(out.size() == 1);
  CHECK(classify(out[0].bytes).tcp_flags == tcp_flag::fin);
  out.clear();
  e.release(t0 + milliseconds(3000), out);
  REQUIRE(out.size() == 1);
  CHECK(classify(out[0].bytes).tcp_flags == tcp_flag::syn);
  const auto s = e.stats(l2r);
  CHECK(s.delayed == 1);
  CHECK(s.duplicated == 1);
  CHECK(s.replayed == 1);
}

TEST_CASE("a full queue drops at the tail, and the drop is an event with the depth") {
  // 1 Mbit/s, queue of 5: a burst of 20 frames of 1000 bytes keeps 5.
  auto e = engine({.rate_kbit = 1000, .queue_packets = 5});
  std::vector<Event> drops;
  e.on_event([&](const Event& ev) {
    if (ev.kind == Event::Kind::drop) drops.push_back(ev);
  });
  for (int i = 0; i < 20; ++i) CHECK_FALSE(e.on_frame(l2r, t0, udp(958)));  // 1000-byte frames
  CHECK(e.stats(l2r).dropped_queue == 15);
  CHECK(e.stats(l2r).queue_max == 5);
  REQUIRE(drops.size() == 15);
  CHECK(drops[0].cause == DropCause::queue);
  CHECK(drops[0].queue_depth == 5);
  std::vector<Engine::Released> out;
  e.release(t0 + milliseconds(39), out);
  CHECK(out.size() == 4);  // one every 8 ms
  e.release(t0 + milliseconds(40), out);
  CHECK(out.size() == 5);
}

TEST_CASE("a rules file: one rule a line, comments and blank lines skipped, a bad line named by number") {
  const auto rules =
      parse_rules_file("# the cut cable\n\nboth ip drop\n  left>right tcp flags=S nth=1 delay=100  \r\n");
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].text == "both ip drop");
  CHECK(rules[1].text == "left>right tcp flags=S nth=1 delay=100");
  CHECK(rules[0].from_file);
  CHECK_THROWS_WITH(parse_rules_file("both ip drop\n# ok\nleft>right tcp flags=Q drop\n"),
                    Catch::Contains("line 3: rule 'left>right tcp flags=Q drop'"));
  CHECK(parse_rules_file("").empty());
}

TEST_CASE("reloading the file's rules: the old ones stop acting, the command line's stay") {
  auto e = engine({}, {parse_rule("left>right tcp flags=S drop")});
  e.replace_file_rules(parse_rules_file("both udp drop"));
  CHECK_FALSE(e.on_frame(l2r, t0, udp(10)));
  e.replace_file_rules({});  // the file emptied: UDP passes again
  CHECK(e.on_frame(l2r, t0, udp(10)));
  CHECK_FALSE(e.on_frame(l2r, t0, tcp(tcp_flag::syn)));  // from the command line: still acts
  REQUIRE(e.rules().size() == 2);
  CHECK_FALSE(e.rules()[1].active);
  CHECK(e.rule_fired(1) == 1);
}

TEST_CASE("a UDP stream meets the same fate whatever TCP traffic runs beside it") {
  auto fates = [](int tcp_between) {
    auto e = engine({.loss = 0.3}, {}, 11);
    std::vector<bool> passed;
    for (int i = 0; i < 2000; ++i) {
      for (int k = 0; k < tcp_between; ++k) e.on_frame(l2r, t0, tcp(tcp_flag::ack, static_cast<std::uint32_t>(k), 100));
      passed.push_back(e.on_frame(l2r, t0, udp(100)));
    }
    return passed;
  };
  CHECK(fates(0) == fates(3));
}
