// libFuzzer target: netlab-wire's frame classifier and rule parser
// (tools/wire/model.hpp), the two places where the wire reads what it did not
// write — every frame either side sends, and the rules a user types or puts in
// --rules-file. The first byte picks the part:
//   even  the rest is one Ethernet frame: classify() must never read past it,
//         a frame it calls IPv4 and not malformed has its headers inside it,
//         and every rule of a fixed set must answer matches() for it;
//   odd   the rest is a --rules-file: parse_rules_file() either returns rules
//         or throws RuleError (nothing else), every parsed rule parses again
//         from its own text to the same conditions, and matches() answers for
//         a SYN; parse_directional() likewise takes the text as a value.
#include "model.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace netlab::wire;

const std::vector<Rule>& fixed_rules() {
  static const std::vector<Rule> rules = parse_rules_file(
      "left>right tcp flags=S nth=1 drop\n"
      "right>left tcp flags=SA delay=10\n"
      "both tcp len>0 port=7001 nth=2-5 duplicate\n"
      "left>right udp dport=7001 len<=100 hold-and-replay=5\n"
      "both icmp drop\n");
  return rules;
}

void frame(std::span<const std::uint8_t> bytes) {
  const FrameInfo info = classify(bytes);
  // Ethernet (14) + an IPv4 header (at least 20) are inside a frame called IPv4;
  // the payload counted is what the frame holds, even when it is cut short.
  if (info.ipv4 && bytes.size() < 34) std::abort();
  if (info.payload > bytes.size()) std::abort();
  for (const auto& rule : fixed_rules()) {
    (void)rule.matches(Direction::left_to_right, info);
    (void)rule.matches(Direction::right_to_left, info);
  }
}

void rules(std::string_view text) {
  std::vector<Rule> parsed;
  try {
    parsed = parse_rules_file(text);
  } catch (const RuleError&) {
    return;
  }
  FrameInfo syn;
  syn.ipv4 = true;
  syn.protocol = 6;
  syn.destination_port = 7001;
  syn.tcp_flags = tcp_flag::syn;
  for (const auto& rule : parsed) {
    const Rule again = parse_rule(rule.text);  // a rule's own text parses, to the same rule
    if (again.action != rule.action || again.protocol != rule.protocol || again.flags != rule.flags ||
        again.port != rule.port || again.nth_first != rule.nth_first || again.nth_last != rule.nth_last)
      std::abort();
    (void)rule.matches(Direction::left_to_right, syn);
  }
  try {
    (void)parse_directional(text.substr(0, 64), "--delay");
  } catch (const RuleError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    frame(std::span<const std::uint8_t>(data + 1, size - 1));
  } else {
    rules(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  }
  return 0;
}
