// vxctl demo: the main job on a small built-in dataset, for a first run on a
// fresh clone: generate a clustered set and queries, compute exact
// neighbours, build an HNSW index, and print the ef_search tuning table
// (recall, latency, QPS, SSD reads) served with a pool of 1/4 of the index.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "core/dataset.h"
#include "core/distance.h"
#include "core/exact_search.h"
#include "io/env.h"
#include "vx/index.h"
#include "vxctl/commands.h"

namespace vxctl {

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddDemo(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir = "vx-demo";
    uint64_t count = 20000;
    uint32_t dim = 64;
    uint64_t queries = 200;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("demo", "Run the main job on a small generated dataset");
  cmd->add_option("--dir", args->dir, "Working directory for the demo files")->capture_default_str();
  cmd->add_option("--count", args->count, "Base vectors")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{100}, uint64_t{1} << 26));
  cmd->add_option("--dim", args->dim, "Dimensions")->capture_default_str()->check(CLI::Range(1u, 4096u));
  cmd->add_option("--queries", args->queries, "Queries")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  cmd->callback([run, args] {
    *run = [args] {
      std::error_code ec;
      std::filesystem::create_directories(args->dir, ec);
      if (ec) return Fail(vx::Status::IOError(args->dir + ": " + ec.message()));
      const std::string base = args->dir + "/base.fbin", queries = args->dir + "/queries.fbin",
                        gt = args->dir + "/gt.ivecs", index = args->dir + "/index";
      vx::SynthParams p;
      p.dim = args->dim;
      p.clusters = 32;
      const vx::SyntheticGenerator gen(p);
      vx::Status s =
          WriteSynthetic(gen, vx::SyntheticGenerator::kBaseStream, args->count, args->dim, base, "demo base");
      if (s.ok()) {
        s = WriteSynthetic(gen, vx::SyntheticGenerator::kQueryStream, args->queries, args->dim, queries,
                           "demo queries");
      }
      if (!s.ok()) return Fail(s);

      auto q = vx::ReadAllFloat(queries);
      if (!q.ok()) return Fail(q.status());
      auto reader = vx::VectorReader::Open(base);
      if (!reader.ok()) return Fail(reader.status());
      vx::ExactSearchParams ep;
      ep.k = 10;
      auto exact = vx::ExactSearch(**reader, *q, ep);
      if (!exact.ok()) return Fail(exact.status());
      s = vx::WriteMatrix(gt, vx::DType::kI32, ep.k, exact->ids.data(), exact->num_queries);
      if (!s.ok()) return Fail(s);

      vx::BuildOptions bo;  // pgvector's defaults: m 16, ef_construction 64
      const auto t0 = std::chrono::steady_clock::now();
      s = vx::BuildIndex(base, index, bo);
      if (!s.ok()) return Fail(s);
      const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

      // Serve with a buffer pool of a quarter of the index's pages.
      auto opened = vx::Index::Open(index, vx::IndexOptions{});
      if (!opened.ok()) return Fail(opened.status());
      const vx::IndexInfo info = (*opened)->info();
      const uint64_t memory_mb = std::max<uint64_t>(1, (info.structure_bytes + info.vector_bytes) / 4 >> 20);
      fmt::print("vx demo ({} kernels, {} I/O)\n", vx::IsaName(vx::ActiveKernels().isa), vx::DefaultEnv()->Describe());
      fmt::print("  data     {} x {} float32 ({}), {} queries, exact top-10 -> {}\n", args->count, args->dim, base,
                 args->queries, gt);
      fmt::print("  index    hnsw m={} ef_construction={} codes {} in RAM, built in {:.1f} s -> {}\n", info.m,
                 info.ef_construction, info.quant, build_s, index);
      fmt::print("  on disk  {:.1f} MB; buffer pool {} MB; always in RAM {:.1f} MB\n\n",
                 (info.structure_bytes + info.vector_bytes) / 1e6, memory_mb, info.resident_bytes / 1e6);
      auto gt_ids = vx::ReadAllIds(gt);
      if (!gt_ids.ok()) return Fail(gt_ids.status());
      nlohmann::json rows = nlohmann::json::array();
      SweepOptions so;
      so.dir = index;
      so.knob = "ef_search";
      so.values = {10, 20, 40, 80, 160};
      so.threads = {1};
      so.memory_mb = memory_mb;
      so.target = 0.95;
      so.queries_source = queries;
      s = Sweep(so, *q, *gt_ids, &rows);
      if (!s.ok()) return Fail(s);
      return 0;
    };
  });
}

}  // namespace vxctl
