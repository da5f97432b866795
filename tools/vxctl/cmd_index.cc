// Index commands: build, query, info. Thin layers over vx/index.h.
#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/dataset.h"
#include "core/parallel.h"
#include "vx/index.h"
#include "vxctl/commands.h"
#include "vxctl/progress.h"

namespace vxctl {
namespace {

using Clock = std::chrono::steady_clock;

double PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

}  // namespace

void AddBuild(CLI::App& app, RunFn* run) {
  struct Args {
    std::string type = "hnsw", base, metric = "l2", out, quant = "auto", storage = "f32";
    uint32_t m = 16, ef_construction = 64;
    int threads = 0;
    uint64_t build_memory_mb = 8192;
    size_t page_size = 4096;
    bool no_reorder = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("build", "Build an index directory from a vector file");
  cmd->add_option("--type", a->type, "Index type")->capture_default_str()->check(CLI::IsMember({"hnsw"}));
  cmd->add_option("--base", a->base, "Base vectors")->required();
  cmd->add_option("--metric", a->metric, "l2 | ip | cosine")->capture_default_str()->check(CLI::IsMember({"l2", "ip", "cosine"}));
  cmd->add_option("--out", a->out, "Index directory")->required();
  cmd->add_option("--m", a->m, "Links per node (2m on layer 0)")->capture_default_str()->check(CLI::Range(2u, 100u));
  cmd->add_option("--ef-construction", a->ef_construction, "Candidates per insertion")->capture_default_str()->check(CLI::Range(4u, 1000u));
  cmd->add_option("--quant", a->quant, "Codes in RAM: f16 | sq8 | pq:M | rabitq | auto (pq:dim/4)")->capture_default_str();
  cmd->add_option("--storage", a->storage, "Full vectors on SSD: f32 | f16")->capture_default_str()->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--build-memory", a->build_memory_mb,
                  "MB the build may hold (vectors + graph). A build that would exceed it is refused "
                  "before reading any vector; building larger than RAM is not supported yet")
      ->capture_default_str();
  cmd->add_option("--page-size", a->page_size, "Page size (raised to fit one vector)")->capture_default_str();
  cmd->add_flag("--no-reorder", a->no_reorder, "Keep base order instead of BFS renumbering");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::BuildOptions o;
      o.metric = vx::ParseMetric(a->metric).value();
      o.m = a->m;
      o.ef_construction = a->ef_construction;
      o.quant = a->quant;
      o.storage = vx::ParseElementType(a->storage).value();
      o.threads = a->threads;
      o.build_memory_bytes = a->build_memory_mb << 20;
      o.page_size = a->page_size;
      o.reorder = !a->no_reorder;
      std::unique_ptr<Progress> bar;
      std::string phase;
      o.progress = [&](uint64_t done, uint64_t total, const char* p) {
        if (phase != p) {
          if (bar) bar->Finish();
          phase = p;
          bar = std::make_unique<Progress>(std::string("build ") + p, total, "vectors");
        }
        bar->Update(done);
      };
      const auto t0 = Clock::now();
      vx::Status s = vx::BuildIndex(a->base, a->out, o);
      if (bar) bar->Finish();
      if (!s.ok()) return Fail(s);
      fmt::print("built {} in {:.1f} s (peak RSS {:.0f} MB)\n", a->out,
                 std::chrono::duration<double>(Clock::now() - t0).count(), PeakRssMb());
      return 0;
    };
  });
}

void AddQuery(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, queries, out, gt;
    uint32_t k = 10, ef_search = 40, rerank = 0, beam = 4;
    int threads = 1;
    uint64_t memory_mb = 64;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Search an index with a query file");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--queries", a->queries, "Query vectors")->required();
  cmd->add_option("--k", a->k, "Neighbours per query")->capture_default_str()->check(CLI::Range(1u, 10000u));
  cmd->add_option("--ef-search", a->ef_search, "Candidate list size (pgvector's hnsw.ef_search)")->capture_default_str()->check(CLI::Range(1u, 10000u));
  cmd->add_option("--rerank", a->rerank, "Candidates reranked with full vectors (0 = ef_search)")->capture_default_str();
  cmd->add_option("--beam", a->beam, "Nodes expanded per step (one batch of page reads)")->capture_default_str()->check(CLI::Range(1u, 256u));
  cmd->add_option("--threads", a->threads, "Query threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--memory", a->memory_mb, "Buffer pool MB (graph 3/4, vectors 1/4)")->capture_default_str()->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_option("--out", a->out, "Write result ids (.ivecs)");
  cmd->add_option("--gt", a->gt, "Ground truth (.ivecs) for recall@k");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::IndexOptions io;
      io.graph_cache_bytes = (a->memory_mb << 20) * 3 / 4;
      io.vector_cache_bytes = (a->memory_mb << 20) / 4;
      auto index = vx::Index::Open(a->dir, io);
      if (!index.ok()) return Fail(index.status());
      auto q = vx::ReadAllFloat(a->queries);
      if (!q.ok()) return Fail(q.status());
      if (q->dim != (*index)->info().dim) {
        return Fail(vx::Status::InvalidArgument(fmt::format("{} has {} dims, the index {}", a->queries, q->dim, (*index)->info().dim)));
      }
      vx::SearchParams sp{a->k, a->ef_search, a->rerank, a->beam};
      std::vector<std::vector<vx::SearchResult>> results(q->rows);
      std::vector<double> latency_us(q->rows);
      std::vector<vx::SearchStats> stats(a->threads);
      std::vector<vx::Status> errors(a->threads);
      std::atomic<uint64_t> next{0};
      const auto t0 = Clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < a->threads; ++t) {
        pool.emplace_back([&, t] {
          for (uint64_t i = next++; i < q->rows; i = next++) {
            const auto s = Clock::now();
            vx::Status st = (*index)->Search(q->row(i), sp, &results[i], &stats[t]);
            latency_us[i] = std::chrono::duration<double, std::micro>(Clock::now() - s).count();
            if (!st.ok()) {
              errors[t] = st;
              return;
            }
          }
        });
      }
      for (auto& th : pool) th.join();
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      for (const auto& e : errors) {
        if (!e.ok()) return Fail(e);
      }
      vx::SearchStats total;
      for (const auto& s : stats) total.Add(s);
      std::vector<double> sorted = latency_us;
      std::sort(sorted.begin(), sorted.end());
      auto pct = [&](double p) { return sorted[std::min<size_t>(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))]; };
      double recall = -1;
      if (!a->gt.empty()) {
        auto gt = vx::ReadAllIds(a->gt);
        if (!gt.ok()) return Fail(gt.status());
        if (gt->rows != q->rows || gt->dim < a->k) return Fail(vx::Status::InvalidArgument(a->gt + ": wrong shape for these queries and k"));
        uint64_t hits = 0;
        for (uint64_t i = 0; i < q->rows; ++i) {
          for (const auto& r : results[i]) hits += std::count(gt->row(i), gt->row(i) + a->k, static_cast<int32_t>(r.id));
        }
        recall = double(hits) / (double(q->rows) * a->k);
      }
      if (!a->out.empty()) {
        std::vector<int32_t> ids(q->rows * a->k, -1);
        for (uint64_t i = 0; i < q->rows; ++i) {
          for (size_t j = 0; j < results[i].size(); ++j) ids[i * a->k + j] = static_cast<int32_t>(results[i][j].id);
        }
        vx::Status s = vx::WriteMatrix(a->out, vx::DType::kI32, a->k, ids.data(), q->rows);
        if (!s.ok()) return Fail(s);
      }
      const double nq = double(q->rows);
      nlohmann::json j = {{"index", a->dir}, {"queries", q->rows}, {"k", a->k}, {"ef_search", a->ef_search},
                          {"rerank", a->rerank ? a->rerank : a->ef_search}, {"beam", a->beam}, {"threads", a->threads},
                          {"memory_mb", a->memory_mb}, {"qps", nq / secs}, {"latency_us_p50", pct(0.5)},
                          {"latency_us_p95", pct(0.95)}, {"latency_us_p99", pct(0.99)},
                          {"ssd_reads_per_query", (total.graph_reads + total.vector_reads) / nq},
                          {"graph_reads_per_query", total.graph_reads / nq}, {"vector_reads_per_query", total.vector_reads / nq},
                          {"round_trips_per_query", total.round_trips / nq},
                          {"graph_hit_ratio", total.graph_pages ? 1.0 - double(total.graph_reads) / total.graph_pages : 0.0},
                          {"vector_hit_ratio", total.vector_pages ? 1.0 - double(total.vector_reads) / total.vector_pages : 0.0},
                          {"codes_scored_per_query", total.codes_scored / nq}, {"peak_rss_mb", PeakRssMb()}};
      if (recall >= 0) j[fmt::format("recall@{}", a->k)] = recall;
      if (a->json) {
        fmt::print("{}\n", j.dump(2));
        return 0;
      }
      fmt::print("queries {}  k {}  ef_search {}  threads {}  pool {} MB\n", q->rows, a->k, a->ef_search, a->threads, a->memory_mb);
      if (recall >= 0) fmt::print("recall@{}          {:.4f}\n", a->k, recall);
      fmt::print("QPS                {:.0f}\n", nq / secs);
      fmt::print("latency p50/p95/p99 {:.0f} / {:.0f} / {:.0f} us\n", pct(0.5), pct(0.95), pct(0.99));
      fmt::print("SSD reads/query    {:.2f} (graph {:.2f}, vector {:.2f})\n", (total.graph_reads + total.vector_reads) / nq,
                 total.graph_reads / nq, total.vector_reads / nq);
      fmt::print("round trips/query  {:.2f}\n", total.round_trips / nq);
      fmt::print("hit ratio          graph {:.3f}, vector {:.3f}\n", j["graph_hit_ratio"].get<double>(), j["vector_hit_ratio"].get<double>());
      fmt::print("peak RSS           {:.0f} MB\n", PeakRssMb());
      return 0;
    };
  });
}

void AddInfo(CLI::App& app, RunFn* run) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Parameters, sizes and memory needs of an index");
  cmd->add_option("dir", *dir, "Index directory")->required();
  cmd->callback([run, dir] {
    *run = [dir]() -> int {
      vx::IndexOptions io;
      io.graph_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto index = vx::Index::Open(*dir, io);
      if (!index.ok()) return Fail(index.status());
      const vx::IndexInfo& i = (*index)->info();
      const double n = double(i.count);
      fmt::print("{}: {} index, {} vectors x {} dims, metric {}\n", *dir, i.type, i.count, i.dim, vx::MetricName(i.metric));
      fmt::print("  m {}  ef_construction {}  levels {}  page {} B\n", i.m, i.ef_construction, i.max_level + 1, i.page_size);
      fmt::print("  codes {} in RAM; vectors {} on SSD\n", i.quant, vx::ElementTypeName(i.storage));
      fmt::print("  on disk: graph {:.1f} MB, vectors {:.1f} MB ({:.1f} bytes/vector)\n", i.graph_bytes / 1e6,
                 i.vector_bytes / 1e6, (i.graph_bytes + i.vector_bytes) / n);
      fmt::print("  always in RAM: {:.1f} MB ({:.1f} bytes/vector: codes, upper layers, ids)\n", i.resident_bytes / 1e6, i.resident_bytes / n);
      for (double ratio : {0.0, 0.1, 0.25, 1.0}) {
        fmt::print("  to serve with {:>3.0f}% of the graph cached: {:.1f} MB + per-query scratch\n", ratio * 100,
                   (i.resident_bytes + ratio * i.graph_bytes) / 1e6);
      }
      return 0;
    };
  });
}

}  // namespace vxctl
