// vxctl bench-io: the NVMe harness's device check. Random page reads of a file
// through vx's own reader (io_uring at a sustained queue depth, or pread
// threads where io_uring is unavailable) and through the buffer pool with a
// budget far below the file size, at each queue depth: IOPS, MB/s, p50/p99.
// Compare with fio on the same file (perf/bench_io_vs_fio.sh does both).
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <cstring>

#include "core/posix.h"

#include "io/buffer_pool.h"
#include "io/env.h"
#include "io/uring.h"
#include "vxctl/commands.h"
#include "vxctl/progress.h"

namespace vxctl {

double Quantile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(q * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  std::string mode;
  int qd = 0;
  double seconds = 0;
  uint64_t reads = 0;
  double p50_us = 0, p99_us = 0;
  double hit_ratio = -1;  // pool only
  double iops() const { return reads / seconds; }
};

// Keeps `qd` reads in flight on one io_uring for `secs` seconds.
vx::Result<Figures> UringRun(int fd, uint64_t pages, size_t page_size, int qd, double secs) {
  VX_ASSIGN_OR_RETURN(vx::IoQueue * q, vx::IoQueue::ForThisThread());
  std::mt19937_64 rng(qd);
  vx::AlignedBuffer buf(page_size * qd);
  std::vector<Clock::time_point> started(qd);
  std::vector<float> lat;
  lat.reserve(1 << 20);
  Figures f{"reader", qd};
  auto queue = [&](int slot) {
    started[slot] = Clock::now();
    q->Queue(fd, buf.data() + slot * page_size, static_cast<unsigned>(page_size), (rng() % pages) * page_size, slot);
  };
  for (int s = 0; s < qd; ++s) queue(s);
  q->Submit();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(secs));
  int in_flight = qd;
  vx::Status err;
  bool stopping = false;
  while (in_flight > 0) {
    const int rc = q->Reap(1, [&](uint64_t slot, int res) {
      --in_flight;
      const auto now = Clock::now();
      if (res < 0 && err.ok()) err = vx::ErrnoStatus("bench-io read", -res);
      lat.push_back(std::chrono::duration<float, std::micro>(now - started[slot]).count());
      ++f.reads;
      if (!stopping && now < end) {
        queue(static_cast<int>(slot));
        ++in_flight;
      }
    });
    if (rc < 0) return vx::ErrnoStatus("io_uring wait", -rc);
    if (!err.ok()) stopping = true;
    if (Clock::now() >= end) stopping = true;
    q->Submit();
  }
  if (!err.ok()) return err;
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  f.p50_us = Quantile(lat, 0.5);
  f.p99_us = Quantile(lat, 0.99);
  return f;
}

// `qd` threads of blocking reads (the pread fallback's queue depth).
vx::Result<Figures> ThreadRun(vx::File* file, uint64_t pages, size_t page_size, int qd, double secs) {
  Figures f{"reader", qd};
  std::vector<std::vector<float>> lat(qd);
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(secs));
  std::vector<std::thread> threads;
  for (int t = 0; t < qd; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      vx::AlignedBuffer buf(page_size);
      while (Clock::now() < end && !failed) {
        const auto s = Clock::now();
        size_t got;
        if (!file->Read((rng() % pages) * page_size, page_size, buf.data(), &got).ok()) failed = true;
        lat[t].push_back(std::chrono::duration<float, std::micro>(Clock::now() - s).count());
      }
    });
  }
  for (auto& th : threads) th.join();
  if (failed) return vx::Status::IOError(file->path() + ": read failed during bench-io");
  std::vector<float> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  f.reads = all.size();
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  f.p50_us = Quantile(all, 0.5);
  f.p99_us = Quantile(all, 0.99);
  return f;
}

// Batches of `qd` random pages pinned through the pool (the beam of a walk).
vx::Result<Figures> PoolRun(vx::File* file, uint64_t pages, size_t page_size, uint64_t pool_bytes, int qd,
                            double secs) {
  vx::BufferPoolOptions o;
  o.page_size = page_size;
  o.budget_bytes = {page_size, pool_bytes};
  VX_ASSIGN_OR_RETURN(auto pool, vx::BufferPool::Create(o));
  if (pool->CapacityPages(vx::PageClass::kVector) < static_cast<size_t>(qd)) {
    return vx::Status::InvalidArgument("--memory holds fewer pages than queue depth " + std::to_string(qd));
  }
  VX_ASSIGN_OR_RETURN(const vx::FileId id, pool->AddFile(file, vx::PageClass::kVector, vx::PageType::kVector, 0));
  std::mt19937_64 rng(qd);
  std::vector<float> lat;
  Figures f{"pool", qd};
  std::vector<vx::PageRef> refs(qd);
  std::vector<vx::PageHandle> handles;
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(secs));
  uint64_t pins = 0;
  while (Clock::now() < end) {
    for (auto& r : refs) r = vx::PageRef{id, vx::PageNo{1 + rng() % (pages - 1)}};
    const auto s = Clock::now();
    VX_RETURN_IF_ERROR(pool->PinBatch(refs, &handles));
    lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - s).count());
    handles.clear();
    pins += qd;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const vx::PoolStats st = pool->Stats(vx::PageClass::kVector);
  f.reads = pins;  // pins per second is the figure for the pool
  f.hit_ratio = st.HitRatio();
  f.p50_us = Quantile(lat, 0.5);
  f.p99_us = Quantile(lat, 0.99);
  return f;
}

// Writes a file of sealed vector pages (page 0 included) for the pool run.
vx::Status CreatePagedFile(vx::Env* env, const std::string& path, uint64_t mb, size_t page_size) {
  VX_ASSIGN_OR_RETURN(
      auto f,
      env->OpenFile(path + ".tmp", vx::OpenOptions{.write = true, .create = true, .truncate = true, .direct = true}));
  const uint64_t pages = (mb << 20) / page_size;
  constexpr uint64_t kChunk = 256;
  vx::AlignedBuffer buf(kChunk * page_size);
  std::mt19937_64 rng(1);
  Progress progress("bench-io create", pages, "pages");
  for (uint64_t p = 0; p < pages; p += kChunk) {
    const uint64_t n = std::min(kChunk, pages - p);
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t* page = buf.data() + i * page_size;
      for (size_t j = vx::kPageHeaderSize; j < page_size; j += 8) {
        const uint64_t v = rng();
        std::memcpy(page + j, &v, 8);
      }
      vx::SealPage(page, page_size, vx::PageType::kVector, vx::PageNo{p + i}, 0);
    }
    VX_RETURN_IF_ERROR(f->Write(p * page_size, buf.data(), n * page_size));
    progress.Update(p + n);
  }
  VX_RETURN_IF_ERROR(f->Sync());
  progress.Finish();
  VX_RETURN_IF_ERROR(env->RenameFile(path + ".tmp", path));
  return env->SyncDir(vx::DirName(path));
}

}  // namespace

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddBenchIo(CLI::App& app, RunFn* run) {
  struct Args {
    std::string file;
    std::vector<int> qd = {1, 4, 16, 32, 64};
    double seconds = 5;
    size_t page_size = 4096;
    uint64_t memory_mb = 0;
    uint64_t create_mb = 0;
    JsonOut json;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench-io", "Random page reads: vx's reader and buffer pool at each queue depth");
  cmd->add_option("file", args->file, "File to read (O_DIRECT)")->required();
  cmd->add_option("--qd", args->qd, "Queue depths")->delimiter(',')->check(CLI::Range(1, 256));
  cmd->add_option("--seconds", args->seconds, "Seconds per queue depth")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--page-size", args->page_size, "Page size in bytes")->capture_default_str();
  cmd->add_option("--memory", args->memory_mb,
                  "Also read through a buffer pool of this many MB, as an index served with --memory MB would (FILE "
                  "must be vx pages)");
  cmd->add_option("--create-mb", args->create_mb, "First write FILE as this many MB of sealed vx pages");
  AddJsonOption(cmd, &args->json);
  cmd->callback([run, args] {
    *run = [args]() -> int {
      vx::Status s = vx::ValidatePageSize(args->page_size);
      if (!s.ok()) return Usage("--page-size: " + s.message());
      vx::Env* env = vx::DefaultEnv();
      if (args->create_mb > 0) {
        s = CreatePagedFile(env, args->file, args->create_mb, args->page_size);
        if (!s.ok()) return Fail(s);
      }
      auto file = env->OpenFile(args->file, vx::OpenOptions{.direct = true});
      if (!file.ok()) return Fail(file.status());
      auto size = (*file)->Size();
      if (!size.ok()) return Fail(size.status());
      const uint64_t pages = *size / args->page_size;
      if (pages < 2) return Fail(vx::Status::InvalidArgument(args->file + ": smaller than two pages"));
      const bool uring = env->Describe() == "io_uring";
      if (!uring) fmt::print(stderr, "vxctl: note: {}; queue depth = reader threads\n", env->Describe());

      // The raw fd for the io_uring loop: reopen with O_DIRECT.
      const int fd = ::open(args->file.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
      if (fd < 0) return Fail(vx::ErrnoStatus(args->file, errno));
      vx::FileDescriptor guard(fd);
      std::vector<Figures> rows;
      for (int qd : args->qd) {
        auto r = uring ? UringRun(fd, pages, args->page_size, qd, args->seconds)
                       : ThreadRun(file->get(), pages, args->page_size, qd, args->seconds);
        if (!r.ok()) return Fail(r.status());
        rows.push_back(*r);
      }
      if (args->memory_mb > 0) {
        for (int qd : args->qd) {
          auto r = PoolRun(file->get(), pages, args->page_size, args->memory_mb << 20, qd, args->seconds);
          if (!r.ok()) return Fail(r.status());
          rows.push_back(*r);
        }
      }
      if (args->json.wanted()) {
        nlohmann::json j;
        j["file"] = args->file;
        j["file_bytes"] = *size;
        j["page_size"] = args->page_size;
        j["backend"] = env->Describe();
        j["memory_mb"] = args->memory_mb;
        for (const Figures& f : rows) {
          nlohmann::json r = {{"mode", f.mode},        {"qd", f.qd},
                              {"ops_per_s", f.iops()}, {"mb_per_s", f.iops() * args->page_size / 1e6},
                              {"p50_us", f.p50_us},    {"p99_us", f.p99_us}};
          if (f.hit_ratio >= 0) r["hit_ratio"] = f.hit_ratio;
          j["runs"].push_back(r);
        }
        s = args->json.Write(j);
        return s.ok() ? 0 : Fail(s);
      }
      fmt::print("bench-io {} ({:.1f} GB, {} B pages, {}{})\n", args->file, *size / 1e9, args->page_size,
                 env->Describe(), args->memory_mb ? fmt::format(", pool {} MB", args->memory_mb) : "");
      fmt::print("{:<8}{:>5}{:>12}{:>10}{:>10}{:>10}{:>8}\n", "mode", "qd", "IOPS", "MB/s", "p50 us", "p99 us", "hit");
      for (const Figures& f : rows) {
        fmt::print("{:<8}{:>5}{:>12.0f}{:>10.1f}{:>10.1f}{:>10.1f}{:>8}\n", f.mode, f.qd, f.iops(),
                   f.iops() * args->page_size / 1e6, f.p50_us, f.p99_us,
                   f.hit_ratio >= 0 ? fmt::format("{:.3f}", f.hit_ratio) : "");
      }
      if (args->memory_mb) fmt::print("(pool rows: IOPS = pages pinned per second; latency per batch of qd pins)\n");
      return 0;
    };
  });
}

}  // namespace vxctl
