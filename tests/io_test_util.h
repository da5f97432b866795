// The Env backends every file-layer test runs against.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "io/env.h"
#include "test_util.h"

namespace vx::testing {

enum class Backend { kPread, kIoUring, kMemory };

inline std::string BackendName(Backend b) {
  switch (b) {
    case Backend::kPread:
      return "pread";
    case Backend::kIoUring:
      return "io_uring";
    case Backend::kMemory:
      return "memory";
  }
  return "?";
}

// Makes the Env for `b`, or sets *skip to why it cannot run here.
inline std::unique_ptr<Env> MakeEnv(Backend b, std::string* skip) {
  if (b == Backend::kMemory) return NewMemEnv();
  auto env = NewPosixEnv(b == Backend::kIoUring ? IoBackend::kIoUring : IoBackend::kPread);
  if (!env.ok()) {
    *skip = env.status().ToString();
    return nullptr;
  }
  return std::move(env).value();
}

class EnvTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    env_ = MakeEnv(GetParam(), &skip);
    if (!env_) GTEST_SKIP() << BackendName(GetParam()) << " unavailable here: " << skip;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  TempDir dir_;
  std::unique_ptr<Env> env_;
};

#define VX_INSTANTIATE_ENV_TEST(Suite)                                                                         \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                                    \
                           ::testing::Values(::vx::testing::Backend::kPread, ::vx::testing::Backend::kIoUring, \
                                             ::vx::testing::Backend::kMemory),                                 \
                           [](const auto& info) { return ::vx::testing::BackendName(info.param); })

}  // namespace vx::testing
