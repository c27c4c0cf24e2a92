// The codecs must give the same frames whatever the chunking of the stream:
// that is the whole point of framing over a byte stream.
#include "io/stats.hpp"
#include "proto/codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <random>

using netlab::DelimiterCodec;
using netlab::FramingError;
using netlab::LengthHeaderCodec;

namespace {

// Feeds `stream` to `codec` in seeded random chunks (sizes 1..max_chunk).
template <typename Codec>
std::vector<std::string> decode_in_chunks(Codec& codec, const std::string& stream, std::uint64_t seed,
                                          std::size_t max_chunk) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> chunk(1, max_chunk);
  std::vector<std::string> frames;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min(chunk(rng), stream.size() - at);
    REQUIRE_FALSE(codec.decode(std::string_view(stream).substr(at, n), frames));
    at += n;
  }
  REQUIRE_FALSE(codec.finish());
  return frames;
}

template <typename Codec>
std::string encode_all(const Codec& codec, const std::vector<std::string>& payloads) {
  std::string stream;
  for (const auto& p : payloads) REQUIRE_FALSE(codec.encode(p, stream));
  return stream;
}

std::vector<std::string> sample_payloads(std::uint64_t seed, std::size_t count, std::size_t max_size, int excluded) {
  netlab::PayloadGenerator generator(seed, 0, max_size, excluded);
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < count; ++i) payloads.push_back(generator.next());
  return payloads;
}

}  // namespace

TEST_CASE("length codec: any chunking yields the same frames", "[length]") {
  LengthHeaderCodec encoder;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto payloads = sample_payloads(seed, 50, 700, -1);
    payloads.push_back("");  // a zero-length frame is a frame
    const std::string stream = encode_all(encoder, payloads);
    for (std::size_t max_chunk : {std::size_t{1}, std::size_t{3}, std::size_t{64}, stream.size()}) {
      LengthHeaderCodec decoder;
      CHECK(decode_in_chunks(decoder, stream, seed * 31 + max_chunk, max_chunk) == payloads);
      CHECK(decoder.buffered() == 0);
    }
  }
}

TEST_CASE("length codec: header is 4 bytes big-endian", "[length]") {
  std::string out;
  REQUIRE_FALSE(LengthHeaderCodec().encode("abc", out));
  CHECK(out == std::string("\x00\x00\x00\x03"
                           "abc",
                           7));
  out.clear();
  LengthHeaderCodec::put_header(0x01020304, out);
  CHECK(out == "\x01\x02\x03\x04");
}

TEST_CASE("length codec: a maximum-size frame passes, one byte more is refused", "[length]") {
  const std::size_t max = 4096;
  LengthHeaderCodec codec(max);
  const std::string full(max, 'x');
  std::string stream;
  REQUIRE_FALSE(codec.encode(full, stream));
  std::vector<std::string> frames;
  REQUIRE_FALSE(codec.decode(stream, frames));
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == full);

  std::string too_big;
  auto encode_error = codec.encode(std::string(max + 1, 'x'), too_big);
  REQUIRE(encode_error);
  CHECK(encode_error->kind == FramingError::Kind::oversized);
  CHECK(too_big.empty());
}

TEST_CASE("length codec: an oversized header is refused before any body arrives", "[length][errors]") {
  LengthHeaderCodec codec(1024);
  std::vector<std::string> frames;
  // Only the header: the error must come now, not after 4 GiB were buffered.
  auto error = codec.decode(std::string("\xff\xff\xff\xff", 4), frames);
  REQUIRE(error);
  CHECK(error->kind == FramingError::Kind::oversized);
  CHECK(error->message == "length header says 4294967295 bytes, maximum is 1024");
  // The codec stops parsing: valid bytes after the error are not decoded.
  std::string valid;
  REQUIRE_FALSE(LengthHeaderCodec().encode("ok", valid));
  CHECK(codec.decode(valid, frames));
  CHECK(frames.empty());
}

TEST_CASE("length codec: frames before a bad header are still delivered", "[length][errors]") {
  LengthHeaderCodec codec(16);
  std::string stream;
  REQUIRE_FALSE(codec.encode("first", stream));
  LengthHeaderCodec::put_header(17, stream);
  std::vector<std::string> frames;
  CHECK(codec.decode(stream, frames));
  REQUIRE(frames == std::vector<std::string>{"first"});
}

TEST_CASE("length codec: end of stream inside a frame is truncation", "[length][errors]") {
  std::string stream;
  REQUIRE_FALSE(LengthHeaderCodec().encode("hello world", stream));
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    LengthHeaderCodec codec;
    std::vector<std::string> frames;
    REQUIRE_FALSE(codec.decode(stream.substr(0, cut), frames));
    CHECK(frames.empty());
    auto error = codec.finish();
    REQUIRE(error);
    CHECK(error->kind == FramingError::Kind::truncated);
  }
  LengthHeaderCodec whole;
  std::vector<std::string> frames;
  REQUIRE_FALSE(whole.decode(stream, frames));
  CHECK_FALSE(whole.finish());
}

TEST_CASE("delimiter codec: any chunking yields the same frames", "[delimiter]") {
  DelimiterCodec encoder('\n', 1000);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto payloads = sample_payloads(seed, 50, 1000, '\n');
    payloads.push_back("");
    const std::string stream = encode_all(encoder, payloads);
    for (std::size_t max_chunk : {std::size_t{1}, std::size_t{2}, std::size_t{100}, stream.size()}) {
      DelimiterCodec decoder('\n', 1000);
      CHECK(decode_in_chunks(decoder, stream, seed * 17 + max_chunk, max_chunk) == payloads);
      CHECK(decoder.buffered() == 0);
    }
  }
}

TEST_CASE("delimiter codec: a payload holding the delimiter is refused at encode", "[delimiter][errors]") {
  std::string out;
  auto error = DelimiterCodec().encode("two\nlines", out);
  REQUIRE(error);
  CHECK(error->kind == FramingError::Kind::delimiter_in_payload);
  CHECK(out.empty());
  // Any other delimiter makes the same payload legal.
  CHECK_FALSE(DelimiterCodec('\0').encode("two\nlines", out));
}

TEST_CASE("delimiter codec: maximum length, and no delimiter within the maximum", "[delimiter][errors]") {
  const std::size_t max = 100;
  SECTION("a frame of exactly the maximum passes") {
    DelimiterCodec codec('\n', max);
    std::vector<std::string> frames;
    REQUIRE_FALSE(codec.decode(std::string(max, 'a') + "\n", frames));
    CHECK(frames.size() == 1);
  }
  SECTION("max+1 bytes without a delimiter fail at once, fed byte by byte") {
    DelimiterCodec codec('\n', max);
    std::vector<std::string> frames;
    for (std::size_t i = 0; i < max; ++i) REQUIRE_FALSE(codec.decode("a", frames));
    auto error = codec.decode("a", frames);
    REQUIRE(error);
    CHECK(error->kind == FramingError::Kind::oversized);
    CHECK(error->message == "no delimiter within 100 bytes");
    CHECK(codec.decode("\n", frames));  // stopped for good
    CHECK(frames.empty());
  }
  SECTION("an oversized frame whose delimiter arrives in the same chunk") {
    DelimiterCodec codec('\n', max);
    std::vector<std::string> frames;
    auto error = codec.decode("ok\n" + std::string(max + 1, 'a') + "\n", frames);
    REQUIRE(error);
    CHECK(error->kind == FramingError::Kind::oversized);
    CHECK(frames == std::vector<std::string>{"ok"});
  }
}

TEST_CASE("delimiter codec: end of stream without the delimiter is truncation", "[delimiter][errors]") {
  DelimiterCodec codec;
  std::vector<std::string> frames;
  REQUIRE_FALSE(codec.decode("complete\npartial", frames));
  CHECK(frames == std::vector<std::string>{"complete"});
  auto error = codec.finish();
  REQUIRE(error);
  CHECK(error->kind == FramingError::Kind::truncated);
}

TEST_CASE("crc32 matches the standard check value and continues across chunks", "[stats]") {
  CHECK(netlab::crc32("123456789") == 0xCBF43926u);
  CHECK(netlab::crc32("6789", netlab::crc32("12345")) == 0xCBF43926u);
  CHECK(netlab::crc32("") == 0u);
  // An empty view continues the CRC unchanged, even with a null data().
  CHECK(netlab::crc32(std::string_view(), 0x12345678u) == 0x12345678u);
  CHECK(netlab::crc32c(std::string_view(), 0x12345678u) == 0x12345678u);
}

TEST_CASE("crc32c matches the standard check value on every path and continues across chunks", "[stats]") {
  CHECK(netlab::crc32c("123456789") == 0xE3069283u);
  CHECK(netlab::crc32c("6789", netlab::crc32c("12345")) == 0xE3069283u);
  CHECK(netlab::crc32c("") == 0u);
  // Long enough for the 8-byte steps, with an odd tail, against a byte-at-a-time run.
  std::string bytes(1001, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  CHECK(netlab::crc32c(bytes) == netlab::detail::crc32c_portable(bytes, 0));
  CHECK(netlab::detail::crc32c_portable("123456789", 0) == 0xE3069283u);
  CHECK(netlab::crc32c(bytes.substr(500), netlab::crc32c(bytes.substr(0, 500))) == netlab::crc32c(bytes));
}

TEST_CASE("the frame tally sees sizes, contents and order", "[stats]") {
  using netlab::crc32c;
  using netlab::tally_frame;
  const auto tally = [](std::initializer_list<std::string_view> frames) {
    std::uint32_t t = 0;
    for (auto f : frames) t = tally_frame(t, f.size(), crc32c(f));
    return t;
  };
  CHECK(tally({"ab", "c"}) == tally({"ab", "c"}));
  CHECK(tally({"ab", "c"}) != tally({"a", "bc"}));  // same bytes, other boundaries
  CHECK(tally({"ab", "c"}) != tally({"c", "ab"}));  // other order
  CHECK(tally({"ab", "c"}) != tally({"ab", "d"}));  // other content
}

TEST_CASE("payload generator is seeded and avoids the excluded byte", "[stats]") {
  netlab::PayloadGenerator a(42, 1, 300, '\n'), b(42, 1, 300, '\n');
  for (int i = 0; i < 200; ++i) {
    const auto p = a.next();
    CHECK(p == b.next());
    CHECK(p.size() >= 1);
    CHECK(p.size() <= 300);
    CHECK(p.find('\n') == std::string::npos);
  }
  // Every byte value but the excluded one turns up: the pool is not degenerate.
  netlab::PayloadGenerator big(7, 65536, 65536, '\n');
  const auto p = big.next();
  std::array<bool, 256> seen{};
  for (unsigned char c : p) seen[c] = true;
  CHECK(std::count(seen.begin(), seen.end(), true) == 255);
  CHECK_FALSE(seen['\n']);
}

TEST_CASE("percentile by nearest rank", "[stats]") {
  CHECK(netlab::percentile({}, 50) == 0);
  CHECK(netlab::percentile({5, 1, 3, 2, 4}, 50) == 3);
  CHECK(netlab::percentile({5, 1, 3, 2, 4}, 100) == 5);
  CHECK(netlab::percentile({5, 1, 3, 2, 4}, 0) == 1);
}
