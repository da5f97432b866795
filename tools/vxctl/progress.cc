#include "vxctl/progress.h"

#include <unistd.h>

#include <cstdio>

namespace vxctl {

std::string HumanCount(double n) {
  char buf[32];
  if (n >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string HumanDuration(double secs) {
  char buf[32];
  if (secs < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", secs);
  else if (secs < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(secs) / 60, int(secs) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(secs) / 3600, int(secs) % 3600 / 60);
  return buf;
}

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(2) != 0) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::Update(uint64_t done) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(5);
  if (now - last_print_ < interval) return;
  last_print_ = now;
  Print(done, false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Print(total_, true);
}

void Progress::Print(uint64_t done, bool final) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double frac = total_ ? static_cast<double>(done) / total_ : 1.0;
  std::string tail;
  if (final) {
    tail = "done in " + HumanDuration(secs);
  } else {
    tail = "ETA " + (rate > 0 ? HumanDuration((total_ - done) / rate) : std::string("?"));
  }
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, ' ');
    std::fprintf(stderr, "\r%s %3.0f%% [%s] %s/%s %s  %s/s  %s\033[K%s", label_.c_str(), frac * 100, bar.c_str(),
                 HumanCount(done).c_str(), HumanCount(total_).c_str(), unit_.c_str(), HumanCount(rate).c_str(),
                 tail.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %llu/%llu %s (%.0f%%), %s %s/s, %s\n", label_.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), unit_.c_str(),
                 frac * 100, HumanCount(rate).c_str(), unit_.c_str(), tail.c_str());
  }
  std::fflush(stderr);
}

}  // namespace vxctl
