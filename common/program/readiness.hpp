#pragma once
// The readiness signal: a server writes its bound port to --port-file once it
// is listening, atomically (write a temporary file, then rename), so a script
// or a test that sees the file can connect at once.
#include <cstdint>
#include <optional>
#include <string>

namespace netlab {

// Writes `text` to `path` through a temporary file and a rename, so a reader
// sees either nothing or the whole file; through a symlink, the file it points
// to. A path that is not a regular file (/dev/null, /dev/stdout, a FIFO) is
// written into, never renamed over. Throws std::system_error naming the path.
void write_file_atomically(const std::string& path, const std::string& text);

// Throws std::system_error naming the path when the file cannot be written.
void write_port_file(const std::string& path, std::uint16_t port);

// The port in `path`, or nullopt when the file is missing or holds no port.
std::optional<std::uint16_t> read_port_file(const std::string& path);

}  // namespace netlab
