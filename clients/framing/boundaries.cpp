#include "boundaries.hpp"

#include <algorithm>

namespace netlab {

namespace {

// One of the two lists, walked as consecutive intervals of the byte stream
// (empty writes and reads take no bytes and are skipped).
struct Intervals {
  std::span<const std::size_t> sizes;
  std::size_t next_index = 0;
  std::size_t left = 0;      // bytes left in the current interval
  std::size_t overlaps = 0;  // intervals of the other list the current one has met

  bool next() {
    while (next_index < sizes.size() && sizes[next_index] == 0) ++next_index;
    if (next_index == sizes.size()) return false;
    left = sizes[next_index++];
    overlaps = 0;
    return true;
  }
};

}  // namespace

// Walk both lists as intervals over the same byte stream. A read "merges"
// when it covers bytes of more than one write; a write is "split" when its
// bytes come out of more than one read.
BoundaryReport compare_boundaries(std::span<const std::size_t> write_sizes, std::span<const std::size_t> read_sizes) {
  BoundaryReport report;
  for (auto w : write_sizes)
    if (w > 0) {
      ++report.writes;
      report.write_bytes += w;
    }
  for (auto r : read_sizes)
    if (r > 0) {
      ++report.reads;
      report.read_bytes += r;
    }

  Intervals write{write_sizes}, read{read_sizes};  // overlaps: reads in the write, writes in the read
  if (!write.next() || !read.next()) return report;
  for (;;) {
    // The current read and write overlap here.
    ++read.overlaps;
    ++write.overlaps;
    const std::size_t n = std::min(write.left, read.left);
    write.left -= n;
    read.left -= n;
    const bool write_done = write.left == 0, read_done = read.left == 0;
    if (write_done && write.overlaps > 1) ++report.split_writes;
    if (read_done) {
      if (read.overlaps > 1) ++report.merged_reads;
      if (write_done && read.overlaps == 1 && write.overlaps == 1) ++report.exact_reads;
      report.max_writes_in_one_read = std::max(report.max_writes_in_one_read, read.overlaps);
    }
    if (write_done && !write.next()) break;
    if (read_done && !read.next()) break;
  }
  return report;
}

}  // namespace netlab
