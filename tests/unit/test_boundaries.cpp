// 粘包 and 拆包 as numbers: reads compared to writes on one byte stream.
#include "boundaries.hpp"

#include <catch2/catch.hpp>

#include <vector>

using netlab::compare_boundaries;
using Sizes = std::vector<std::size_t>;

TEST_CASE("one read per write: nothing merged, nothing split", "[boundaries]") {
  const Sizes writes{10, 20, 30};
  const auto r = compare_boundaries(writes, writes);
  CHECK(r.merged_reads == 0);
  CHECK(r.split_writes == 0);
  CHECK(r.exact_reads == 3);
  CHECK(r.max_writes_in_one_read == 1);
}

TEST_CASE("three writes in one read: one merged read", "[boundaries]") {
  const auto r = compare_boundaries(Sizes{10, 20, 30}, Sizes{60});
  CHECK(r.merged_reads == 1);
  CHECK(r.split_writes == 0);
  CHECK(r.exact_reads == 0);
  CHECK(r.max_writes_in_one_read == 3);
  CHECK(r.write_bytes == r.read_bytes);
}

TEST_CASE("one write over three reads: one split write", "[boundaries]") {
  const auto r = compare_boundaries(Sizes{60}, Sizes{10, 20, 30});
  CHECK(r.merged_reads == 0);
  CHECK(r.split_writes == 1);
  CHECK(r.exact_reads == 0);
}

TEST_CASE("reads straddling write boundaries merge and split at once", "[boundaries]") {
  // writes: [0,10) [10,20) [20,30); reads: [0,15) [15,30)
  const auto r = compare_boundaries(Sizes{10, 10, 10}, Sizes{15, 15});
  CHECK(r.merged_reads == 2);
  CHECK(r.split_writes == 1);
  CHECK(r.exact_reads == 0);
  CHECK(r.max_writes_in_one_read == 2);
}

TEST_CASE("zero-length entries are ignored", "[boundaries]") {
  const auto r = compare_boundaries(Sizes{0, 5, 0, 5}, Sizes{5, 0, 5});
  CHECK(r.writes == 2);
  CHECK(r.reads == 2);
  CHECK(r.exact_reads == 2);
  CHECK(r.merged_reads == 0);
}

TEST_CASE("empty streams", "[boundaries]") {
  const auto r = compare_boundaries(Sizes{}, Sizes{});
  CHECK(r.writes == 0);
  CHECK(r.reads == 0);
  CHECK(r.merged_reads == 0);
}
