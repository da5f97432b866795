// FlatMap against std::unordered_map under random inserts, finds and erases,
// for both key widths in use (buffer pool: u64 page keys; HNSW: u32 nodes).
#include "core/flat_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace vx {
namespace {

// Keys of a few files with clustered page numbers (long probe runs, growth
// from the initial 16 slots); every key is checked after each erase phase,
// so a bad backward shift loses a key. Then a map that never holds more than
// 7 of 256 keys keeps its 16 slots, so runs wrap past the table's end often,
// with entries whose home is the erased slot itself (24 keys left the
// wrapped case's `hole < home` changed to `<=` undetected).
template <class K>
void AgreesWithAReferenceMap() {
  FlatMap<K, uint32_t> map;
  std::unordered_map<K, uint32_t> ref;
  std::mt19937_64 rng(5);
  const int file_shift = sizeof(K) == 8 ? 48 : 24;
  auto random_key = [&] { return static_cast<K>((uint64_t{rng() % 3} << file_shift) | (rng() % 5000)); };
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 400; ++i) {
      const K key = random_key();
      const auto v = static_cast<uint32_t>(rng());
      if (ref.count(key)) continue;
      map.Insert(key, v);
      ref[key] = v;
    }
    for (int i = 0; i < 300; ++i) {
      const K key = random_key();
      ASSERT_EQ(map.Erase(key), ref.erase(key) == 1) << "key " << key;
    }
    ASSERT_EQ(map.size(), ref.size());
    for (const auto& [key, v] : ref) {
      const uint32_t* found = map.Find(key);
      ASSERT_NE(found, nullptr) << "round " << round << ": key " << key << " lost";
      ASSERT_EQ(*found, v);
    }
    for (int i = 0; i < 200; ++i) {
      const K key = random_key();
      ASSERT_EQ(map.Find(key) != nullptr, ref.count(key) == 1);
    }
  }
  for (const auto& [key, v] : ref) ASSERT_TRUE(map.Erase(key));
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.Find(ref.begin()->first), nullptr);

  FlatMap<K, uint32_t> small;
  ref.clear();
  for (int i = 0; i < 20000; ++i) {
    const K key = static_cast<K>(rng() % 256);
    if (ref.count(key)) {
      ASSERT_TRUE(small.Erase(key));
      ref.erase(key);
    } else if (ref.size() < 7) {
      small.Insert(key, 1);
      ref[key] = 1;
    }
    for (K k = 0; k < 256; ++k) ASSERT_EQ(small.Find(k) != nullptr, ref.count(k) == 1) << "step " << i << " key " << k;
  }
}

TEST(FlatMap, AgreesWithAReferenceMapUnder64BitKeys) { AgreesWithAReferenceMap<uint64_t>(); }
TEST(FlatMap, AgreesWithAReferenceMapUnder32BitKeys) { AgreesWithAReferenceMap<uint32_t>(); }

}  // namespace
}  // namespace vx
