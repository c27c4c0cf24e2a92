#include "netlab/readiness.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <unistd.h>

namespace netlab {

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::system_error(errno, std::generic_category(), "write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::system_error(err, std::generic_category(), "rename " + tmp + " -> " + path);
  }
}

void write_port_file(const std::string& path, std::uint16_t port) {
  write_file_atomically(path, std::to_string(port) + "\n");
}

std::optional<std::uint16_t> read_port_file(const std::string& path) {
  std::ifstream in(path);
  unsigned long port = 0;
  if (!(in >> port) || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace netlab
