// Durable WAL appends (fdatasync before each acknowledgement) by the number
// of appending threads: group commit lets one sync serve the appenders that
// arrived while the previous one ran. The log lives in $VX_BENCH_DIR (default
// /var/tmp), on the disk under test, never tmpfs. Counters: appends per
// second, appends per sync, and each thread's p50/p99 append latency
// (averaged over threads).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "io/env.h"
#include "io/wal.h"

namespace vx {
namespace {

struct Log {
  std::unique_ptr<Wal> wal;
};
// Set up by thread 0 before the loop's opening barrier, which every thread
// passes before using it.
Log* shared_log = nullptr;

void BM_WalDurableAppend(benchmark::State& state) {
  const size_t payload_bytes = static_cast<size_t>(state.range(0));
  if (state.thread_index() == 0) {
    const char* d = std::getenv("VX_BENCH_DIR");
    const std::string path = std::string(d != nullptr ? d : "/var/tmp") + "/vx_bench_wal";
    (void)DefaultEnv()->DeleteFile(path);
    auto wal = Wal::Open(DefaultEnv(), path, WalOptions{}, [](const WalRecord&) { return Status::Ok(); });
    if (!wal.ok()) {
      state.SkipWithError(wal.status().ToString().c_str());
      return;
    }
    shared_log = new Log{std::move(*wal)};
  }
  std::vector<uint8_t> payload(payload_bytes, static_cast<uint8_t>(state.thread_index()));
  std::vector<double> us;
  us.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto lsn = shared_log->wal->Append(1, payload);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (!lsn.ok()) {
      state.SkipWithError(lsn.status().ToString().c_str());
      break;
    }
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = benchmark::Counter(us[us.size() / 2], benchmark::Counter::kAvgThreads);
    state.counters["p99_us"] = benchmark::Counter(us[us.size() * 99 / 100], benchmark::Counter::kAvgThreads);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {  // after the loop's closing barrier: every thread is done
    const double appends = static_cast<double>(state.iterations()) * state.threads();
    state.counters["appends_per_sync"] = appends / static_cast<double>(std::max<uint64_t>(1, shared_log->wal->syncs()));
    delete shared_log;
    shared_log = nullptr;
  }
}
BENCHMARK(BM_WalDurableAppend)->Arg(512)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->Threads(16)->UseRealTime();

}  // namespace
}  // namespace vx

BENCHMARK_MAIN();
