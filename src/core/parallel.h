// Thread counts and ParallelFor: run fn(task) for task in [0, n) on
// `threads` threads, tasks handed out dynamically. Blocks until all finish.
// threads <= 0 means all cores. The calling thread works too.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "vx/status.h"

namespace vx {

// The most threads any operation takes (a larger request is refused).
inline constexpr int kMaxThreads = 1024;

inline int ResolveThreads(int threads) {
  if (threads > 0) return std::min(threads, kMaxThreads);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
}

// InvalidArgument naming `what` unless threads is in 0..kMaxThreads.
inline Status CheckThreads(int threads, const char* what) {
  if (threads >= 0 && threads <= kMaxThreads) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " must be in 0.." + std::to_string(kMaxThreads) +
                                 " (0: all cores), not " + std::to_string(threads));
}

// Starts up to `count` threads running `work` into *pool. A thread the
// system refuses (a process or memory limit) is not started; the work is
// shared by those that are (the caller's among them), so it completes all
// the same, more slowly.
template <class Work>
void StartThreads(size_t count, const Work& work, std::vector<std::thread>* pool) {
  for (size_t i = 0; i < count; ++i) {
    try {
      pool->emplace_back(work);
    } catch (const std::system_error&) {
      return;
    }
  }
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
  StartThreads(t - 1, work, &pool);
  work();
  for (auto& th : pool) th.join();
}

}  // namespace vx
