// Progress for long vxctl jobs: a bar with rate and ETA redrawn in place on a
// terminal, or a plain line every few seconds when stderr is a file or pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vxctl {

class Progress {
 public:
  Progress(std::string label, uint64_t total, std::string unit);
  void Update(uint64_t done);
  void Finish();  // prints the final line (elapsed time, mean rate)

 private:
  void Print(uint64_t done, bool final);
  std::string label_, unit_;
  uint64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool finished_ = false;
};

std::string HumanCount(double n);        // 1234567 -> "1.23M"
std::string HumanDuration(double secs);  // 75 -> "1m15s"

}  // namespace vxctl
