#pragma once
// Compare the sizes of the writes a sender made with the sizes of the reads
// the receiver got on the same byte stream: the measured face of 粘包 (several
// writes merged into one read) and 拆包 (one write split over several reads).
#include <cstddef>
#include <span>

namespace netlab {

struct BoundaryReport {
  std::size_t writes = 0;
  std::size_t reads = 0;
  std::size_t write_bytes = 0;
  std::size_t read_bytes = 0;
  std::size_t merged_reads = 0;  // reads holding bytes of two or more writes
  std::size_t split_writes = 0;  // writes whose bytes arrived in two or more reads
  std::size_t exact_reads = 0;   // reads that were exactly one whole write
  std::size_t max_writes_in_one_read = 0;
};

// Zero-length entries are ignored. When the totals differ, the shorter stream
// is compared as far as it goes (write_bytes != read_bytes tells the caller).
BoundaryReport compare_boundaries(std::span<const std::size_t> write_sizes, std::span<const std::size_t> read_sizes);

}  // namespace netlab
