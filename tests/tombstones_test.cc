#include "index/tombstones.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace vx {
namespace {

void ExpectSame(const Tombstones& t, const std::set<uint32_t>& want, uint32_t rows) {
  ASSERT_EQ(t.size(), want.size());
  for (uint32_t r = 0; r < rows; ++r) ASSERT_EQ(t.Contains(r), want.count(r) == 1) << "row " << r;
}

// Many small batches (the recent rows fold into the base again and again)
// and copies taken along the way: each copy keeps exactly the rows it had,
// whatever is added to the others after it, and the file holds them all.
TEST(Tombstones, CopiesStayIndependentAcrossFoldsAndTheFileHoldsEveryRow) {
  constexpr uint32_t kRows = 200000;
  std::mt19937 rng(5);
  Tombstones t;
  std::set<uint32_t> want;
  std::vector<std::pair<Tombstones, std::set<uint32_t>>> copies;
  for (int batch = 0; batch < 600; ++batch) {
    std::vector<uint32_t> rows(1 + rng() % 60);
    for (uint32_t& r : rows) r = rng() % kRows;
    rows.push_back(rows[0]);  // a repeat counts once
    t.Add(rows);
    want.insert(rows.begin(), rows.end());
    if (batch % 150 == 0) copies.emplace_back(t, want);
  }
  ASSERT_GT(want.size(), 4096u * 3);  // past several folds
  ExpectSame(t, want, kRows);
  for (auto& [copy, rows] : copies) ExpectSame(copy, rows, kRows);
  // A copy written to after it was taken leaves the original as it was.
  Tombstones copy = t;
  const std::vector<uint32_t> more = {kRows - 1, kRows - 2};
  copy.Add(more);
  ExpectSame(t, want, kRows);

  auto read = Tombstones::Deserialize(t.Serialize(kRows), kRows, "t");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectSame(**read, want, kRows);
  EXPECT_EQ(Tombstones::Deserialize(t.Serialize(kRows), kRows - 1, "t").status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace vx
