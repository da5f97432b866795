// Index commands: build, query, info. Thin layers over vx/index.h.
#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
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

// One pass of all queries on `threads` threads, and what it measured.
struct Run {
  std::vector<std::vector<vx::SearchResult>> results;
  std::vector<double> latency_us;  // sorted
  vx::SearchStats stats;
  double seconds = 0;
  double Pct(double p) const {
    if (latency_us.empty()) return 0;
    return latency_us[std::min<size_t>(latency_us.size() - 1, static_cast<size_t>(p * latency_us.size()))];
  }
  double PerQuery(uint64_t v) const { return double(v) / results.size(); }
  double Qps() const { return results.size() / seconds; }
};

// `source` names the queries' file in an error.
vx::Result<Run> RunQueries(const vx::Index& index, const vx::FloatMatrix& q, const std::string& source,
                           const vx::SearchParams& sp, int threads) {
  Run run;
  run.results.resize(q.rows);
  run.latency_us.resize(q.rows);
  std::vector<vx::SearchStats> stats(threads);
  std::vector<vx::Status> errors(threads);
  std::atomic<uint64_t> next{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = next++; i < q.rows; i = next++) {
        const auto s = Clock::now();
        vx::Status st = index.Search(q.row(i), sp, &run.results[i], &stats[t]);
        run.latency_us[i] = std::chrono::duration<double, std::micro>(Clock::now() - s).count();
        if (!st.ok()) {
          errors[t] = st.WithContext(source + ": query " + std::to_string(i));
          return;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& e : errors) VX_RETURN_IF_ERROR(e);
  for (const auto& s : stats) run.stats.Add(s);
  std::sort(run.latency_us.begin(), run.latency_us.end());
  return run;
}

// --prewarm: Index::Prewarm, timed. "prewarmed N structure pages (M MB) in S s".
vx::Result<std::string> Prewarm(const vx::Index& index) {
  const auto t0 = Clock::now();
  VX_ASSIGN_OR_RETURN(const uint64_t pages, index.Prewarm());
  return fmt::format("prewarmed {} structure pages ({:.0f} MB) in {:.2f} s", pages,
                     double(pages * index.info().page_size) / (1 << 20),
                     std::chrono::duration<double>(Clock::now() - t0).count());
}
constexpr char kPrewarmHelp[] =
    "Read the structure pages (HNSW: graph, IVF: lists) into the pool before the queries, as many as it holds, in "
    "batches (pgvector's "
    "pg_prewarm)";

double RecallAt(const Run& run, const vx::IdMatrix& gt, uint32_t k) {
  uint64_t hits = 0;
  for (uint64_t i = 0; i < run.results.size(); ++i) {
    for (const auto& r : run.results[i]) hits += std::count(gt.row(i), gt.row(i) + k, r.key);
  }
  return double(hits) / (double(run.results.size()) * k);
}

// Where the result keys go, opened before the queries run so that an
// unwritable path fails first: .npy as int64, other formats as int32
// (refusing keys that int32 cannot hold).
struct KeysOut {
  std::string path;
  std::unique_ptr<vx::VectorWriter> writer;
  bool wide = false;
};

vx::Result<KeysOut> OpenKeysOut(const std::string& path, uint32_t k) {
  KeysOut out;
  out.path = path;
  VX_ASSIGN_OR_RETURN(const vx::FileFormat format, vx::FormatFromPath(path));
  out.wide = format == vx::FileFormat::kNpy;
  VX_ASSIGN_OR_RETURN(out.writer, vx::VectorWriter::Create(path, out.wide ? vx::DType::kI64 : vx::DType::kI32, k));
  return out;
}

// The keys of `results`, k a query (-1 past a query's results).
vx::Status WriteKeys(KeysOut& out, const std::vector<std::vector<vx::SearchResult>>& results, uint32_t k) {
  std::vector<int64_t> keys(results.size() * k, -1);
  for (size_t i = 0; i < results.size(); ++i) {
    for (size_t j = 0; j < results[i].size(); ++j) keys[i * k + j] = results[i][j].key;
  }
  if (!out.wide) {
    std::vector<int32_t> narrow(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] < INT32_MIN || keys[i] > INT32_MAX) {
        return vx::Status::InvalidArgument(out.path + ": key " + std::to_string(keys[i]) +
                                           " does not fit this int32 format; write .npy");
      }
      narrow[i] = static_cast<int32_t>(keys[i]);
    }
    VX_RETURN_IF_ERROR(out.writer->Append(narrow.data(), results.size()));
  } else {
    VX_RETURN_IF_ERROR(out.writer->Append(keys.data(), results.size()));
  }
  return out.writer->Finish();
}

// Opens `dir` with a pool of `memory_mb` for `threads` searching threads.
vx::Result<std::unique_ptr<vx::Index>> OpenWithMemory(const std::string& dir, uint64_t memory_mb, int threads) {
  VX_ASSIGN_OR_RETURN(vx::IndexOptions io, vx::IndexOptionsForMemory(dir, memory_mb << 20));
  io.max_searchers = static_cast<uint32_t>(threads);
  return vx::Index::Open(dir, io);
}

// The search knobs query and bench share, bound straight into a SearchParams.
void AddSearchOptions(CLI::App* cmd, vx::SearchParams* sp) {
  cmd->add_option("--k", sp->k, "Neighbours per query")->capture_default_str()->check(CLI::Range(1u, 10000u));
  cmd->add_option("--ef-search", sp->ef_search, "HNSW: candidate list size (pgvector's hnsw.ef_search)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
  cmd->add_option("--beam", sp->beam, "HNSW: nodes expanded per step (one batch of page reads)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--probes", sp->probes, "IVF: lists scanned (pgvector's ivfflat.probes)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 24));
  cmd->add_option("--rerank", sp->rerank,
                  "Candidates reranked with full vectors (0 = HNSW: ef_search, IVF: max(100, 25 x probes))")
      ->capture_default_str();
}

}  // namespace

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddBuild(CLI::App& app, RunFn* run) {
  struct Args {
    std::string type = "hnsw", base, ids, metric = "l2", out, quant = "auto", storage = "f32";
    uint32_t m = 16, ef_construction = 64, lists = 0, replicas = 0;
    int threads = 0;
    uint64_t build_memory_mb = 8192, serve_memory_mb = 0;
    size_t page_size = 4096;
    bool no_reorder = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("build", "Build an index directory from a vector file");
  cmd->add_option("--type", a->type, "Index type")->capture_default_str()->check(CLI::IsMember({"hnsw", "ivf"}));
  cmd->add_option("--base", a->base, "Base vectors")->required();
  cmd->add_option("--ids", a->ids,
                  "The key of each base row (.npy int64, .ibin or .ivecs; distinct), returned by searches (default: "
                  "the row number)");
  cmd->add_option("--metric", a->metric, "l2 | ip | cosine")
      ->capture_default_str()
      ->check(CLI::IsMember({"l2", "ip", "cosine"}));
  cmd->add_option("--out", a->out,
                  "Index directory; an index already there is replaced at the end, and serves until then. The disk "
                  "needs room for both; the build is refused at its start if the free space is below a lower bound of "
                  "what it writes (its vector file and codes at least)")
      ->required();
  cmd->add_option("--m", a->m, "Links per node (2m on layer 0)")->capture_default_str()->check(CLI::Range(2u, 100u));
  cmd->add_option("--ef-construction", a->ef_construction, "Candidates per insertion")
      ->capture_default_str()
      ->check(CLI::Range(4u, 1000u));
  cmd->add_option("--lists", a->lists, "IVF lists (0 = pgvector's rule: rows/1000 up to 1M rows, sqrt(rows) above)")
      ->capture_default_str();
  cmd->add_option("--replicas", a->replicas, "IVF: extra lists a boundary vector may join (SPANN closure rule)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 8u));
  cmd->add_option("--quant", a->quant,
                  "Codes (HNSW: in RAM; IVF: on list pages): f16 (halfvec) | sq8 | pq:M | pq4:M (M <= dim) | "
                  "rabitq[:B] (B bits/dim, 1-8) | auto: the most accurate of sq8, rabitq:4, rabitq:2, rabitq:1 that "
                  "fits --serve-memory beside the graph or lists, checked on a sample")
      ->capture_default_str()
      ->check(QuantSpecArg());
  cmd->add_option("--storage", a->storage, "Full vectors on SSD: f32 | f16")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, vx::kMaxThreads));
  cmd->add_option("--build-memory", a->build_memory_mb,
                  "MB the build may hold. HNSW holds vectors + graph and refuses, before reading any vector, "
                  "a build that would exceed it (building larger than RAM is not supported for HNSW yet). "
                  "IVF streams the base and fits its sample and passes to the budget (pgvector's "
                  "maintenance_work_mem)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--serve-memory", a->serve_memory_mb,
                  "MB the index will be served with (pgvector's shared_buffers), for --quant auto (default: this "
                  "machine's RAM, or its cgroup's limit)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--page-size", a->page_size, "Page size (raised to fit one vector)")->capture_default_str();
  cmd->add_flag("--no-reorder", a->no_reorder, "Keep base order instead of BFS renumbering");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::BuildOptions o;
      o.type = vx::ParseIndexType(a->type).value();
      o.lists = a->lists;
      o.replicas = a->replicas;
      o.metric = vx::ParseMetric(a->metric).value();
      o.m = a->m;
      o.ef_construction = a->ef_construction;
      o.quant = a->quant;
      o.storage = vx::ParseElementType(a->storage).value();
      o.threads = a->threads;
      o.build_memory_bytes = a->build_memory_mb << 20;
      o.serve_memory_bytes = a->serve_memory_mb << 20;
      o.page_size = a->page_size;
      o.reorder = !a->no_reorder;
      if (!a->ids.empty()) {
        auto keys = vx::ReadKeys(a->ids);
        if (!keys.ok()) return Fail(keys.status());
        o.keys = std::move(*keys);
      }
      std::unique_ptr<Progress> bar;
      std::string phase;
      o.progress = [&](uint64_t done, uint64_t total, const char* p) {
        if (phase != p) {
          if (bar) bar->Finish();
          phase = p;
          bar = std::make_unique<Progress>(std::string("build ") + p, total,
                                           phase == "k-means" ? "iterations" : "vectors");
        }
        bar->Update(done);
      };
      const auto t0 = Clock::now();
      vx::Status s = vx::BuildIndex(a->base, a->out, o);
      if (bar) bar->Finish();
      if (!s.ok()) return Fail(s);
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      vx::IndexOptions io;
      io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto built = vx::Index::Open(a->out, io);
      if (!built.ok()) return Fail(built.status());
      const vx::IndexInfo& info = (*built)->info();
      fmt::print("built {} in {:.1f} s (peak RSS {:.0f} MB); codes {}\n", a->out, seconds, PeakRssMb(),
                 info.quant_choice.empty() ? info.quant : info.quant_choice);
      return 0;
    };
  });
}

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddQuery(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, queries, out, gt;
    vx::SearchParams sp;
    int threads = 1;
    uint64_t memory_mb = 64;
    bool json = false, prewarm = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Search an index with a query file");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--queries", a->queries, "Query vectors")->required();
  AddSearchOptions(cmd, &a->sp);
  cmd->add_option("--threads", a->threads, "Query threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--memory", a->memory_mb,
                  "Buffer pool MB, pgvector's shared_buffers for this index (structure pages take what their file "
                  "needs, up to 3/4; vector pages the rest)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_option("--out", a->out, "Write the result keys (.ivecs or .ibin: int32; .npy: int64)")
      ->check(IdsOutputArg());
  cmd->add_option("--gt", a->gt, "Ground truth (.ivecs) for recall@k");
  cmd->add_flag("--prewarm", a->prewarm, kPrewarmHelp);
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto index = OpenWithMemory(a->dir, a->memory_mb, a->threads);
      if (!index.ok()) return Fail(index.status());
      std::string prewarmed;
      if (a->prewarm) {
        auto r = Prewarm(**index);
        if (!r.ok()) return Fail(r.status());
        prewarmed = *r;
      }
      auto q = ReadQueries(a->queries);
      if (!q.ok()) return Fail(q.status());
      std::optional<KeysOut> keys_out;
      if (!a->out.empty()) {
        auto opened = OpenKeysOut(a->out, a->sp.k);
        if (!opened.ok()) return Fail(opened.status());
        keys_out = std::move(*opened);
      }
      if (q->dim != (*index)->info().dim) {
        return Fail(vx::Status::InvalidArgument(
            fmt::format("{} has {} dims, the index {}", a->queries, q->dim, (*index)->info().dim)));
      }
      const vx::SearchParams& sp = a->sp;
      const bool ivf = (*index)->info().type == vx::IndexType::kIvf;
      auto run = RunQueries(**index, *q, a->queries, sp, a->threads);
      if (!run.ok()) return Fail(run.status());
      const std::vector<std::vector<vx::SearchResult>>& results = run->results;
      const vx::SearchStats& total = run->stats;
      auto pct = [&](double p) { return run->Pct(p); };
      const double secs = run->seconds;
      double recall = -1;
      if (!a->gt.empty()) {
        auto gt = vx::ReadAllIds(a->gt);
        if (!gt.ok()) return Fail(gt.status());
        if (gt->rows != q->rows || gt->dim < a->sp.k)
          return Fail(vx::Status::InvalidArgument(a->gt + ": wrong shape for these queries and k"));
        recall = RecallAt(*run, *gt, a->sp.k);
      }
      if (keys_out) {
        vx::Status s = WriteKeys(*keys_out, results, a->sp.k);
        if (!s.ok()) return Fail(s);
      }
      const double nq = double(q->rows);
      nlohmann::json j = {
          {"index", a->dir},
          {"type", vx::IndexTypeName((*index)->info().type)},
          {"queries", q->rows},
          {"k", a->sp.k},
          {"rerank", (*index)->RerankDepth(a->sp)},
          {"threads", a->threads},
          {"memory_mb", a->memory_mb},
          {"qps", nq / secs},
          {"latency_us_p50", pct(0.5)},
          {"latency_us_p95", pct(0.95)},
          {"latency_us_p99", pct(0.99)},
          {"ssd_reads_per_query", (total.structure_reads + total.vector_reads) / nq},
          {"structure_reads_per_query", total.structure_reads / nq},
          {"vector_reads_per_query", total.vector_reads / nq},
          {"round_trips_per_query", total.round_trips / nq},
          {"structure_hit_ratio",
           total.structure_pages ? 1.0 - double(total.structure_reads) / total.structure_pages : 0.0},
          {"vector_hit_ratio", total.vector_pages ? 1.0 - double(total.vector_reads) / total.vector_pages : 0.0},
          {"codes_scored_per_query", total.codes_scored / nq},
          {"reranked_per_query", total.vectors_reranked / nq},
          {"peak_rss_mb", PeakRssMb()}};
      if (ivf) {
        j["probes"] = a->sp.probes;
      } else {
        j["ef_search"] = a->sp.ef_search;
        j["beam"] = a->sp.beam;
      }
      if (recall >= 0) j[fmt::format("recall@{}", a->sp.k)] = recall;
      if (a->prewarm) j["prewarm"] = prewarmed;
      if (a->json) {
        fmt::print("{}\n", j.dump(2));
        return 0;
      }
      fmt::print("queries {}  k {}  {} {}  threads {}  pool {} MB\n", q->rows, a->sp.k, ivf ? "probes" : "ef_search",
                 ivf ? a->sp.probes : a->sp.ef_search, a->threads, a->memory_mb);
      if (a->prewarm) fmt::print("{}\n", prewarmed);
      if (recall >= 0) fmt::print("recall@{}          {:.4f}\n", a->sp.k, recall);
      fmt::print("QPS                {:.0f}\n", nq / secs);
      fmt::print("latency p50/p95/p99 {:.0f} / {:.0f} / {:.0f} us\n", pct(0.5), pct(0.95), pct(0.99));
      fmt::print("SSD reads/query    {:.2f} ({} {:.2f}, vector {:.2f})\n",
                 (total.structure_reads + total.vector_reads) / nq, "structure", total.structure_reads / nq,
                 total.vector_reads / nq);
      fmt::print("round trips/query  {:.2f}\n", total.round_trips / nq);
      fmt::print("reranked/query     {:.1f} of {}\n", total.vectors_reranked / nq, (*index)->RerankDepth(a->sp));
      fmt::print("hit ratio          {} {:.3f}, vector {:.3f}\n", "structure", j["structure_hit_ratio"].get<double>(),
                 j["vector_hit_ratio"].get<double>());
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
      io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto index = vx::Index::Open(*dir, io);
      if (!index.ok()) return Fail(index.status());
      const vx::IndexInfo& i = (*index)->info();
      const double n = double(i.count);
      fmt::print("{}: {} index, {} vectors x {} dims, metric {}, generation {}\n", *dir, vx::IndexTypeName(i.type),
                 i.count, i.dim, vx::MetricName(i.metric), i.generation);
      const bool ivf = i.type == vx::IndexType::kIvf;
      const char* structure = ivf ? "structure (lists)" : "structure (graph)";
      if (ivf) {
        fmt::print("  lists {}  replicas {}  entries {} ({:.3f} per vector)  page {} B\n", i.lists, i.replicas,
                   i.entries, double(i.entries) / n, i.page_size);
        fmt::print("  codes {} on list pages; vectors {} on SSD\n", i.quant, vx::ElementTypeName(i.storage));
      } else {
        fmt::print("  m {}  ef_construction {}  levels {}  page {} B\n", i.m, i.ef_construction, i.max_level + 1,
                   i.page_size);
        fmt::print("  codes {} in RAM; vectors {} on SSD\n", i.quant, vx::ElementTypeName(i.storage));
      }
      if (!i.quant_choice.empty()) fmt::print("  codes chosen by {}\n", i.quant_choice);
      fmt::print("  on disk: {} {:.1f} MB, vectors {:.1f} MB ({:.1f} bytes/vector)\n", structure,
                 i.structure_bytes / 1e6, i.vector_bytes / 1e6, (i.structure_bytes + i.vector_bytes) / n);
      fmt::print("  always in RAM: {:.1f} MB ({:.1f} bytes/vector: {})\n", i.resident_bytes / 1e6, i.resident_bytes / n,
                 ivf ? "centroids, list directory, keys" : "codes, upper layers, keys");
      if (i.segments.empty()) fmt::print("  segments: none (the base generation only)\n");
      for (const vx::SegmentInfo& seg : i.segments)
        fmt::print("  segment {}: {} ({:.1f} MB)\n", seg.id, seg.kind, seg.bytes / 1e6);
      for (double ratio : {0.0, 0.1, 0.25, 1.0}) {
        fmt::print("  to serve with {:>3.0f}% of the {} cached: {:.1f} MB + per-query scratch\n", ratio * 100,
                   structure, (i.resident_bytes + ratio * i.structure_bytes) / 1e6);
      }
      return 0;
    };
  });
}

void AddVerify(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "verify", "Check every file and page of an index (pg_amcheck for vx); exit 1 when anything is wrong");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto r = vx::Index::Verify(a->dir);
      if (!r.ok()) return Fail(r.status());
      if (a->json) {
        fmt::print(
            "{}\n",
            nlohmann::json{
                {"index", a->dir}, {"files", r->files}, {"pages", r->pages}, {"ok", r->ok()}, {"problems", r->problems}}
                .dump(2));
      } else {
        for (const std::string& p : r->problems) fmt::print("{}\n", p);
        fmt::print("{}: {} files and {} pages checked: {}\n", a->dir, r->files, r->pages,
                   r->ok() ? "OK" : std::to_string(r->problems.size()) + " problems");
      }
      return r->ok() ? 0 : 1;
    };
  });
}

}  // namespace vxctl

namespace vxctl {

vx::Status Sweep(const SweepOptions& o, const vx::FloatMatrix& q, const vx::IdMatrix& gt, nlohmann::json* rows) {
  const uint32_t k = o.params.k;
  if (gt.rows != q.rows || gt.dim < k)
    return vx::Status::InvalidArgument("ground truth has the wrong shape for these queries and k");
  auto with = [&](uint32_t v) {
    vx::SearchParams p = o.params;
    (o.knob == "probes" ? p.probes : p.ef_search) = v;
    return p;
  };
  fmt::print("{:>8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}\n", "threads", o.knob, "rerank",
             "recall@" + std::to_string(k), "QPS", "p50 us", "p99 us", "reads/q", "trips/q", "index hit");
  for (int threads : o.threads) {
    // A fresh pool per thread count: each sweep starts cold and warms up the same way.
    VX_ASSIGN_OR_RETURN(auto index, OpenWithMemory(o.dir, o.memory_mb, threads));
    if (q.dim != index->info().dim) return vx::Status::InvalidArgument("queries and index differ in dimension");
    const bool ivf = index->info().type == vx::IndexType::kIvf;
    if (ivf != (o.knob == "probes")) {
      return vx::Status::InvalidArgument(o.dir + " is an " + vx::IndexTypeName(index->info().type) + " index: sweep " +
                                         (ivf ? "probes" : "ef_search"));
    }
    if (o.prewarm) {
      VX_ASSIGN_OR_RETURN(const std::string line, Prewarm(*index));
      fmt::print("threads {}: {}\n", threads, line);
    }
    if (o.warmup) {  // one untimed pass fills the pool
      const vx::FloatMatrix& wq = o.warmup_queries ? *o.warmup_queries : q;
      if (wq.dim != q.dim) return vx::Status::InvalidArgument("warm-up queries and queries differ in dimension");
      // At the largest value, to touch the most structure pages. With the
      // measured queries, as deep as that value reranks: the pool then holds
      // every page the sweep reads, when they fit (an in-memory run). With a
      // separate warm-up set (thousands of queries modelling a cold start),
      // only as deep as the smallest value: IVF's rerank grows with probes,
      // and the warm-up would spend its time on vector-page reads.
      vx::SearchParams wp = with(*std::max_element(o.values.begin(), o.values.end()));
      if (o.warmup_queries) wp.rerank = index->RerankDepth(with(*std::min_element(o.values.begin(), o.values.end())));
      VX_RETURN_IF_ERROR(
          RunQueries(*index, wq, o.warmup_queries ? o.warmup_source : o.queries_source, wp, threads).status());
    }
    uint32_t best = 0;
    for (uint32_t v : o.values) {
      VX_ASSIGN_OR_RETURN(Run r, RunQueries(*index, q, o.queries_source, with(v), threads));
      const double recall = RecallAt(r, gt, k);
      const vx::SearchStats& s = r.stats;
      const double hit = s.structure_pages ? 1.0 - double(s.structure_reads) / s.structure_pages : 0.0;
      const uint32_t rerank = index->RerankDepth(with(v));
      fmt::print("{:>8} {:>9} {:>7} {:>9.4f} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.2f} {:>8.2f} {:>10.3f}\n", threads, v,
                 rerank, recall, r.Qps(), r.Pct(0.5), r.Pct(0.99), r.PerQuery(s.structure_reads + s.vector_reads),
                 r.PerQuery(s.round_trips), hit);
      if (!best && recall >= o.target) best = v;
      rows->push_back(
          {{"threads", threads},
           {o.knob, v},
           {"rerank", rerank},
           {"recall", recall},
           {"qps", r.Qps()},
           {"latency_us_p50", r.Pct(0.5)},
           {"latency_us_p99", r.Pct(0.99)},
           {"reads_per_query", r.PerQuery(s.structure_reads + s.vector_reads)},
           {"vector_reads_per_query", r.PerQuery(s.vector_reads)},
           {"reranked_per_query", r.PerQuery(s.vectors_reranked)},
           {"bytes_read_per_query", r.PerQuery(s.structure_reads + s.vector_reads) * index->info().page_size},
           {"round_trips_per_query", r.PerQuery(s.round_trips)},
           {"structure_hit_ratio", hit}});
    }
    if (best)
      fmt::print("threads {}: smallest {} with recall@{} >= {}: {}\n", threads, o.knob, k, o.target, best);
    else
      fmt::print("threads {}: no {} in the sweep reaches recall@{} >= {}\n", threads, o.knob, k, o.target);
  }
  return vx::Status::Ok();
}

// Recall (x) against QPS (y, log scale), one line per thread count, as SVG.
vx::Status WritePlot(const std::string& path, const nlohmann::json& rows, const std::vector<int>& thread_counts,
                     const std::string& knob, uint32_t k) {
  constexpr double W = 640, H = 400, L = 60, B = 50;
  double qmin = 1e18, qmax = 0, rmin = 1, rmax = 0;
  for (const auto& r : rows) {
    qmin = std::min(qmin, r["qps"].get<double>());
    qmax = std::max(qmax, r["qps"].get<double>());
    rmin = std::min(rmin, r["recall"].get<double>());
    rmax = std::max(rmax, r["recall"].get<double>());
  }
  rmax = std::max(rmax, rmin + 1e-3);
  qmax = std::max(qmax, qmin * 1.01);
  auto x = [&](double r) { return L + (r - rmin) / (rmax - rmin) * (W - L - 20); };
  auto y = [&](double qps) {
    return H - B - (std::log(qps) - std::log(qmin)) / (std::log(qmax) - std::log(qmin)) * (H - B - 20);
  };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' font-size='12'>\n", W,
      H);
  svg += fmt::format(
      "<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='black'/><line x1='{}' y1='20' x2='{}' y2='{}' stroke='black'/>\n",
      L, H - B, W - 20, H - B, L, L, H - B);
  svg += fmt::format("<text x='{}' y='{}'>recall@{} ({:.3f} .. {:.3f})</text>\n", W / 2 - 60, H - 15, k, rmin, rmax);
  svg += fmt::format("<text x='5' y='15'>QPS (log, {:.0f} .. {:.0f})</text>\n", qmin, qmax);
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  size_t line = 0;
  for (int threads : thread_counts) {
    std::string pts;
    for (const auto& r : rows) {
      if (r["threads"].get<int>() != threads) continue;
      pts += fmt::format("{:.1f},{:.1f} ", x(r["recall"].get<double>()), y(r["qps"].get<double>()));
      svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='3' fill='{}'><title>{} {}</title></circle>\n",
                         x(r["recall"].get<double>()), y(r["qps"].get<double>()), colors[line % 4], knob,
                         r[knob].get<uint32_t>());
    }
    svg += fmt::format("<polyline points='{}' fill='none' stroke='{}'/>\n", pts, colors[line % 4]);
    svg += fmt::format("<text x='{}' y='{}' fill='{}'>{} thread{}</text>\n", W - 110, 30 + 15 * line, colors[line % 4],
                       threads, threads > 1 ? "s" : "");
    ++line;
  }
  svg += "</svg>\n";
  std::ofstream f(path);
  f << svg;
  if (!f) return vx::Status::IOError(path + ": write failed");
  return vx::Status::Ok();
}

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddBench(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, queries, gt, sweep = "ef_search=10,20,40,80,160,320", json, plot;
    std::vector<int> threads = {1};
    uint64_t memory_mb = 64;
    double target = 0.95;
    vx::SearchParams sp;
    bool warmup = false, prewarm = false;
    std::string warmup_queries;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("bench", "The tuning table (ef_search or probes): recall, latency, QPS and reads per setting");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--queries", a->queries, "Query vectors")->required();
  cmd->add_option("--gt", a->gt, "Ground truth (.ivecs)")->required();
  cmd->add_option("--sweep", a->sweep, "ef_search=LIST (HNSW) or probes=LIST (IVF)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Thread counts (list)")->delimiter(',')->check(CLI::Range(1, 256));
  cmd->add_option("--memory", a->memory_mb, "Buffer pool MB")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_option("--target-recall", a->target, "Report the smallest setting reaching this recall")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  AddSearchOptions(cmd, &a->sp);  // the swept one is overridden per row
  cmd->add_flag("--warmup", a->warmup,
                "Run all queries once, untimed, before each thread count's sweep, at the largest swept value (with "
                "--warmup-queries reranking only as deep as the smallest value does)");
  cmd->add_option(
      "--warmup-queries", a->warmup_queries,
      "With --warmup: warm with these queries instead (so the measured queries' own pages are not pre-read)");
  cmd->add_flag("--prewarm", a->prewarm,
                std::string(kPrewarmHelp) + ", before each thread count's sweep (and its --warmup)");
  cmd->add_option("--json", a->json, "Write the table as JSON to this file");
  cmd->add_option("--plot", a->plot, "Write a recall-QPS plot (SVG) to this file");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      const size_t eq = a->sweep.find('=');
      const std::string knob = a->sweep.substr(0, eq);
      if (eq == std::string::npos || (knob != "ef_search" && knob != "probes")) {
        fmt::print(stderr, "vxctl: --sweep: expected ef_search=LIST or probes=LIST, got '{}'\n", a->sweep);
        return 2;
      }
      // Whole numbers 1..10000 (--ef-search's and --probes' range starts alike).
      std::vector<uint32_t> values;
      std::stringstream ss(a->sweep.substr(eq + 1));
      for (std::string tok; std::getline(ss, tok, ',');) {
        const bool digits = !tok.empty() && tok.size() <= 5 && tok.find_first_not_of("0123456789") == std::string::npos;
        const uint32_t v = digits ? static_cast<uint32_t>(std::stoul(tok)) : 0;
        if (v == 0 || v > 10000) {
          values.clear();
          break;
        }
        values.push_back(v);
      }
      if (values.empty()) {
        fmt::print(stderr, "vxctl: --sweep: '{}' is not a list of whole numbers from 1 to 10000\n", a->sweep);
        return 2;
      }
      auto q = ReadQueries(a->queries);
      if (!q.ok()) return Fail(q.status());
      auto gt = vx::ReadAllIds(a->gt);
      if (!gt.ok()) return Fail(gt.status());
      nlohmann::json rows = nlohmann::json::array();
      std::optional<vx::FloatMatrix> wq;
      if (!a->warmup_queries.empty()) {
        auto r = ReadQueries(a->warmup_queries);
        if (!r.ok()) return Fail(r.status());
        wq = std::move(*r);
      }
      SweepOptions so{a->dir,     knob,         values,
                      a->threads, a->memory_mb, a->target,
                      a->sp,      a->warmup,    wq ? &*wq : nullptr,
                      a->prewarm, a->queries,   a->warmup_queries};
      vx::Status st = Sweep(so, *q, *gt, &rows);
      if (!st.ok()) return Fail(st);
      if (!a->json.empty()) {
        std::ofstream f(a->json);
        f << nlohmann::json{{"index", a->dir}, {"memory_mb", a->memory_mb}, {"k", a->sp.k}, {"rows", rows}}.dump(2)
          << "\n";
        if (!f) return Fail(vx::Status::IOError(a->json + ": write failed"));
      }
      if (!a->plot.empty()) {
        vx::Status s = WritePlot(a->plot, rows, a->threads, knob, a->sp.k);
        if (!s.ok()) return Fail(s);
      }
      return 0;
    };
  });
}

}  // namespace vxctl
