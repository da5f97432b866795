#include "vx/status.h"

#include <cstdio>
#include <cstdlib>

#include "core/check.h"

namespace vx {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "Invalid argument";
    case StatusCode::kNotFound:
      return "Not found";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIOError:
      return "I/O error";
    case StatusCode::kNoSpace:
      return "No space";
    case StatusCode::kNotSupported:
      return "Not supported";
    case StatusCode::kResourceExhausted:
      return "Resource exhausted";
    case StatusCode::kBusy:
      return "Busy";
    case StatusCode::kCancelled:
      return "Cancelled";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

void AbortOnBadResultAccess(const Status& status) {
  std::fprintf(stderr, "vx: value() of a failed Result: %s\n", status.ToString().c_str());
  std::abort();
}

namespace internal {
void CheckFailed(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "vx: internal check failed at %s:%d: %s\n", file, line, expr);
  std::abort();
}
}  // namespace internal

}  // namespace vx
