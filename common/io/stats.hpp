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

// CRC-32C (Castagnoli, as iSCSI and ext4 use it) of `bytes`, continued from
// `crc`: the SSE4.2 instruction where the CPU has it (about 8 bytes per 3
// cycles), a table otherwise — same result either way. The one-way transfer
// checks its gigabytes with it: zlib's CRC-32 took a third of the receiver's
// CPU time there (docs/performance.md, stream row).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

// A running checksum over frames: each frame's size and CRC-32C, in order.
// Equal tallies on both ends mean the same frames with the same boundaries in
// the same order (the framing lab's --one-way transfer).
std::uint32_t tally_frame(std::uint32_t tally, std::size_t size, std::uint32_t frame_crc);

namespace detail {
std::uint32_t crc32c_portable(std::string_view bytes, std::uint32_t crc);  // the table path, for tests
}

// The p-th percentile (0..100) of `values` by nearest rank; 0 when empty.
double percentile(std::vector<double> values, double p);

// Seeded messages: sizes uniform in [min_size, max_size], bytes uniform over
// 0..255 except `excluded` (if set), so a delimiter never appears in a payload.
// The bytes are drawn once into a pool (max_size + 64 KiB) and each message is
// a slice of it at a seeded offset: drawing every byte afresh cost more than
// the loopback itself at 64 KiB per message (scripts/bench.sh, stream row).
class PayloadGenerator {
 public:
  PayloadGenerator(std::uint64_t seed, std::size_t min_size, std::size_t max_size, int excluded = -1);
  std::string next();
  // The next message as a view into the pool: no copy; valid while the generator lives.
  std::string_view next_view();

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::size_t> size_;
  std::string pool_;
};

}  // namespace netlab
