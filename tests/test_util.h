// Helpers shared by the tests: a scratch directory and raw file writing.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vx/types.h"

namespace vx::testing {

// The exact distance in double precision (vx/types.h semantics): the
// reference the kernels, quantizers and searches are checked against.
inline double ReferenceDistance(Metric m, const float* q, const float* x, size_t d) {
  double l2 = 0, dot = 0, qn = 0, xn = 0;
  for (size_t i = 0; i < d; ++i) {
    l2 += (double{q[i]} - x[i]) * (double{q[i]} - x[i]);
    dot += double{q[i]} * x[i];
    qn += double{q[i]} * q[i];
    xn += double{x[i]} * x[i];
  }
  if (m == Metric::kL2) return l2;
  if (m == Metric::kInnerProduct) return -dot;
  return 1.0 - dot / (std::sqrt(qn) * std::sqrt(xn));
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vx_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void AppendRaw(std::vector<uint8_t>* out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

inline std::string SharedData(const std::string& rel) { return std::string(VX_SHARED_DATA_DIR) + "/" + rel; }
inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Forks a child that runs child(fd), fd the write end of a pipe to the
// parent, then exits 0; returns the child's pid (-1 when the fork or the
// pipe failed) and sets *read_fd to the parent's end.
template <class Fn>
pid_t ForkWithPipe(int* read_fd, Fn&& child) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

// The parent's side of a SIGKILL trial: reads the `Msg`s the child writes
// to `fd` until the pipe closes, handing each to `on_message`, kills the
// child with SIGKILL once `kill_after` have arrived, and reaps it. Whether
// the child died of that SIGKILL (the test's premise).
template <class Msg, class Fn>
::testing::AssertionResult KillChildAfterMessages(pid_t pid, int fd, uint64_t kill_after, Fn&& on_message) {
  Msg msg;
  uint64_t seen = 0;
  bool killed = false;
  while (::read(fd, &msg, sizeof msg) == sizeof msg) {
    on_message(msg);
    if (++seen == kill_after) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "child status " << status << " after " << seen << " messages";
}

}  // namespace vx::testing
