// A thin io_uring queue (liburing): one per thread, created on first use.
// Completions are handled strictly (STYLE.md practice 5): a negative res is
// -errno; -EAGAIN and -EINTR are resubmitted; a short read is continued, and
// a read that returns 0 has reached end of file.
#pragma once

#include <liburing.h>

#include <span>
#include <string>

#include "io/env.h"

namespace vx {

class IoQueue {
 public:
  static constexpr unsigned kDepth = 256;

  // The calling thread's queue, or the reason io_uring is unavailable.
  static Result<IoQueue*> ForThisThread();
  // Whether io_uring works in this process; *why is set when it does not.
  static bool Available(std::string* why);

  ~IoQueue();
  IoQueue(const IoQueue&) = delete;
  IoQueue& operator=(const IoQueue&) = delete;

  // Reads every request from fd (requests may exceed kDepth: they are
  // submitted in waves). `path` names the file in errors.
  void ReadAll(int fd, const std::string& path, std::span<ReadRequest> requests);

  // Low-level interface for sustained queue depth (vxctl bench-io):
  // queue one read (false if the submission queue is full), submit queued
  // reads, and wait for at least `min` completions, returning them to `fn`
  // as (user_data, res).
  bool Queue(int fd, void* buf, unsigned len, uint64_t offset, uint64_t user_data);
  int Submit();
  template <class Fn>
  int Reap(unsigned min, Fn&& fn);

 private:
  IoQueue() = default;
  io_uring ring_{};
};

template <class Fn>
int IoQueue::Reap(unsigned min, Fn&& fn) {
  io_uring_cqe* cqe = nullptr;
  if (min > 0) {
    const int rc = io_uring_wait_cqe_nr(&ring_, &cqe, min);
    if (rc < 0 && rc != -EINTR) return rc;
  }
  unsigned head, n = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    fn(cqe->user_data, cqe->res);
    ++n;
  }
  io_uring_cq_advance(&ring_, n);
  return static_cast<int>(n);
}

}  // namespace vx
