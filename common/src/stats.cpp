#include "netlab/stats.hpp"

#include <boost/crc.hpp>

#include <algorithm>
#include <cmath>

namespace netlab {

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
  // boost::crc_32_type takes its initial register unreflected, while the
  // checksum it returns is reflected and inverted: undo both to continue a CRC.
  const std::uint32_t reg = crc ^ 0xFFFFFFFFu;
  std::uint32_t unreflected = 0;
  for (int bit = 0; bit < 32; ++bit) unreflected |= ((reg >> bit) & 1u) << (31 - bit);
  boost::crc_32_type computer(unreflected);
  computer.process_bytes(bytes.data(), bytes.size());
  return computer.checksum();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

PayloadGenerator::PayloadGenerator(std::uint64_t seed, std::size_t min_size, std::size_t max_size, int excluded)
    : rng_(seed), size_(min_size, std::max(min_size, max_size)), excluded_(excluded) {}

std::string PayloadGenerator::next() {
  std::string payload(size_(rng_), '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& c : payload) {
    int b = byte(rng_);
    if (b == excluded_) b = (b + 1) & 0xff;
    c = static_cast<char>(b);
  }
  return payload;
}

}  // namespace netlab
