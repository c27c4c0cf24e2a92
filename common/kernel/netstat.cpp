#include "kernel/netstat.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace netlab {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

}  // namespace

// The file holds pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: 1 2 ...".
std::optional<ListenCounters> read_listen_counters(const std::string& path) {
  std::ifstream in(path);
  std::string names_line, values_line;
  while (std::getline(in, names_line) && std::getline(in, values_line)) {
    if (names_line.rfind("TcpExt:", 0) != 0) continue;
    const auto names = words(names_line);
    const auto values = words(values_line);
    if (names.size() != values.size()) return std::nullopt;
    std::optional<std::uint64_t> overflows, drops;
    for (std::size_t i = 1; i < names.size(); ++i) {
      try {
        if (names[i] == "ListenOverflows") overflows = std::stoull(values[i]);
        if (names[i] == "ListenDrops") drops = std::stoull(values[i]);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    if (overflows && drops) return ListenCounters{*overflows, *drops};
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> read_kernel_counter(const std::string& table, const std::string& name) {
  for (const char* path : {"/proc/net/snmp", "/proc/net/netstat"}) {
    std::ifstream in(path);
    std::string names_line, values_line;
    while (std::getline(in, names_line) && std::getline(in, values_line)) {
      if (names_line.rfind(table + ":", 0) != 0) continue;
      const auto names = words(names_line);
      const auto values = words(values_line);
      for (std::size_t i = 1; i < names.size() && i < values.size(); ++i)
        if (names[i] == name) {
          try {
            return std::stoull(values[i]);
          } catch (const std::exception&) {
            return std::nullopt;
          }
        }
    }
  }
  return std::nullopt;
}

}  // namespace netlab
