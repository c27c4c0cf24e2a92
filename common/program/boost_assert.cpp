// Where a failed Boost assertion goes (BOOST_ENABLE_ASSERT_DEBUG_HANDLER is set
// for every netlab target in cmake/ProjectOptions.cmake). It aborts as assert()
// would — in builds without NDEBUG (debug, asan, fuzz); with NDEBUG (default,
// release) BOOST_ASSERT checks nothing and this is never called — except for
// one assertion that is wrong in the Boost this project builds with.
#include <boost/assert.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

// Beast 1.81 asserts `n >= 5` in parse_chunk_header when the last chunk
// ("0\r\n") ended one read and the next read brought a single byte: a peer
// trickling a chunked body byte by byte makes every Debug build of
// netlab-http-server and netlab-rpc-server abort there. The assertion is
// wrong, the code after it asks for more bytes correctly, and upstream
// removed it (boostorg/beast#2861, Boost 1.86); builds with NDEBUG never see
// it. Regression input: tests/fuzz/regressions/http/chunked-last-chunk-then-reads-of-one-byte;
// tests/integration/test_bad_input.cpp sends it to the running servers.
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  const std::string_view where(file);
  if (std::string_view(expr) == "n >= 5" && where.ends_with("boost/beast/http/impl/basic_parser.ipp")) return;
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
