// The packed layer-0 records: varint delta coding and page packing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "hnsw/layout.h"

namespace vx::hnsw {
namespace {

TEST(HnswLayout, RecordsRoundTripAndPackIntoPages) {
  std::mt19937 rng(7);
  constexpr uint32_t kCount = 5000000, kMax = 32, kPayload = 4096 - 32;
  std::vector<std::vector<uint32_t>> lists;
  std::vector<uint32_t> first;  // first node of each page
  std::vector<std::vector<uint8_t>> pages;
  GraphPagePacker packer(kPayload);
  std::vector<uint8_t> rec;
  for (uint32_t node = 0; node < 3000; ++node) {
    // Near ids (small gaps), far ids (up to 4-byte varints), the node's
    // neighbours below it (negative first delta), and empty lists.
    std::vector<uint32_t> ids;
    const uint32_t n = node % 17 == 0 ? 0 : rng() % (kMax + 1);
    while (ids.size() < n) {
      const uint32_t v = rng() % 3 == 0 ? rng() % kCount : (node + kCount - 500 + rng() % 1000) % kCount;
      if (std::find(ids.begin(), ids.end(), v) == ids.end()) ids.push_back(v);
    }
    std::sort(ids.begin(), ids.end());
    rec.clear();
    EncodeNeighbors(node, ids, &rec);
    EXPECT_LE(rec.size(), 5 * ids.size());
    if (!packer.Fits(rec.size())) {
      pages.emplace_back(kPayload);
      packer.Finish(pages.back().data());
    }
    if (packer.empty()) first.push_back(node);
    packer.Add(rec);
    lists.push_back(ids);
  }
  pages.emplace_back(kPayload);
  packer.Finish(pages.back().data());
  ASSERT_EQ(first.size(), pages.size());
  ASSERT_GT(pages.size(), 10u);

  const GraphPageMap map(first);
  uint32_t out[kMax], n;
  for (uint32_t node = 0; node < lists.size(); ++node) {
    const uint64_t page = map.Page(node);
    ASSERT_GE(page, 1u);
    ASSERT_LE(page, pages.size());
    const uint8_t *b, *e;
    ASSERT_TRUE(map.Record(node, page, pages[page - 1].data(), kPayload, &b, &e)) << node;
    ASSERT_TRUE(DecodeNeighbors(node, b, e, kMax, kCount, out, &n)) << node;
    EXPECT_EQ(std::vector<uint32_t>(out, out + n), lists[node]) << node;
  }
}

TEST(HnswLayout, MalformedRecordsAreRejected) {
  std::vector<uint8_t> rec;
  const std::vector<uint32_t> ids = {10, 20, 4000000};
  EncodeNeighbors(100, ids, &rec);
  uint32_t out[32], n;
  ASSERT_TRUE(DecodeNeighbors(100, rec.data(), rec.data() + rec.size(), 32, 5000000, out, &n));
  ASSERT_EQ(n, 3u);
  // More ids than allowed; an id past the node count; a varint cut short.
  EXPECT_FALSE(DecodeNeighbors(100, rec.data(), rec.data() + rec.size(), 2, 5000000, out, &n));
  EXPECT_FALSE(DecodeNeighbors(100, rec.data(), rec.data() + rec.size(), 32, 4000000, out, &n));
  EXPECT_FALSE(DecodeNeighbors(100, rec.data(), rec.data() + rec.size() - 1, 32, 5000000, out, &n));
  // A zero gap (a repeated id), and a first id below 0.
  const uint8_t repeat[] = {20, 0};
  EXPECT_FALSE(DecodeNeighbors(100, repeat, repeat + 2, 32, 5000000, out, &n));
  const uint8_t negative[] = {21};  // zigzag of -11: node 10's first id would be -1
  EXPECT_FALSE(DecodeNeighbors(10, negative, negative + 1, 32, 5000000, out, &n));
  const uint8_t zero[] = {19};  // zigzag of -10: id 0, valid
  EXPECT_TRUE(DecodeNeighbors(10, zero, zero + 1, 32, 5000000, out, &n));
  EXPECT_EQ(out[0], 0u);
  // A varint longer than five bytes.
  const uint8_t endless[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_FALSE(DecodeNeighbors(100, endless, endless + 6, 32, 5000000, out, &n));

  // A page whose end table points past the payload, or backwards.
  std::vector<uint8_t> page(64, 0);
  const GraphPageMap map({0});
  const uint8_t *b, *e;
  page[0] = 2;                 // two records
  page[2] = 6, page[4] = 200;  // ends 6 and 200 > 64
  EXPECT_TRUE(map.Record(0, 1, page.data(), page.size(), &b, &e));
  EXPECT_FALSE(map.Record(1, 1, page.data(), page.size(), &b, &e));
  page[4] = 5;  // second record ends before it starts
  EXPECT_FALSE(map.Record(1, 1, page.data(), page.size(), &b, &e));
  EXPECT_FALSE(map.Record(2, 1, page.data(), page.size(), &b, &e));  // not on the page
}

}  // namespace
}  // namespace vx::hnsw
