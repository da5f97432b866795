// VX_CHECK: the one way to abort on a broken internal invariant. User and
// environment errors are Statuses, never checks.
#pragma once

namespace vx::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr);
}  // namespace vx::internal

#define VX_CHECK(cond)                                        \
  do {                                                        \
    if (!(cond)) [[unlikely]]                                 \
      ::vx::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)
