// vxctl demo: the main job on a small built-in dataset, for a first run on a
// fresh clone. Today: generate a clustered set and queries, compute exact
// neighbours, print a summary. (Index build and query join when they land.)
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "core/dataset.h"
#include "core/distance.h"
#include "core/exact_search.h"
#include "vxctl/commands.h"

namespace vxctl {

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
  cmd->add_option("--count", args->count, "Base vectors")->capture_default_str()->check(CLI::Range(uint64_t{100}, uint64_t{1} << 26));
  cmd->add_option("--dim", args->dim, "Dimensions")->capture_default_str()->check(CLI::Range(1u, 4096u));
  cmd->add_option("--queries", args->queries, "Queries")->capture_default_str()->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  cmd->callback([run, args] {
    *run = [args] {
      std::error_code ec;
      std::filesystem::create_directories(args->dir, ec);
      if (ec) return Fail(vx::Status::IOError(args->dir + ": " + ec.message()));
      const std::string base = args->dir + "/base.fbin", queries = args->dir + "/queries.fbin",
                        gt = args->dir + "/gt.ivecs";
      vx::SynthParams p;
      p.dim = args->dim;
      p.clusters = 32;
      const vx::SyntheticGenerator gen(p);
      vx::Status s = WriteSynthetic(gen, vx::SyntheticGenerator::kBaseStream, args->count,
                                    args->dim, base, "demo base");
      if (s.ok()) {
        s = WriteSynthetic(gen, vx::SyntheticGenerator::kQueryStream, args->queries, args->dim,
                           queries, "demo queries");
      }
      if (!s.ok()) return Fail(s);

      auto q = vx::ReadAllFloat(queries);
      if (!q.ok()) return Fail(q.status());
      auto reader = vx::VectorReader::Open(base);
      if (!reader.ok()) return Fail(reader.status());
      vx::ExactSearchParams ep;
      ep.k = 10;
      const auto t0 = std::chrono::steady_clock::now();
      auto exact = vx::ExactSearch(**reader, *q, ep);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!exact.ok()) return Fail(exact.status());
      s = vx::WriteMatrix(gt, vx::DType::kI32, ep.k, exact->ids.data(), exact->num_queries);
      if (!s.ok()) return Fail(s);

      fmt::print("vx demo ({} kernels)\n", vx::IsaName(vx::ActiveKernels().isa));
      fmt::print("  base     {} x {} float32  {}\n", args->count, args->dim, base);
      fmt::print("  queries  {}  {}\n", args->queries, queries);
      fmt::print("  exact top-{} (l2) by brute force: {:.1f} ms, {:.0f} queries/s -> {}\n", ep.k,
                 secs * 1e3, args->queries / secs, gt);
      fmt::print("  query 0 nearest: id {} at squared distance {:.3f}\n", exact->ids[0], exact->dists[0]);
      return 0;
    };
  });
}

}  // namespace vxctl
