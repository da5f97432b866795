// Dataset readers and writers: round trips for every format, and every
// malformed input named in the format contract, checking the error message.
#include "core/dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/f16.h"
#include "test_util.h"

namespace vx {
namespace {

using testing::AppendRaw;
using testing::TempDir;
using testing::WriteBytes;

// Expects `s` to fail with `code` and a message containing every fragment.
void ExpectError(const Status& s, StatusCode code, std::initializer_list<std::string> fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.ToString();
  for (const std::string& f : fragments) {
    EXPECT_NE(s.message().find(f), std::string::npos) << "'" << f << "' not in: " << s.message();
  }
}

// Opens and reads everything; returns the first error.
Status OpenAndReadAll(const std::string& path) {
  auto r = VectorReader::Open(path);
  if (!r.ok()) return r.status();
  std::vector<uint8_t> buf((*r)->info().count * (*r)->info().dim * DTypeSize((*r)->info().dtype) + 1);
  auto n = (*r)->Read((*r)->info().count, buf.data());
  return n.ok() ? Status::Ok() : n.status();
}

std::vector<uint8_t> Fvecs(const std::vector<std::vector<float>>& rows) {
  std::vector<uint8_t> out;
  for (const auto& row : rows) {
    AppendRaw(&out, static_cast<int32_t>(row.size()));
    for (float v : row) AppendRaw(&out, v);
  }
  return out;
}

TEST(DatasetRoundTrip, EveryFormatAndDtype) {
  TempDir dir;
  struct Case {
    const char* name;
    DType dtype;
  };
  const Case cases[] = {{"a.fvecs", DType::kF32}, {"a.ivecs", DType::kI32}, {"a.bvecs", DType::kU8},
                        {"a.fbin", DType::kF32},  {"a.u8bin", DType::kU8},  {"a.i8bin", DType::kI8},
                        {"a.ibin", DType::kI32},  {"f4.npy", DType::kF32},  {"f2.npy", DType::kF16},
                        {"u1.npy", DType::kU8},   {"i1.npy", DType::kI8},   {"i4.npy", DType::kI32}};
  constexpr uint32_t kDim = 5;
  constexpr uint64_t kRows = 1000;
  for (const Case& c : cases) {
    const size_t es = DTypeSize(c.dtype);
    std::vector<uint8_t> data(kRows * kDim * es);
    for (size_t i = 0; i < kRows * kDim; ++i) {
      switch (c.dtype) {
        case DType::kF32: {
          float v = static_cast<float>(i) * 0.5f - 7;
          std::memcpy(&data[i * 4], &v, 4);
          break;
        }
        case DType::kF16: {
          uint16_t v = FloatToHalf(static_cast<float>(i % 300) - 20);
          std::memcpy(&data[i * 2], &v, 2);
          break;
        }
        case DType::kI32: {
          int32_t v = static_cast<int32_t>(i) - 50;
          std::memcpy(&data[i * 4], &v, 4);
          break;
        }
        default:
          data[i] = static_cast<uint8_t>(i * 7);
          break;
      }
    }
    const std::string path = dir / c.name;
    ASSERT_TRUE(WriteMatrix(path, c.dtype, kDim, data.data(), kRows).ok()) << c.name;
    auto r = VectorReader::Open(path);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    EXPECT_EQ((*r)->info().count, kRows) << c.name;
    EXPECT_EQ((*r)->info().dim, kDim) << c.name;
    EXPECT_EQ((*r)->info().dtype, c.dtype) << c.name;
    // Read in uneven batches to exercise the cursor.
    std::vector<uint8_t> back(data.size());
    size_t done = 0;
    while (done < kRows) {
      auto n = (*r)->Read(37, back.data() + done * kDim * es);
      ASSERT_TRUE(n.ok()) << c.name << ": " << n.status().ToString();
      ASSERT_GT(*n, 0u);
      done += *n;
    }
    EXPECT_EQ(*(*r)->Read(10, back.data()), 0u) << "read past the end";
    EXPECT_EQ(back, data) << c.name;
    // Seek and ReadFloat.
    if (c.dtype != DType::kI32) {
      ASSERT_TRUE((*r)->Seek(999).ok());
      std::vector<float> f(kDim);
      ASSERT_EQ(*(*r)->ReadFloat(5, f.data()), 1u);
      auto all = ReadAllFloat(path);
      ASSERT_TRUE(all.ok());
      EXPECT_EQ(std::memcmp(f.data(), all->row(999), kDim * 4), 0);
    }
  }
}

TEST(DatasetRoundTrip, WriterRejectsWrongDtypeForFormat) {
  TempDir dir;
  auto w = VectorWriter::Create(dir / "x.fvecs", DType::kU8, 4);
  ExpectError(w.status(), StatusCode::kInvalidArgument, {"x.fvecs", "float32", "uint8"});
}

TEST(DatasetRoundTrip, UnfinishedWriterLeavesNoFile) {
  TempDir dir;
  const std::string path = dir / "partial.fbin";
  {
    auto w = VectorWriter::Create(path, DType::kF32, 2);
    ASSERT_TRUE(w.ok());
    const float row[2] = {1, 2};
    ASSERT_TRUE((*w)->Append(row, 1).ok());
  }  // destroyed without Finish(): an interrupted job
  EXPECT_FALSE(testing::Exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "temporary file left behind";
}

TEST(DatasetErrors, EmptyFile) {
  TempDir dir;
  for (const char* name : {"e.fvecs", "e.fbin", "e.npy"}) {
    WriteBytes(dir / name, {});
    ExpectError(OpenAndReadAll(dir / name), StatusCode::kCorruption, {name, "file is empty"});
  }
}

TEST(DatasetErrors, MissingFileIsNotFound) {
  TempDir dir;
  ExpectError(OpenAndReadAll(dir / "nope.fvecs"), StatusCode::kNotFound, {"nope.fvecs"});
}

TEST(DatasetErrors, UnknownExtension) {
  TempDir dir;
  WriteBytes(dir / "x.csv", {1, 2, 3});
  ExpectError(OpenAndReadAll(dir / "x.csv"), StatusCode::kInvalidArgument, {"x.csv", "'csv'", ".fvecs"});
}

TEST(DatasetErrors, TruncatedRecord) {
  TempDir dir;
  auto bytes = Fvecs({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}});
  bytes.resize(bytes.size() - 3);  // cut into record 2
  WriteBytes(dir / "t.fvecs", bytes);
  ExpectError(OpenAndReadAll(dir / "t.fvecs"), StatusCode::kCorruption,
              {"t.fvecs", "record 2 is truncated", "17 of 20 bytes"});
}

TEST(DatasetErrors, TruncatedDimensionPrefix) {
  TempDir dir;
  auto bytes = Fvecs({{1, 2}});
  bytes.push_back(2);  // a stray byte: record 1's dimension is cut short
  WriteBytes(dir / "t.fvecs", bytes);
  ExpectError(OpenAndReadAll(dir / "t.fvecs"), StatusCode::kCorruption, {"t.fvecs", "record 1 is truncated"});
}

TEST(DatasetErrors, RowWithDifferentDimension) {
  TempDir dir;
  // Record 1 claims 3 components; the size is still a whole number of 4-d
  // records, so only the prefix check can catch it.
  auto bytes = Fvecs({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}});
  const int32_t three = 3;
  std::memcpy(bytes.data() + 20, &three, 4);
  WriteBytes(dir / "d.fvecs", bytes);
  ExpectError(OpenAndReadAll(dir / "d.fvecs"), StatusCode::kCorruption,
              {"d.fvecs", "record 1 has dimension 3, expected 4"});
  // And where the different dimension also makes the size uneven.
  auto uneven = Fvecs({{1, 2, 3, 4}, {5, 6}, {9, 10, 11, 12}});
  WriteBytes(dir / "u.fvecs", uneven);
  ExpectError(OpenAndReadAll(dir / "u.fvecs"), StatusCode::kCorruption,
              {"u.fvecs", "record 1 has dimension 2, expected 4"});
}

TEST(DatasetErrors, BadDimensionInFirstRecord) {
  TempDir dir;
  std::vector<uint8_t> bytes;
  AppendRaw(&bytes, int32_t{-5});
  AppendRaw(&bytes, 1.0f);
  WriteBytes(dir / "n.fvecs", bytes);
  ExpectError(OpenAndReadAll(dir / "n.fvecs"), StatusCode::kCorruption, {"n.fvecs", "record 0 has dimension -5"});
}

TEST(DatasetErrors, BinHeaderCountDisagreesWithSize) {
  TempDir dir;
  std::vector<uint8_t> bytes;
  AppendRaw(&bytes, uint32_t{5});  // claims 5 rows
  AppendRaw(&bytes, uint32_t{4});
  for (int i = 0; i < 3 * 4; ++i) AppendRaw(&bytes, 1.0f);  // holds 3
  WriteBytes(dir / "h.fbin", bytes);
  ExpectError(OpenAndReadAll(dir / "h.fbin"), StatusCode::kCorruption,
              {"h.fbin", "header says 5 x 4 float32 (88 bytes) but the file holds 56 bytes"});
}

TEST(DatasetErrors, BinTruncatedHeader) {
  TempDir dir;
  WriteBytes(dir / "h.u8bin", {1, 0, 0});
  ExpectError(OpenAndReadAll(dir / "h.u8bin"), StatusCode::kCorruption, {"h.u8bin", "truncated header"});
}

TEST(DatasetErrors, NanAndInfAreRejectedWithTheirRecord) {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  WriteBytes(dir / "nan.fvecs", Fvecs({{1, 2, 3}, {4, 5, nan}}));
  ExpectError(OpenAndReadAll(dir / "nan.fvecs"), StatusCode::kCorruption, {"nan.fvecs", "record 1 component 2 is NaN"});
  const float rows[] = {1, 2, 3, -inf, 5, 6};
  ASSERT_TRUE(WriteMatrix(dir / "inf.fbin", DType::kF32, 3, rows, 2).ok());
  ExpectError(OpenAndReadAll(dir / "inf.fbin"), StatusCode::kCorruption, {"inf.fbin", "record 1 component 0 is Inf"});
  const uint16_t halves[] = {0x3C00, 0x7E00};  // 1.0, NaN
  ASSERT_TRUE(WriteMatrix(dir / "nan.npy", DType::kF16, 1, halves, 2).ok());
  ExpectError(OpenAndReadAll(dir / "nan.npy"), StatusCode::kCorruption, {"nan.npy", "record 1 component 0 is NaN"});
}

std::vector<uint8_t> Npy(const std::string& dict, size_t data_bytes) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h.push_back(' ');
  h.push_back('\n');
  out.push_back(static_cast<uint8_t>(h.size() & 0xFF));
  out.push_back(static_cast<uint8_t>(h.size() >> 8));
  out.insert(out.end(), h.begin(), h.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

TEST(DatasetErrors, NpyUnsupportedDtype) {
  TempDir dir;
  WriteBytes(dir / "f8.npy", Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48));
  ExpectError(OpenAndReadAll(dir / "f8.npy"), StatusCode::kNotSupported,
              {"f8.npy", "unsupported npy dtype '<f8'", "<f4"});
}

TEST(DatasetErrors, NpyFortranOrderAndShape) {
  TempDir dir;
  WriteBytes(dir / "f.npy", Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24));
  ExpectError(OpenAndReadAll(dir / "f.npy"), StatusCode::kNotSupported, {"f.npy", "Fortran order"});
  WriteBytes(dir / "s.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24));
  ExpectError(OpenAndReadAll(dir / "s.npy"), StatusCode::kNotSupported, {"s.npy", "1 dimensions", "2-D"});
  WriteBytes(dir / "c.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 24));
  ExpectError(OpenAndReadAll(dir / "c.npy"), StatusCode::kCorruption,
              {"c.npy", "npy shape (4, 3) needs 48 data bytes but the file holds 24"});
  WriteBytes(dir / "m.npy", {'N', 'O', 'P', 'E', 0, 0, 0, 0, 0, 0, 0, 0});
  ExpectError(OpenAndReadAll(dir / "m.npy"), StatusCode::kCorruption, {"m.npy", "bad magic"});
}

TEST(DatasetErrors, IdFileIsNotVectors) {
  TempDir dir;
  const int32_t ids[] = {1, 2};
  ASSERT_TRUE(WriteMatrix(dir / "g.ivecs", DType::kI32, 2, ids, 1).ok());
  ExpectError(ReadAllFloat(dir / "g.ivecs").status(), StatusCode::kInvalidArgument, {"g.ivecs", "int32 ids"});
  const float v[] = {1, 2};
  ASSERT_TRUE(WriteMatrix(dir / "v.fvecs", DType::kF32, 2, v, 1).ok());
  ExpectError(ReadAllIds(dir / "v.fvecs").status(), StatusCode::kInvalidArgument, {"v.fvecs", "not int32 ids"});
}

TEST(DatasetShared, ReadsSiftsmall) {
  const std::string path = testing::SharedData("siftsmall/siftsmall_base.fvecs");
  if (!testing::Exists(path)) GTEST_SKIP() << path << " not present";
  auto m = ReadAllFloat(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 10000u);
  EXPECT_EQ(m->dim, 128u);
  auto b = ReadAllFloat(testing::SharedData("bigann-10k/bigann-10k_base.bvecs"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->rows, 10000u);
}

}  // namespace
}  // namespace vx
