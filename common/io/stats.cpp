#include "io/stats.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace netlab {

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
  // zlib's CRC-32 continues from a previous result and runs several bytes per
  // cycle; a byte-at-a-time table was a third of the stream row's CPU time.
  // zlib answers a null buffer with its initial value (0), not with `crc`: an
  // empty view may have a null data().
  if (bytes.empty()) return crc;
  return static_cast<std::uint32_t>(::crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

namespace {

// CRC-32C by hand: zlib has none, and Boost.CRC computes it a byte at a time
// through a generic template. Reflected, one table lookup per byte.
std::uint32_t crc32c_table(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  std::uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}
#endif

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return crc32c_sse42(p, bytes.size(), crc);
#endif
  return crc32c_table(p, bytes.size(), crc);
}

std::uint32_t tally_frame(std::uint32_t tally, std::size_t size, std::uint32_t frame_crc) {
  const auto n = static_cast<std::uint32_t>(size);
  const char bytes[8] = {static_cast<char>(n >> 24),         static_cast<char>(n >> 16),
                         static_cast<char>(n >> 8),          static_cast<char>(n),
                         static_cast<char>(frame_crc >> 24), static_cast<char>(frame_crc >> 16),
                         static_cast<char>(frame_crc >> 8),  static_cast<char>(frame_crc)};
  return crc32c(std::string_view(bytes, sizeof bytes), tally);
}

namespace detail {
std::uint32_t crc32c_portable(std::string_view bytes, std::uint32_t crc) {
  return crc32c_table(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), crc);
}
}  // namespace detail

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

PayloadGenerator::PayloadGenerator(std::uint64_t seed, std::size_t min_size, std::size_t max_size, int excluded)
    : rng_(seed), size_(min_size, std::max(min_size, max_size)), pool_(std::max(min_size, max_size) + 65536, '\0') {
  // Eight bytes from each draw of the generator.
  for (std::size_t i = 0; i < pool_.size(); i += 8) {
    std::uint64_t bits = rng_();
    for (std::size_t k = i; k < std::min(i + 8, pool_.size()); ++k, bits >>= 8) {
      int b = static_cast<int>(bits & 0xff);
      if (b == excluded) b = (b + 1) & 0xff;
      pool_[k] = static_cast<char>(b);
    }
  }
}

std::string PayloadGenerator::next() { return std::string(next_view()); }

std::string_view PayloadGenerator::next_view() {
  const std::size_t size = size_(rng_);
  const std::size_t offset = std::uniform_int_distribution<std::size_t>(0, pool_.size() - size)(rng_);
  return std::string_view(pool_).substr(offset, size);
}

}  // namespace netlab
