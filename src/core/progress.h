// Progress and cancellation of long work (builds, training): what a phase
// reports, and the flag the caller sets to stop it. Work checks the flag at
// the points where it reports progress, so a cancel takes effect within one
// report's worth of work.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "vx/status.h"

namespace vx {

struct ProgressControl {
  // (done, total, phase); called from one thread at a time. Optional.
  std::function<void(uint64_t, uint64_t, const char*)> report;
  const std::atomic<bool>* cancel = nullptr;  // set by the caller, from any thread, to stop

  bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
  void Report(uint64_t done, uint64_t total, const char* phase) const {
    if (report) report(done, total, phase);
  }
  // Reports, then Cancelled (naming the phase) if the caller asked to stop.
  Status Step(uint64_t done, uint64_t total, const char* phase) const {
    Report(done, total, phase);
    return cancelled() ? Status::Cancelled(std::string("cancelled during ") + phase) : Status::Ok();
  }
};

}  // namespace vx
