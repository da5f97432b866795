// ParallelFor: run fn(task) for task in [0, n) on `threads` threads, tasks
// handed out dynamically. Blocks until all finish. threads <= 0 means all
// cores. The calling thread works too.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace vx {

inline int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

template <class Fn>
void ParallelFor(size_t n, int threads, Fn&& fn) {
  const size_t t = std::min<size_t>(static_cast<size_t>(ResolveThreads(threads)), n);
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  for (size_t i = 0; i + 1 < t; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

}  // namespace vx
