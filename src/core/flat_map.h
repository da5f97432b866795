// FlatMap: an integer-keyed hash map in one array. Open addressing with
// linear probing, at most half full, backward-shift deletion (no
// tombstones). A lookup is one hash and usually one cache line;
// std::unordered_map took a prime modulo and two dependent cache misses
// (bucket, then node), a measurable share of an in-memory HNSW query, where
// the buffer pool's page map and the upper layers' directory are looked up.
//
// Not thread-safe: the buffer pool guards each shard's map with its mutex.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace vx {

template <class K, class V>
class FlatMap {
  static_assert(std::is_unsigned_v<K>);

 public:
  static constexpr K kNoKey = std::numeric_limits<K>::max();  // not a valid key

  // The value stored for key, or null.
  V* Find(K key) { return const_cast<V*>(static_cast<const FlatMap*>(this)->Find(key)); }
  const V* Find(K key) const {
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kNoKey) return nullptr;
    }
  }

  // key must be absent.
  void Insert(K key, V value) {
    assert(key != kNoKey && Find(key) == nullptr);
    if (2 * (size_ + 1) > slots_.size()) Grow();
    Place({key, value});
    ++size_;
  }

  // False if key was absent.
  bool Erase(K key) {
    assert(key != kNoKey);
    size_t hole = Home(key);
    while (slots_[hole].key != key) {
      if (slots_[hole].key == kNoKey) return false;
      hole = (hole + 1) & mask_;
    }
    // Move back each later entry of the run whose home is not between the
    // hole and it (cyclically): lookups then never meet the hole.
    for (size_t j = (hole + 1) & mask_; slots_[j].key != kNoKey; j = (j + 1) & mask_) {
      const size_t home = Home(slots_[j].key);
      const bool stays = hole < j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole].key = kNoKey;
    --size_;
    return true;
  }

  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    K key = kNoKey;
    V value{};
  };

  // A full 64-bit mix (splitmix64's finalizer): the buffer pool picks shards
  // by the key's multiplicative hash, so the keys of one shard share those
  // bits.
  size_t Home(K k) const {
    uint64_t key = k;
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return key & mask_;
  }

  void Place(const Slot& s) {
    size_t i = Home(s.key);
    while (slots_[i].key != kNoKey) i = (i + 1) & mask_;
    slots_[i] = s;
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key != kNoKey) Place(s);
    }
  }

  std::vector<Slot> slots_ = std::vector<Slot>(16);
  size_t mask_ = 15;
  size_t size_ = 0;
};

}  // namespace vx
