#pragma once
// Small measurement helpers: checksums for end-to-end comparison, percentiles,
// and a seeded payload generator so that a run can be replayed.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

// CRC-32 (IEEE 802.3, as zlib computes it) of `bytes`, continued from `crc`.
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0);

// The p-th percentile (0..100) of `values` by nearest rank; 0 when empty.
double percentile(std::vector<double> values, double p);

// Seeded messages: sizes uniform in [min_size, max_size], bytes uniform over
// 0..255 except `excluded` (if set), so a delimiter never appears in a payload.
class PayloadGenerator {
 public:
  PayloadGenerator(std::uint64_t seed, std::size_t min_size, std::size_t max_size, int excluded = -1);
  std::string next();

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::size_t> size_;
  int excluded_;
};

}  // namespace netlab
