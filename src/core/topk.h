// A bounded max-heap that keeps the k nearest (distance, id) pairs. Ties in
// distance are broken by the lower id, so results are deterministic whatever
// order candidates arrive in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace vx {

struct Neighbor {
  float dist;
  int64_t id;
  // "nearer than": smaller distance, then smaller id.
  friend bool operator<(const Neighbor& a, const Neighbor& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
  }
};

class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  size_t k() const { return k_; }
  size_t size() const { return heap_.size(); }
  bool full() const { return heap_.size() == k_; }
  // The distance a candidate must beat (or tie with a lower id) to enter.
  float threshold() const { return full() ? heap_.front().dist : std::numeric_limits<float>::infinity(); }
  // Inserts if (dist, id) is nearer than the current k-th. Returns whether it entered.
  bool Push(float dist, int64_t id) {
    const Neighbor n{dist, id};
    if (heap_.size() < k_) {
      heap_.push_back(n);
      std::push_heap(heap_.begin(), heap_.end());
      return true;
    }
    if (!(n < heap_.front())) return false;
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.back() = n;
    std::push_heap(heap_.begin(), heap_.end());
    return true;
  }
  // The kept neighbours, nearest first. Leaves the heap empty.
  std::vector<Neighbor> TakeSorted() {
    std::sort_heap(heap_.begin(), heap_.end());
    return std::move(heap_);
  }
  // The kept neighbours, nearest first, in place (for a TopK reused across
  // queries: no allocation). Push again only after Reset.
  const std::vector<Neighbor>& Sorted() {
    std::sort_heap(heap_.begin(), heap_.end());
    return heap_;
  }
  // Empties the heap and sets a new k, keeping the storage.
  void Reset(size_t k) {
    k_ = k;
    heap_.clear();
  }

 private:
  size_t k_;
  std::vector<Neighbor> heap_;  // max-heap under operator<: front() is the k-th nearest
};

}  // namespace vx
