#include "boundaries.hpp"

#include <algorithm>

namespace netlab {

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

  std::size_t wi = 0, ri = 0;
  std::size_t w_left = 0, r_left = 0;  // bytes left in the current write / read
  std::size_t writes_in_read = 0, reads_in_write = 0;
  auto next_write = [&] {
    while (wi < write_sizes.size() && write_sizes[wi] == 0) ++wi;
    if (wi == write_sizes.size()) return false;
    w_left = write_sizes[wi++];
    reads_in_write = 0;
    return true;
  };
  auto next_read = [&] {
    while (ri < read_sizes.size() && read_sizes[ri] == 0) ++ri;
    if (ri == read_sizes.size()) return false;
    r_left = read_sizes[ri++];
    writes_in_read = 0;
    return true;
  };
  if (!next_write() || !next_read()) return report;
  for (;;) {
    // The current read and write overlap here.
    ++writes_in_read;
    ++reads_in_write;
    const std::size_t n = std::min(w_left, r_left);
    w_left -= n;
    r_left -= n;
    const bool write_done = w_left == 0, read_done = r_left == 0;
    if (write_done && reads_in_write > 1) ++report.split_writes;
    if (read_done) {
      if (writes_in_read > 1) ++report.merged_reads;
      if (write_done && writes_in_read == 1 && reads_in_write == 1) ++report.exact_reads;
      report.max_writes_in_one_read = std::max(report.max_writes_in_one_read, writes_in_read);
    }
    if (write_done && !next_write()) break;
    if (read_done && !next_read()) break;
  }
  return report;
}

}  // namespace netlab
