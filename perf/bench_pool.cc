// The buffer pool's hit path: lookup, pin, unpin of a resident page.
#include <benchmark/benchmark.h>

#include <random>

#include "io/buffer_pool.h"
#include "io/env.h"

namespace vx {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kPages = 1024;

struct Fixture {
  std::unique_ptr<Env> env = NewMemEnv();
  std::unique_ptr<File> file;
  std::unique_ptr<BufferPool> pool;
  FileId id{};
  Fixture() {
    file = env->OpenFile("/pages", OpenOptions{.write = true, .create = true}).value();
    std::vector<uint8_t> page(kPage);
    for (uint64_t p = 0; p < kPages; ++p) {
      SealPage(page.data(), kPage, PageType::kGraph, PageNo{p}, 0);
      (void)file->Write(p * kPage, page.data(), kPage);
    }
    BufferPoolOptions o;
    o.budget_bytes = {kPages * kPage, kPage};
    pool = BufferPool::Create(o).value();
    id = pool->AddFile(file.get(), PageClass::kStructure, PageType::kGraph, 0).value();
    for (uint64_t p = 0; p < kPages; ++p) (void)pool->Pin(PageRef{id, PageNo{p}}).value();
  }
};

void BM_PoolHit(benchmark::State& state) {
  static Fixture* f = new Fixture();  // shared by the benchmark's threads
  std::mt19937 rng(static_cast<unsigned>(state.thread_index()));
  std::vector<uint64_t> pages(4096);
  for (auto& p : pages) p = rng() % kPages;
  size_t i = 0;
  for (auto _ : state) {
    auto h = f->pool->Pin(PageRef{f->id, PageNo{pages[i++ & 4095]}});
    benchmark::DoNotOptimize(h.value().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolHit)->Threads(1)->Threads(2);

}  // namespace
}  // namespace vx

BENCHMARK_MAIN();
