// Every kernel set the CPU supports, against a double-precision reference.
//
// Error bound: a float sum of d terms computed in any order (SIMD lanes, FMA)
// is within (d + 4) * eps * sum|term| of the exact sum, eps = 2^-23 (the
// classic gamma_d bound, with slack for the final reduction). The test checks
//   l2, ip:  |got - ref| <= (d + 4) * eps * S,   S = sum |term_i|
//   cosine:  |got - ref| <= (d + 8) * eps * (S / (|q||x|) + 1)
// where term_i is (q_i - x_i)^2 for l2 and q_i * x_i otherwise.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "core/distance.h"
#include "core/f16.h"

namespace vx {
namespace {

std::vector<size_t> TestDims() {
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 70; ++d) dims.push_back(d);
  for (size_t d : {96, 127, 128, 129, 255, 256, 257, 383, 511, 512, 768, 1000, 1023, 1024, 1536, 2047, 2048}) {
    dims.push_back(d);
  }
  return dims;
}

double ToDouble(ElementType t, const std::vector<uint8_t>& raw, size_t i) {
  switch (t) {
    case ElementType::kF32:
      return reinterpret_cast<const float*>(raw.data())[i];
    case ElementType::kF16:
      return HalfToFloat(reinterpret_cast<const uint16_t*>(raw.data())[i]);
    case ElementType::kU8:
      return raw[i];
    case ElementType::kI8:
      return static_cast<int8_t>(raw[i]);
  }
  return 0;
}

struct Data {
  std::vector<float> q;
  std::vector<uint8_t> x;  // n rows of stored type
};

Data MakeData(ElementType t, size_t d, size_t n, std::mt19937& rng) {
  Data data;
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const bool integer = t == ElementType::kU8 || t == ElementType::kI8;
  data.q.resize(d);
  for (float& v : data.q) v = integer ? static_cast<float>(byte(rng) - (t == ElementType::kI8 ? 128 : 0)) : g(rng);
  data.x.resize(n * d * ElementSize(t));
  for (size_t i = 0; i < n * d; ++i) {
    switch (t) {
      case ElementType::kF32:
        reinterpret_cast<float*>(data.x.data())[i] = g(rng);
        break;
      case ElementType::kF16:
        reinterpret_cast<uint16_t*>(data.x.data())[i] = FloatToHalf(g(rng));
        break;
      case ElementType::kU8:
      case ElementType::kI8:
        data.x[i] = static_cast<uint8_t>(byte(rng));
        break;
    }
  }
  return data;
}

// Exact distance in double and the bound the float kernel must meet.
void Reference(Metric m, ElementType t, const Data& data, size_t row, size_t d, double* ref, double* bound) {
  double l2 = 0, dot = 0, abs_dot = 0, qn = 0, xn = 0;
  for (size_t i = 0; i < d; ++i) {
    const double q = data.q[i], x = ToDouble(t, data.x, row * d + i);
    l2 += (q - x) * (q - x);
    dot += q * x;
    abs_dot += std::fabs(q * x);
    qn += q * q;
    xn += x * x;
  }
  const double eps = FLT_EPSILON;
  switch (m) {
    case Metric::kL2:
      *ref = l2;
      *bound = (d + 4) * eps * l2;
      break;
    case Metric::kInnerProduct:
      *ref = -dot;
      *bound = (d + 4) * eps * abs_dot;
      break;
    case Metric::kCosine: {
      const double denom = std::sqrt(qn) * std::sqrt(xn);
      *ref = denom == 0 ? 1.0 : 1.0 - dot / denom;
      *bound = (d + 8) * eps * (denom == 0 ? 1.0 : abs_dot / denom + 1.0);
      break;
    }
  }
}

class DistanceTest : public ::testing::TestWithParam<Isa> {};

TEST_P(DistanceTest, MatchesDoubleReferenceOverAwkwardDimensions) {
  const KernelTable* table = KernelTableFor(GetParam());
  if (table == nullptr) GTEST_SKIP() << IsaName(GetParam()) << " is not supported by this CPU";
  std::mt19937 rng(7);
  constexpr size_t kRows = 3;
  for (ElementType t : {ElementType::kF32, ElementType::kF16, ElementType::kU8, ElementType::kI8}) {
    for (size_t d : TestDims()) {
      const Data data = MakeData(t, d, kRows, rng);
      for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        auto qd = QueryDistance::Make(m, t, data.q.data(), d, *table);
        if (m == Metric::kCosine && !qd.ok()) continue;  // an all-zero integer query
        ASSERT_TRUE(qd.ok()) << qd.status().ToString();
        float many[kRows];
        qd->Many(data.x.data(), kRows, many);
        for (size_t r = 0; r < kRows; ++r) {
          double ref, bound;
          Reference(m, t, data, r, d, &ref, &bound);
          const float one = (*qd)(data.x.data() + r * d * ElementSize(t));
          EXPECT_NEAR(one, ref, bound) << IsaName(GetParam()) << " " << MetricName(m) << " " << ElementTypeName(t)
                                       << " d=" << d << " row " << r;
          EXPECT_EQ(one, many[r]) << "one-to-many differs from one-to-one: " << MetricName(m) << " "
                                  << ElementTypeName(t) << " d=" << d;
        }
      }
    }
  }
}

// The integer u8 x i8 dot product is exact on every ISA (VNNI where the CPU
// has it): equal to a 64-bit reference at every length from 0 to 300 and at
// 65536, the largest dimension, with the extreme values 255 and -128/127.
TEST_P(DistanceTest, IntegerDotOfU8CodesAndAnI8QueryIsExact) {
  const KernelTable* table = KernelTableFor(GetParam());
  if (table == nullptr) GTEST_SKIP() << IsaName(GetParam()) << " is not supported by this CPU";
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> u8(0, 255), i8(-128, 127);
  std::vector<size_t> lengths(301);
  for (size_t d = 0; d <= 300; ++d) lengths[d] = d;
  lengths.push_back(65536);
  for (size_t d : lengths) {
    for (int fill = 0; fill < 3; ++fill) {
      std::vector<uint8_t> x(d);
      std::vector<int8_t> q(d);
      for (size_t i = 0; i < d; ++i) {
        x[i] = static_cast<uint8_t>(fill == 0 ? u8(rng) : 255);
        q[i] = static_cast<int8_t>(fill == 0 ? i8(rng) : fill == 1 ? 127 : -128);
      }
      int64_t want = 0;
      for (size_t i = 0; i < d; ++i) want += int64_t{x[i]} * q[i];
      ASSERT_EQ(table->dot_u8_i8(x.data(), q.data(), d), want) << IsaName(GetParam()) << " d=" << d << " fill " << fill;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, DistanceTest, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

TEST(DistanceDispatch, ActiveIsTheBestSupported) {
  const KernelTable& active = ActiveKernels();
  ASSERT_NE(KernelTableFor(active.isa), nullptr);
  if (std::getenv("VX_KERNELS") == nullptr) {
    for (int i = static_cast<int>(active.isa) + 1; i <= static_cast<int>(Isa::kAvx512); ++i) {
      EXPECT_EQ(KernelTableFor(static_cast<Isa>(i)), nullptr)
          << IsaName(static_cast<Isa>(i)) << " is supported but not chosen";
    }
  }
}

TEST(DistanceDispatch, ScalarAndSimdAgreeOnExactIntegerData) {
  // Integer data with small sums is exact in float whatever the order: all
  // kernel sets must then return identical values.
  std::vector<float> q(131);
  std::vector<uint8_t> x(131);
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = static_cast<float>(i % 7);
    x[i] = static_cast<uint8_t>((i * 5) % 11);
  }
  const float want = (*QueryDistance::Make(Metric::kL2, ElementType::kU8, q.data(), q.size(),
                                           *KernelTableFor(Isa::kScalar)))(x.data());
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (const KernelTable* t = KernelTableFor(isa)) {
      EXPECT_EQ((*QueryDistance::Make(Metric::kL2, ElementType::kU8, q.data(), q.size(), *t))(x.data()), want)
          << IsaName(isa);
    }
  }
}

TEST(QueryDistance, RejectsZeroCosineQueryAndZeroDim) {
  std::vector<float> zero(8, 0.0f);
  auto r = QueryDistance::Make(Metric::kCosine, ElementType::kF32, zero.data(), 8);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("zero query"), std::string::npos);
  EXPECT_FALSE(QueryDistance::Make(Metric::kL2, ElementType::kF32, zero.data(), 0).ok());
  // l2 and ip are defined for a zero query.
  EXPECT_TRUE(QueryDistance::Make(Metric::kL2, ElementType::kF32, zero.data(), 8).ok());
}

TEST(QueryDistance, CosineAgainstZeroStoredVectorIsOne) {
  std::vector<float> q = {1, 2, 3}, x = {0, 0, 0};
  EXPECT_EQ((*QueryDistance::Make(Metric::kCosine, ElementType::kF32, q.data(), 3))(x.data()), 1.0f);
}

TEST(Half, RoundTripsEveryNonNanValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) continue;  // NaN payloads
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Half, RoundsToNearestEvenAndSaturatesToInf) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);                          // halfway to the next power: Inf
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);             // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);             // tie to even: 0
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie to even: down
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie to even: up
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
}

}  // namespace
}  // namespace vx
