// Distance kernel micro-benchmarks: one query against a block of stored
// vectors (the shape of a rerank or a list scan), per ISA, element type and
// dimension. Counters: ns per distance and GB/s of stored vectors streamed.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/distance.h"
#include "core/f16.h"
#include "quant/quantizer.h"

namespace vx {
namespace {

// The kernels of `isa`, or null after marking the run skipped.
const KernelTable* TableOrSkip(benchmark::State& state, Isa isa) {
  const KernelTable* table = KernelTableFor(isa);
  if (table == nullptr) state.SkipWithError("ISA not supported on this CPU");
  return table;
}

// Stored vectors a run scores: ~1 MiB, L2-resident for small d, like a hot block.
size_t BlockRows(size_t vector_bytes) { return std::max<size_t>(64, (1u << 20) / vector_bytes); }

// ns per distance, and bytes of stored vectors streamed per second.
void Count(benchmark::State& state, size_t n, size_t vector_bytes) {
  const double distances = static_cast<double>(state.iterations()) * n;
  // kIsRate divides by seconds; kInvert turns distances/ns into ns/distance.
  state.counters["ns_per_dist"] =
      benchmark::Counter(distances * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<int64_t>(distances));
  state.SetBytesProcessed(static_cast<int64_t>(distances * vector_bytes));
}

void BM_Distance(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  const auto type = static_cast<ElementType>(state.range(1));
  const auto metric = static_cast<Metric>(state.range(2));
  const size_t dim = static_cast<size_t>(state.range(3));
  const KernelTable* table = TableOrSkip(state, isa);
  if (table == nullptr) return;
  const size_t n = BlockRows(dim * ElementSize(type));
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  std::vector<float> q(dim);
  for (float& v : q) v = g(rng);
  std::vector<uint8_t> base(n * dim * ElementSize(type));
  for (size_t i = 0; i < n * dim; ++i) {
    if (type == ElementType::kF32)
      reinterpret_cast<float*>(base.data())[i] = g(rng);
    else if (type == ElementType::kF16)
      reinterpret_cast<uint16_t*>(base.data())[i] = FloatToHalf(g(rng));
    else
      base[i] = static_cast<uint8_t>(rng());
  }
  auto qd = QueryDistance::Make(metric, type, q.data(), dim, *table);
  std::vector<float> out(n);
  for (auto _ : state) {
    qd->Many(base.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  Count(state, n, dim * ElementSize(type));
  state.SetLabel(std::string(IsaName(isa)) + " " + ElementTypeName(type) + " " + MetricName(metric));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int isa : {0, 1, 2}) {
    for (int type : {0, 1, 2}) {   // f32, f16, u8
      for (int metric : {0, 1}) {  // l2, ip (cosine = ip + one norm)
        for (int dim : {96, 128, 768, 1536}) b->Args({isa, type, metric, dim});
      }
    }
  }
}
BENCHMARK(BM_Distance)->Apply(Args)->ArgNames({"isa", "type", "metric", "dim"});

// SQ8's score of one code, as a search makes it (one kernel call a code):
// `integer` 1, the u8 codes against the query rounded to i8, summed in
// integers (KernelTable::dot_u8_i8; VNNI where the CPU has it); 0, the float
// u8 inner product it replaced.
void BM_Sq8Score(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  const bool integer = state.range(1) != 0;
  const size_t dim = static_cast<size_t>(state.range(2));
  const KernelTable* table = TableOrSkip(state, isa);
  if (table == nullptr) return;
  const size_t n = BlockRows(dim);
  std::mt19937 rng(1);
  std::vector<float> qf(dim);
  std::vector<int8_t> q8(dim);
  for (size_t i = 0; i < dim; ++i) {
    q8[i] = static_cast<int8_t>(rng());
    qf[i] = q8[i] * 0.01f;
  }
  std::vector<uint8_t> base(n * dim);
  for (uint8_t& v : base) v = static_cast<uint8_t>(rng());
  const OneFn float_dot = table->one[static_cast<int>(Metric::kInnerProduct)][static_cast<int>(ElementType::kU8)];
  std::vector<float> out(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* code = base.data() + i * dim;
      out[i] = integer ? 0.01f * static_cast<float>(table->dot_u8_i8(code, q8.data(), dim))
                       : float_dot(qf.data(), 0, code, dim);
    }
    benchmark::DoNotOptimize(out.data());
  }
  Count(state, n, dim);
  state.SetLabel(std::string(IsaName(isa)) + (integer ? " u8 x i8" : " u8 x f32"));
}
BENCHMARK(BM_Sq8Score)->ArgsProduct({{0, 1, 2}, {0, 1}, {96, 128, 768, 1536}})->ArgNames({"isa", "integer", "dim"});

// A quantizer's score of one code through its API, as a search's walk makes
// them (Score, one call a code), on 4,096 codes of normal random rows:
// sq8 and RaBitQ at 1, 2 and 4 bits a dimension, with the kernels this CPU
// runs.
void BM_CodeScore(benchmark::State& state) {
  static const char* const kSpecs[] = {"sq8", "rabitq:1", "rabitq:2", "rabitq:4"};
  const char* name = kSpecs[state.range(0)];
  const uint32_t dim = static_cast<uint32_t>(state.range(1));
  constexpr size_t n = 4096;
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  std::vector<float> rows(n * dim), q(dim);
  for (float& v : rows) v = g(rng);
  for (float& v : q) v = g(rng);
  auto quantizer = Quantizer::Create(ParseQuantSpec(name).value(), Metric::kL2, dim);
  if (!quantizer.ok() || !(*quantizer)->Train(rows.data(), n, TrainParams{}).ok()) {
    state.SkipWithError("could not train");
    return;
  }
  const size_t cs = (*quantizer)->code_size();
  std::vector<uint8_t> codes(n * cs);
  if (!(*quantizer)->Encode(rows.data(), n, codes.data()).ok()) return state.SkipWithError("could not encode");
  PreparedQuery pq;
  if (!(*quantizer)->Prepare(q.data(), &pq).ok()) return state.SkipWithError("could not prepare");
  std::vector<float> out(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) out[i] = (*quantizer)->Score(pq, codes.data() + i * cs);
    benchmark::DoNotOptimize(out.data());
  }
  Count(state, n, cs);
  state.SetLabel(std::string(name) + " " + IsaName(ActiveKernels().isa));
}
BENCHMARK(BM_CodeScore)->ArgsProduct({{0, 1, 2, 3}, {96, 128, 768, 1536}})->ArgNames({"codes", "dim"});

}  // namespace
}  // namespace vx

BENCHMARK_MAIN();
