// The shared options: defaults, the lab's default port, usage errors (exit 2),
// and the readiness file that scripts and tests wait for.
#include "program/options.hpp"
#include "program/readiness.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace {

// Parses `args` as a program with the common options would.
std::optional<int> parse(netlab::CommonOptions& options, std::vector<std::string> args,
                         netlab::Role role = netlab::Role::server) {
  CLI::App app("test", "netlab-test");
  netlab::add_common_options(app, options, 7006, role);
  std::vector<char*> argv{const_cast<char*>("netlab-test")};
  for (auto& a : args) argv.push_back(a.data());
  return netlab::parse_options(app, static_cast<int>(argv.size()), argv.data());
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("netlab-" + std::to_string(::getpid()) + "-" + name)).string();
}

}  // namespace

TEST_CASE("defaults follow DESIGN.md", "[options]") {
  netlab::CommonOptions o;
  REQUIRE_FALSE(parse(o, {}));
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 7006);
  CHECK(o.json.empty());
  CHECK(o.log_level == "info");
}

TEST_CASE("every common option parses", "[options]") {
  netlab::CommonOptions o;
  REQUIRE_FALSE(parse(o, {"--host", "::1", "--port", "0", "--port-file", "/tmp/p", "--json", "-", "--log-level",
                          "debug", "--seed", "99", "--max-seconds", "2.5"}));
  CHECK(o.host == "::1");
  CHECK(o.port == 0);
  CHECK(o.port_file == "/tmp/p");
  CHECK(o.json == "-");
  CHECK(o.log_level == "debug");
  CHECK(o.seed == 99);
  CHECK(o.max_seconds == 2.5);
}

TEST_CASE("usage errors exit 2, --help exits 0", "[options]") {
  netlab::CommonOptions o;
  CHECK(parse(o, {"--no-such-option"}) == 2);
  CHECK(parse(o, {"--port", "70000"}) == 2);
  CHECK(parse(o, {"--port", "seven"}) == 2);
  CHECK(parse(o, {"--log-level", "loud"}) == 2);
  CHECK(parse(o, {"--max-seconds", "-1"}) == 2);
  CHECK(parse(o, {"--help"}) == 0);
}

TEST_CASE("port file round trip, and a missing file", "[options]") {
  const auto path = temp_path("port");
  netlab::write_port_file(path, 43210);
  CHECK(netlab::read_port_file(path) == 43210);
  // No temporary file is left beside it.
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    CHECK(entry.path().string().rfind(path + ".tmp", 0) != 0);
  std::remove(path.c_str());
  CHECK_FALSE(netlab::read_port_file(path));
}

TEST_CASE("/dev/null or a symlink as the output path: written into, never renamed over", "[options]") {
  namespace fs = std::filesystem;
  // Through a link, so that a broken helper replaces the link, not /dev/null.
  const fs::path device_link = temp_path("null-link");
  fs::create_symlink("/dev/null", device_link);
  netlab::write_file_atomically(device_link.string(), "{\"checks\":[]}\n");
  CHECK(fs::is_symlink(device_link));
  CHECK(fs::is_character_file("/dev/null"));
  // A link to a regular file: the file gets the text, the link stays a link.
  const fs::path file = temp_path("json-target");
  const fs::path file_link = temp_path("json-link");
  std::ofstream(file) << "old\n";
  fs::create_symlink(file, file_link);
  netlab::write_file_atomically(file_link.string(), "new\n");
  CHECK(fs::is_symlink(file_link));
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  CHECK(line == "new");
  for (const auto& p : {device_link, file_link, file}) fs::remove(p);
}

TEST_CASE("a client reads the server's port from --port-file", "[options]") {
  const auto path = temp_path("client-port");
  netlab::write_port_file(path, 40001);
  netlab::CommonOptions o;
  REQUIRE_FALSE(parse(o, {"--port-file", path}, netlab::Role::client));
  netlab::resolve_client_port(o);
  CHECK(o.port == 40001);
  std::remove(path.c_str());
  CHECK_THROWS_WITH(netlab::resolve_client_port(o), Catch::Contains("is the server running?"));
}

TEST_CASE("a port file in a missing folder is a clear error", "[options]") {
  CHECK_THROWS_WITH(netlab::write_port_file("/nonexistent-dir/port", 1), Catch::Contains("/nonexistent-dir/port"));
}
