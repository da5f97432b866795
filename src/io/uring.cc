#include "io/uring.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/posix.h"

namespace vx {
namespace {

// liburing maps a ring's memory with raw syscalls, so a thread's new ring may
// land where an exited thread's ring was without the C library (or TSan) seeing
// an unmap and a map. Setting up and tearing down rings under one mutex orders
// every use of the old ring before every use of the new one.
std::mutex ring_lifetime_mu;

int InitRing(unsigned depth, io_uring* ring) {
  std::lock_guard<std::mutex> lock(ring_lifetime_mu);
  return io_uring_queue_init(depth, ring, 0);
}

void ExitRing(io_uring* ring) {
  std::lock_guard<std::mutex> lock(ring_lifetime_mu);
  io_uring_queue_exit(ring);
}

}  // namespace

Result<IoQueue*> IoQueue::ForThisThread() {
  thread_local std::unique_ptr<IoQueue> queue;
  thread_local int init_error = 0;
  thread_local pid_t owner = 0;
  if (owner != ::getpid()) {
    // A child forked by this thread: the ring's memory is shared with the
    // parent, so its requests would mix with the parent's (and a child
    // killed mid-read would leave the parent's ring stuck). It gets its own;
    // the inherited one is the parent's to use and tear down.
    static_cast<void>(queue.release());
    init_error = 0;
    owner = ::getpid();
  }
  if (queue) return queue.get();
  if (init_error != 0) return ErrnoStatus("io_uring_queue_init", init_error);
  std::unique_ptr<IoQueue> q(new IoQueue());
  const int rc = InitRing(kDepth, &q->ring_);
  if (rc < 0) {
    init_error = -rc;
    return ErrnoStatus("io_uring_queue_init", -rc);
  }
  queue = std::move(q);
  return queue.get();
}

bool IoQueue::Available(std::string* why) {
  io_uring ring;
  const int rc = InitRing(4, &ring);
  if (rc < 0) {
    *why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    return false;
  }
  ExitRing(&ring);
  return true;
}

IoQueue::~IoQueue() { ExitRing(&ring_); }

bool IoQueue::Queue(int fd, void* buf, unsigned len, uint64_t offset, uint64_t user_data) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return false;
  io_uring_prep_read(sqe, fd, buf, len, offset);
  io_uring_sqe_set_data64(sqe, user_data);
  return true;
}

int IoQueue::Submit() { return io_uring_submit(&ring_); }

void IoQueue::ReadAll(int fd, const std::string& path, std::span<ReadRequest> requests) {
  // Requests still to (re)submit; each tracks its progress in bytes_read.
  std::vector<size_t> todo;
  todo.reserve(requests.size());
  for (size_t i = requests.size(); i-- > 0;) {
    requests[i].bytes_read = 0;
    requests[i].status = Status::Ok();
    if (requests[i].length > 0) todo.push_back(i);
  }
  size_t in_flight = 0;
  while (!todo.empty() || in_flight > 0) {
    while (!todo.empty() && in_flight < kDepth) {
      ReadRequest& r = requests[todo.back()];
      if (!Queue(fd, static_cast<char*>(r.buf) + r.bytes_read, static_cast<unsigned>(r.length - r.bytes_read),
                 r.offset + r.bytes_read, todo.back())) {
        break;
      }
      todo.pop_back();
      ++in_flight;
    }
    const int submitted = io_uring_submit_and_wait(&ring_, 1);
    if (submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY) {
      // The ring itself failed: fail every request not yet complete.
      const Status s = ErrnoStatus(path + ": io_uring_submit", -submitted);
      for (ReadRequest& r : requests) {
        if (r.status.ok() && r.bytes_read < r.length) r.status = s;
      }
      return;
    }
    Reap(0, [&](uint64_t idx, int res) {
      --in_flight;
      ReadRequest& r = requests[idx];
      if (res == -EAGAIN || res == -EINTR) {
        todo.push_back(idx);
      } else if (res < 0) {
        r.status = ErrnoStatus(
            path + ": read of " + std::to_string(r.length) + " bytes at offset " + std::to_string(r.offset), -res);
      } else if (res > 0) {
        r.bytes_read += static_cast<size_t>(res);
        if (r.bytes_read < r.length) todo.push_back(idx);  // short read: continue
      }
      // res == 0: end of file; bytes_read stays short.
    });
  }
}

}  // namespace vx
