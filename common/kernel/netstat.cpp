#include "kernel/netstat.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace netlab {

namespace {

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::int64_t> find(const std::map<std::string, std::int64_t>& counters, std::string_view name) {
  const auto it = counters.find(std::string(name));
  if (it == counters.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::map<std::string, std::int64_t> parse_snmp(std::string_view text, std::string_view group) {
  const std::string prefix = std::string(group) + ":";
  std::vector<std::vector<std::string>> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    if (line.substr(0, prefix.size()) == prefix && (line.size() == prefix.size() || line[prefix.size()] == ' '))
      lines.push_back(words(line.substr(prefix.size())));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  std::map<std::string, std::int64_t> counters;
  if (lines.size() < 2 || lines[0].size() != lines[1].size()) return counters;
  for (std::size_t i = 0; i < lines[0].size(); ++i) {
    try {
      counters[lines[0][i]] = std::stoll(lines[1][i]);
    } catch (const std::exception&) {
      return {};
    }
  }
  return counters;
}

std::map<std::string, std::int64_t> read_snmp(std::string_view group) {
  return parse_snmp(read_text("/proc/net/snmp"), group);
}

std::optional<std::int64_t> read_snmp_counter(std::string_view group, std::string_view name) {
  return find(read_snmp(group), name);
}

std::optional<std::uint64_t> read_kernel_counter(const std::string& table, const std::string& name) {
  for (const char* path : {"/proc/net/snmp", "/proc/net/netstat"})
    if (auto value = find(parse_snmp(read_text(path), table), name); value && *value >= 0)
      return static_cast<std::uint64_t>(*value);
  return std::nullopt;
}

std::optional<ListenCounters> read_listen_counters(const std::string& path) {
  const auto counters = parse_snmp(read_text(path), "TcpExt");
  const auto overflows = find(counters, "ListenOverflows"), drops = find(counters, "ListenDrops");
  if (!overflows || !drops || *overflows < 0 || *drops < 0) return std::nullopt;
  return ListenCounters{static_cast<std::uint64_t>(*overflows), static_cast<std::uint64_t>(*drops)};
}

}  // namespace netlab
