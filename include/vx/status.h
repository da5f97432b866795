// Status and Result<T>: the one error vocabulary of vx.
//
// Every fallible operation returns a [[nodiscard]] Status or Result<T>. No
// exception crosses a layer. A user or environment error is a Status whose
// message names the file, record, offset or parameter at fault; a broken
// internal invariant aborts through VX_CHECK (src/core/check.h).
#pragma once

#include <optional>
#include <string>
#include <utility>

#pragma GCC visibility push(default)  // libvx.so exports what this header declares
namespace vx {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller passed something unusable
  kNotFound,           // a named file or object does not exist
  kCorruption,         // data on disk or in a file fails its checks
  kIOError,            // the OS reported an I/O failure
  kNoSpace,            // ENOSPC / EDQUOT
  kNotSupported,       // valid, but not implemented or not available here
  kResourceExhausted,  // a memory or size budget would be exceeded
  kBusy,               // held by another writer (a build is writing the index directory)
  kCancelled,          // the caller asked the operation to stop (a build's cancel flag)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {StatusCode::kNoSpace, std::move(msg)}; }
  static Status NotSupported(std::string msg) { return {StatusCode::kNotSupported, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status Busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or a non-OK Status. Accessing value() of an error aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::InvalidArgument("Result built from an OK Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  void CheckOk() const;
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] void AbortOnBadResultAccess(const Status& status);

template <typename T>
void Result<T>::CheckOk() const {
  if (!status_.ok()) AbortOnBadResultAccess(status_);
}

}  // namespace vx
#pragma GCC visibility pop

#define VX_STATUS_CONCAT_INNER(a, b) a##b
#define VX_STATUS_CONCAT(a, b) VX_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define VX_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::vx::Status vx_status_ = (expr);        \
    if (!vx_status_.ok()) return vx_status_; \
  } while (0)

// `VX_ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value, or returns
// F()'s Status from the enclosing function.
#define VX_ASSIGN_OR_RETURN(lhs, expr) VX_ASSIGN_OR_RETURN_IMPL(VX_STATUS_CONCAT(vx_result_, __LINE__), lhs, expr)
#define VX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
