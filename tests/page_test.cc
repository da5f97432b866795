#include "io/page.h"

#include <gtest/gtest.h>

#include <vector>

namespace vx {
namespace {

constexpr uint64_t kBinding = 0x5EED5EED12345678;

std::vector<uint8_t> SealedPage(size_t size, PageType type, uint64_t no) {
  std::vector<uint8_t> p(size);
  for (size_t i = kPageHeaderSize; i < size; ++i) p[i] = static_cast<uint8_t>(i * 13 + no);
  SealPage(p.data(), size, type, PageNo{no}, kBinding);
  return p;
}

TEST(Page, SealThenVerifyAtEverySize) {
  for (size_t size = 4096; size <= 65536; size *= 2) {
    auto p = SealedPage(size, PageType::kGraph, 77);
    EXPECT_TRUE(VerifyPage(p.data(), size, PageType::kGraph, PageNo{77}, kBinding, "f").ok()) << size;
  }
}

TEST(Page, EveryFlippedByteIsCorruptionNamingFileAndPage) {
  auto good = SealedPage(4096, PageType::kVector, 5);
  for (size_t i = 0; i < 4096; i += 7) {
    auto p = good;
    p[i] ^= 0x40;
    const Status s = VerifyPage(p.data(), 4096, PageType::kVector, PageNo{5}, kBinding, "/idx/vectors");
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << "byte " << i;
    ASSERT_NE(s.message().find("/idx/vectors page 5"), std::string::npos) << s.message();
  }
}

TEST(Page, WrongNumberTypeOrBlankPage) {
  auto p = SealedPage(4096, PageType::kGraph, 3);
  Status s = VerifyPage(p.data(), 4096, PageType::kGraph, PageNo{4}, kBinding, "g");
  EXPECT_NE(s.message().find("holds page 3"), std::string::npos) << s.message();
  s = VerifyPage(p.data(), 4096, PageType::kVector, PageNo{3}, kBinding, "g");
  EXPECT_NE(s.message().find("page type 2, expected 3"), std::string::npos) << s.message();
  std::vector<uint8_t> zero(4096, 0);
  s = VerifyPage(zero.data(), 4096, PageType::kGraph, PageNo{0}, kBinding, "g");
  EXPECT_NE(s.message().find("bad page magic"), std::string::npos) << s.message();
}

// A page sealed for another file (or another index) passes every other
// check: its binding catches it.
TEST(Page, APageOfAnotherFileIsCorruption) {
  auto p = SealedPage(4096, PageType::kVector, 9);
  Status s = VerifyPage(p.data(), 4096, PageType::kVector, PageNo{9}, kBinding + 1, "/idx/vectors");
  ASSERT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("/idx/vectors page 9: belongs to another file or index"), std::string::npos)
      << s.message();
  // Unbound pages (indexes written before pages were bound) read as before,
  // and only as unbound.
  SealPage(p.data(), 4096, PageType::kVector, PageNo{9}, 0);
  EXPECT_TRUE(VerifyPage(p.data(), 4096, PageType::kVector, PageNo{9}, 0, "v").ok());
  EXPECT_FALSE(VerifyPage(p.data(), 4096, PageType::kVector, PageNo{9}, kBinding, "v").ok());
}

TEST(Page, PageSizeValidation) {
  EXPECT_TRUE(ValidatePageSize(4096).ok());
  EXPECT_TRUE(ValidatePageSize(65536).ok());
  for (size_t bad : {0, 512, 2048, 6000, 8193, 131072}) EXPECT_FALSE(ValidatePageSize(bad).ok()) << bad;
}

}  // namespace
}  // namespace vx
