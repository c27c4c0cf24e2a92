#include "program/readiness.hpp"

#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace netlab {

namespace {

void write_in_place(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) throw std::system_error(errno, std::generic_category(), "write " + path);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // /dev/null, /dev/stdout, a FIFO (or a link to one): written into. A rename
  // over it would replace the device itself, and as root --json /dev/null
  // would leave every program on the machine a regular file for /dev/null.
  if (const auto status = fs::status(path, ec); !ec && fs::exists(status) && !fs::is_regular_file(status)) {
    write_in_place(path, text);
    return;
  }
  // A link to a file: the file is replaced, the link stays.
  std::string target = path;
  if (fs::is_symlink(fs::symlink_status(path, ec))) {
    if (auto resolved = fs::canonical(path, ec); !ec) target = resolved.string();
  }
  const std::string tmp = target + ".tmp." + std::to_string(::getpid());
  write_in_place(tmp, text);
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::system_error(err, std::generic_category(), "rename " + tmp + " -> " + target);
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
