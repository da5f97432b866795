// Index commands: build, query, info. Thin layers over vx/index.h.
#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
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
                           const vx::SearchParams& sp, int threads, const std::vector<vx::Filter>& filters = {}) {
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
        vx::SearchParams p = sp;
        if (!filters.empty()) p.filter = &filters[filters.size() == 1 ? 0 : i];
        vx::Status st = index.Search(q.row(i), p, &run.results[i], &stats[t]);
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

// --filter (one for all queries) or --filters FILE (line i for query i of
// `queries`), parsed; none: empty. A parse error names the line.
vx::Result<std::vector<vx::Filter>> ReadFilters(const std::string& one, const std::string& path, uint64_t queries) {
  std::vector<vx::Filter> out;
  if (!one.empty()) {
    VX_ASSIGN_OR_RETURN(vx::Filter f, vx::Filter::Parse(one));
    out.push_back(std::move(f));
    return out;
  }
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) return vx::Status::IOError(path + ": cannot open");
  std::string line;
  for (uint64_t n = 1; std::getline(in, line); ++n) {
    auto f = vx::Filter::Parse(line);
    if (!f.ok()) return f.status().WithContext(path + ": line " + std::to_string(n));
    out.push_back(std::move(*f));
  }
  if (out.size() != queries) {
    return vx::Status::InvalidArgument(path + ": " + std::to_string(out.size()) + " filters for " +
                                       std::to_string(queries) + " queries; give one a line per query");
  }
  return out;
}

// --attrs: a JSONL file, or a directory of .npy columns.
vx::Result<vx::Attributes> ReadAttributes(const std::string& path) {
  return std::filesystem::is_directory(path) ? vx::Attributes::ReadNpyDir(path) : vx::Attributes::ReadJsonl(path);
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

// Where query results go, opened before the queries run so that an
// unwritable path fails first: .npy, keys as int64 and distances as float32
// in the .distances.npy beside it; .csv (query,rank,key,distance); .jsonl
// (one object per query) or "-" (the same on stdout); .ivecs and .ibin,
// keys only, as int32 (refusing keys that int32 cannot hold).
class ResultsOut {
 public:
  static vx::Result<ResultsOut> Open(const std::string& path, uint32_t k) {
    ResultsOut out;
    out.path_ = path;
    out.k_ = k;
    if (path == "-" || path.ends_with(".jsonl")) {
      out.kind_ = kJsonLines;
    } else if (path.ends_with(".csv")) {
      out.kind_ = kCsv;
    } else {
      VX_ASSIGN_OR_RETURN(const vx::FileFormat format, vx::FormatFromPath(path));
      out.kind_ = format == vx::FileFormat::kNpy ? kNpyPair : kKeys32;
      VX_ASSIGN_OR_RETURN(out.keys_,
                          vx::VectorWriter::Create(path, out.kind_ == kNpyPair ? vx::DType::kI64 : vx::DType::kI32, k));
      if (out.kind_ == kNpyPair) {
        out.distances_path_ = path.substr(0, path.size() - 4) + ".distances.npy";
        VX_ASSIGN_OR_RETURN(out.distances_, vx::VectorWriter::Create(out.distances_path_, vx::DType::kF32, k));
      }
      return out;
    }
    if (path != "-") {
      out.text_ = std::make_unique<std::ofstream>(path);
      if (!*out.text_) return vx::Status::IOError(path + ": cannot create: " + std::strerror(errno));
    }
    return out;
  }
  bool to_stdout() const { return path_ == "-"; }
  // What was written, for the report: the file(s).
  std::string Describe() const { return distances_path_.empty() ? path_ : path_ + " and " + distances_path_; }

  // k places a query, -1 and +inf past a query's results.
  vx::Status Write(const std::vector<std::vector<vx::SearchResult>>& results) {
    const size_t n = results.size();
    std::vector<int64_t> keys(n * k_, -1);
    std::vector<float> dist(n * k_, std::numeric_limits<float>::infinity());
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < results[i].size() && j < k_; ++j) {
        keys[i * k_ + j] = results[i][j].key;
        dist[i * k_ + j] = results[i][j].distance;
      }
    }
    switch (kind_) {
      case kNpyPair:
        VX_RETURN_IF_ERROR(keys_->Append(keys.data(), n));
        VX_RETURN_IF_ERROR(keys_->Finish());
        VX_RETURN_IF_ERROR(distances_->Append(dist.data(), n));
        return distances_->Finish();
      case kKeys32: {
        std::vector<int32_t> narrow(keys.size());
        for (size_t i = 0; i < keys.size(); ++i) {
          if (keys[i] < INT32_MIN || keys[i] > INT32_MAX) {
            return vx::Status::InvalidArgument(path_ + ": key " + std::to_string(keys[i]) +
                                               " does not fit this int32 format; write .npy, .csv or .jsonl");
          }
          narrow[i] = static_cast<int32_t>(keys[i]);
        }
        VX_RETURN_IF_ERROR(keys_->Append(narrow.data(), n));
        return keys_->Finish();
      }
      case kCsv:
      case kJsonLines: {
        std::string text = kind_ == kCsv ? "query,rank,key,distance\n" : "";
        for (size_t i = 0; i < n; ++i) {
          if (kind_ == kCsv) {
            for (size_t j = 0; j < results[i].size(); ++j)
              text += fmt::format("{},{},{},{}\n", i, j, results[i][j].key, results[i][j].distance);
          } else {
            nlohmann::json line = {
                {"query", i}, {"keys", nlohmann::json::array()}, {"distances", nlohmann::json::array()}};
            for (const vx::SearchResult& r : results[i]) {
              line["keys"].push_back(r.key);
              line["distances"].push_back(r.distance);
            }
            text += line.dump() + "\n";
          }
        }
        if (to_stdout()) {
          fmt::print("{}", text);
          return std::fflush(stdout) == 0 ? vx::Status::Ok() : vx::Status::IOError("stdout: write failed");
        }
        *text_ << text;
        text_->close();
        if (!*text_) return vx::Status::IOError(path_ + ": write failed");
        return vx::Status::Ok();
      }
    }
    return vx::Status::Ok();
  }

 private:
  enum Kind { kNpyPair, kKeys32, kCsv, kJsonLines };
  Kind kind_ = kKeys32;
  std::string path_, distances_path_;
  uint32_t k_ = 0;
  std::unique_ptr<vx::VectorWriter> keys_, distances_;
  std::unique_ptr<std::ofstream> text_;
};

// Opens `dir` with a pool of `memory_mb` for `threads` searching threads.
vx::Result<std::unique_ptr<vx::Index>> OpenWithMemory(const std::string& dir, uint64_t memory_mb, int threads) {
  VX_ASSIGN_OR_RETURN(vx::IndexOptions io, vx::IndexOptionsForMemory(dir, memory_mb << 20));
  io.max_searchers = static_cast<uint32_t>(threads);
  return vx::Index::Open(dir, io);
}

// The search knobs query and bench share, bound straight into a
// SearchParams; the options, to refuse those the index's type has not.
struct SearchFlags {
  CLI::Option *ef_search, *beam, *probes;
};
SearchFlags AddSearchOptions(CLI::App* cmd, vx::SearchParams* sp) {
  cmd->add_option("--k", sp->k, "Neighbours per query")->capture_default_str()->check(CLI::Range(1u, 10000u));
  SearchFlags f;
  f.ef_search = cmd->add_option("--ef-search", sp->ef_search, "HNSW: candidate list size (pgvector's hnsw.ef_search)")
                    ->capture_default_str()
                    ->check(CLI::Range(1u, 10000u));
  f.beam = cmd->add_option("--beam", sp->beam, "HNSW: nodes expanded per step (one batch of page reads)")
               ->capture_default_str()
               ->check(CLI::Range(1u, 256u));
  f.probes = cmd->add_option("--probes", sp->probes, "IVF: lists scanned (pgvector's ivfflat.probes)")
                 ->capture_default_str()
                 ->check(CLI::Range(1u, 1u << 24));
  cmd->add_option("--rerank", sp->rerank,
                  "Candidates reranked with full vectors (0 = HNSW: ef_search, IVF: max(100, 25 x probes))")
      ->capture_default_str();
  return f;
}

// A usage message when a flag given does not apply to the index in `dir`;
// "" when all do.
std::string InapplicableFlag(const SearchFlags& f, const std::string& dir, vx::IndexType type) {
  const bool ivf = type == vx::IndexType::kIvf;
  for (const CLI::Option* o :
       ivf ? std::vector<CLI::Option*>{f.ef_search, f.beam} : std::vector<CLI::Option*>{f.probes}) {
    if (o->count() > 0) {
      return fmt::format("{} applies to {} indexes; {} is an {} index (use {})", o->get_name(), ivf ? "HNSW" : "IVF",
                         dir, vx::IndexTypeName(type), ivf ? "--probes" : "--ef-search");
    }
  }
  return "";
}

// --memory, the same in every command that opens an index.
void AddMemoryOption(CLI::App* cmd, uint64_t* memory_mb) {
  cmd->add_option("--memory", *memory_mb,
                  "MB the index is served with: its buffer pools, pgvector's shared_buffers for this index "
                  "(structure pages take what their file needs, up to 3/4; vector pages the rest)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
}

}  // namespace

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
namespace {

// A build's progress: one bar a phase (reading, training, inserting,
// writing), fed by o->progress.
class BuildProgress {
 public:
  explicit BuildProgress(vx::BuildOptions* o) {
    o->progress = [this](uint64_t done, uint64_t total, const char* p) {
      if (phase_ != p) {
        Finish();
        phase_ = p;
        bar_ = std::make_unique<Progress>(std::string("build ") + p, total,
                                          phase_ == "k-means" ? "iterations" : "vectors");
      }
      bar_->Update(done);
    };
  }
  void Finish() {
    if (bar_) bar_->Finish();
    bar_.reset();
  }

 private:
  std::unique_ptr<Progress> bar_;
  std::string phase_;
};

}  // namespace

namespace {

// The options of a build, shared by build and plan.
struct BuildArgs {
  std::string type = "hnsw", base, ids, attrs, metric = "l2", quant = "auto", storage = "f32";
  uint32_t m = 16, ef_construction = 64, lists = 0, replicas = 0;
  int threads = 0;
  uint64_t build_memory_mb = 8192, serve_memory_mb = 0;
  size_t page_size = 4096;
  bool no_reorder = false;
  std::vector<CLI::Option*> hnsw_only, ivf_only;  // refused for the other type
};

void AddBuildOptions(CLI::App* cmd, BuildArgs* a) {
  cmd->add_option("--type", a->type, "Index type")->capture_default_str()->check(CLI::IsMember({"hnsw", "ivf"}));
  cmd->add_option("--base", a->base, "Base vectors")->required();
  cmd->add_option("--ids", a->ids,
                  "The key of each base row (.npy int64, .ibin or .ivecs; distinct), returned by searches (default: "
                  "the row number)");
  cmd->add_option(
      "--attrs", a->attrs,
      "Attributes for filtered search (query --filter): a JSON object per base row, one a line, e.g. "
      "{\"tenant_id\": 42, \"price\": 19.5, \"tags\": [3, 7]}; the first line fixes the columns; a "
      "column of integers is int, of numbers with fractions float, of integer arrays labels. Or a directory "
      "of .npy columns: NAME.npy (integers: int; floats: float), NAME.offsets.npy + NAME.labels.npy "
      "(labels)");
  cmd->add_option("--metric", a->metric, "l2 | ip | cosine")
      ->capture_default_str()
      ->check(CLI::IsMember({"l2", "ip", "cosine"}));
  a->hnsw_only.push_back(cmd->add_option("--m", a->m, "HNSW: links per node (2m on layer 0)")
                             ->capture_default_str()
                             ->check(CLI::Range(2u, 100u)));
  a->hnsw_only.push_back(cmd->add_option("--ef-construction", a->ef_construction, "HNSW: candidates per insertion")
                             ->capture_default_str()
                             ->check(CLI::Range(4u, 1000u)));
  a->ivf_only.push_back(cmd->add_option("--lists", a->lists,
                                        "IVF: lists (0 = pgvector's rule: rows/1000 up to 1M rows, sqrt(rows) above)")
                            ->capture_default_str());
  a->ivf_only.push_back(
      cmd->add_option("--replicas", a->replicas, "IVF: extra lists a boundary vector may join (SPANN closure rule)")
          ->capture_default_str()
          ->check(CLI::Range(0u, 8u)));
  cmd->add_option("--quant", a->quant,
                  "Codes (HNSW: in RAM; IVF: on list pages): f16 (halfvec) | sq8 | pq:M | pq4:M (M <= dim) | "
                  "rabitq[:B] (B bits/dim, 1-8) | auto: the most accurate of sq8, rabitq:4, rabitq:2, rabitq:1 that "
                  "fits --serve-memory beside the graph or lists, checked on a sample")
      ->capture_default_str()
      ->check(QuantSpecArg());
  cmd->add_option("--storage", a->storage, "Full vectors on SSD: f32 | f16 (pgvector's halfvec)")
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
  a->hnsw_only.push_back(
      cmd->add_flag("--no-reorder", a->no_reorder, "HNSW: keep base order instead of BFS renumbering"));
}

// The build options `a` names; an exit status (Usage, Fail) when they are
// wrong or a file they name cannot be read.
std::optional<int> ToBuildOptions(const BuildArgs& a, vx::BuildOptions* o) {
  o->type = vx::ParseIndexType(a.type).value();
  const bool ivf = o->type == vx::IndexType::kIvf;
  for (const CLI::Option* opt : ivf ? a.hnsw_only : a.ivf_only) {
    if (opt->count() > 0)
      return Usage(
          fmt::format("{} applies to {} indexes, not --type {}", opt->get_name(), ivf ? "HNSW" : "IVF", a.type));
  }
  o->lists = a.lists;
  o->replicas = a.replicas;
  o->metric = vx::ParseMetric(a.metric).value();
  o->m = a.m;
  o->ef_construction = a.ef_construction;
  o->quant = a.quant;
  o->storage = vx::ParseElementType(a.storage).value();
  o->threads = a.threads;
  o->build_memory_bytes = a.build_memory_mb << 20;
  o->serve_memory_bytes = a.serve_memory_mb << 20;
  o->page_size = a.page_size;
  o->reorder = !a.no_reorder;
  if (!a.ids.empty()) {
    auto keys = vx::ReadKeys(a.ids);
    if (!keys.ok()) return Fail(keys.status());
    o->keys = std::move(*keys);
  }
  if (!a.attrs.empty()) {
    auto attrs = ReadAttributes(a.attrs);
    if (!attrs.ok()) return Fail(attrs.status());
    o->attributes = std::move(*attrs);
  }
  return std::nullopt;
}

// The memory to serve an index with a share of its structure cached (info
// and plan): what stays in RAM plus that share.
void PrintServing(const char* structure, uint64_t in_ram, uint64_t structure_bytes) {
  for (double ratio : {0.0, 0.1, 0.25, 1.0}) {
    fmt::print("  to serve with {:>3.0f}% of the {} cached: {:.1f} MB + per-query scratch\n", ratio * 100, structure,
               (in_ram + ratio * structure_bytes) / 1e6);
  }
}

// This process's resident memory now, bytes.
uint64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

}  // namespace

void AddBuild(CLI::App& app, RunFn* run) {
  struct Args : BuildArgs {
    std::string out;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("build", "Build an index directory from a vector file");
  AddBuildOptions(cmd, a.get());
  cmd->add_option("--out", a->out,
                  "Index directory; an index already there is replaced at the end, and serves until then. The disk "
                  "needs room for both; the build is refused at its start if the free space is below a lower bound of "
                  "what it writes (its vector file and codes at least)")
      ->required();
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::BuildOptions o;
      if (const std::optional<int> failed = ToBuildOptions(*a, &o)) return *failed;
      BuildProgress bar(&o);
      const auto t0 = Clock::now();
      vx::Status s = vx::BuildIndex(a->base, a->out, o);
      bar.Finish();
      if (!s.ok()) return Fail(s);
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      vx::IndexOptions io;
      io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto built = vx::Index::Open(a->out, io);
      if (!built.ok()) return Fail(built.status());
      const vx::IndexInfo& info = built->get()->info();
      fmt::print("built {} in {:.1f} s (peak RSS {:.0f} MB); codes {}\n", a->out, seconds, PeakRssMb(),
                 info.quant_choice.empty() ? info.quant : info.quant_choice);
      return 0;
    };
  });
}

void AddPlan(CLI::App& app, RunFn* run) {
  struct Args : BuildArgs {
    uint64_t memory_mb = 0, sample = 0;
    std::string scratch;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "plan",
      "Before a build: its peak memory, time on this machine, disk space and serving memory, predicted from the "
      "base's header and a calibration build of its first rows");
  AddBuildOptions(cmd, a.get());
  cmd->add_option("--memory", a->memory_mb,
                  "MB this host may give the build and the serving: says whether the build fits and how much of the "
                  "structure serving can cache")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--sample", a->sample,
                  "Rows of the calibration build (the base's first; another of half as many runs first); 0: 20000, "
                  "and for HNSW at least 64 MiB of vectors")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32));
  cmd->add_option("--scratch", a->scratch, "Directory for the calibration builds, removed after (default /var/tmp)");
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::BuildOptions o;
      if (const std::optional<int> failed = ToBuildOptions(*a, &o)) return *failed;
      // The process a build runs in holds this much before it starts.
      const uint64_t process = RssBytes();
      BuildProgress bar(&o);
      auto planned = vx::PlanBuild(a->base, o, vx::PlanOptions{a->sample, a->scratch});
      bar.Finish();
      if (!planned.ok()) return Fail(planned.status());
      const vx::BuildPlan& p = *planned;
      const uint64_t peak = process + p.build_memory_bytes;
      const uint64_t memory = a->memory_mb << 20;
      const bool build_fits = peak <= memory && p.least_build_memory_bytes <= memory;
      const char* structure = o.type == vx::IndexType::kIvf ? "structure (lists)" : "structure (graph)";
      if (a->json.wanted()) {
        nlohmann::json j = {{"type", a->type},
                            {"base", a->base},
                            {"count", p.count},
                            {"dim", p.dim},
                            {"sample_rows", p.sample_rows},
                            {"sample_seconds", p.sample_seconds},
                            {"quant", p.quant},
                            {"quant_choice", p.quant_choice},
                            {"build_seconds", p.build_seconds},
                            {"build_peak_bytes", peak},
                            {"build_memory_bytes", p.build_memory_bytes},
                            {"process_bytes", process},
                            {"least_build_memory_bytes", p.least_build_memory_bytes},
                            {"disk_bytes", p.disk_bytes},
                            {"structure_bytes", p.structure_bytes},
                            {"vector_bytes", p.vector_bytes},
                            {"resident_bytes", p.resident_bytes},
                            {"attribute_bytes", p.attribute_bytes},
                            {"serve_bytes", nlohmann::json::object()}};
        for (double ratio : {0.0, 0.1, 0.25, 1.0})
          j["serve_bytes"][fmt::format("{:.0f}%", ratio * 100)] =
              p.resident_bytes + uint64_t(ratio * p.structure_bytes);
        if (memory > 0) {
          j["memory_bytes"] = memory;
          j["build_fits"] = build_fits;
          j["serve_fits"] = p.resident_bytes < memory;
        }
        vx::Status s = a->json.Write(j);
        return s.ok() ? 0 : Fail(s);
      }
      fmt::print("plan: {} over {}, {} vectors x {} dims (calibrated on its first {} rows in {:.1f} s)\n", a->type,
                 a->base, p.count, p.dim, p.sample_rows, p.sample_seconds);
      fmt::print("  codes: {}{}\n", p.quant,
                 p.quant_choice.empty()
                     ? ""
                     : " (auto's choice on the calibration rows, with the serving memory scaled to them: " +
                           p.quant_choice + ")");
      fmt::print(
          "  build: about {:.0f} s on this machine; peak memory about {:.0f} MB ({:.0f} MB of the build's, {:.0f} "
          "MB of the process); --build-memory below {:.0f} MB is refused before any work\n",
          p.build_seconds, peak / 1e6, p.build_memory_bytes / 1e6, process / 1e6,
          std::ceil(p.least_build_memory_bytes / 1048576.0));
      fmt::print("  disk: {:.1f} MB ({} {:.1f} MB, vectors {:.1f} MB)\n", p.disk_bytes / 1e6, structure,
                 p.structure_bytes / 1e6, p.vector_bytes / 1e6);
      fmt::print("  serving: always in RAM {:.1f} MB{}; serving needs more than this\n", p.resident_bytes / 1e6,
                 p.attribute_bytes ? fmt::format(" (attributes {:.1f} MB)", p.attribute_bytes / 1e6) : "");
      PrintServing(structure, p.resident_bytes, p.structure_bytes);
      if (memory > 0) {
        fmt::print("  with {} MB: the build {}; serving {}\n", a->memory_mb,
                   build_fits ? "fits" : fmt::format("does not fit (it needs about {:.0f} MB)", peak / 1e6),
                   p.resident_bytes >= memory
                       ? fmt::format("does not fit (it needs more than {:.0f} MB)", p.resident_bytes / 1e6)
                       : fmt::format("caches {:.0f}% of the {}",
                                     std::min(100.0, 100.0 * (memory - p.resident_bytes) /
                                                         std::max<double>(1, p.structure_bytes)),
                                     structure));
      }
      return 0;
    };
  });
}

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddQuery(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, queries, out, gt, filter, filters;
    vx::SearchParams sp;
    SearchFlags flags;
    int threads = 1;
    uint64_t memory_mb = 64;
    bool prewarm = false;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("query", "Search an index with a query file");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--queries", a->queries, "Query vectors")->required();
  a->flags = AddSearchOptions(cmd, &a->sp);
  cmd->add_option("--threads", a->threads, "Query threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, vx::kMaxThreads));
  AddMemoryOption(cmd, &a->memory_mb);
  cmd->add_option("--out", a->out,
                  "Write the results: .npy (keys int64, and distances in FILE.distances.npy), .csv, .jsonl, - (JSON "
                  "lines on stdout; the report goes to stderr), or keys only in .ivecs/.ibin (int32)")
      ->check(ResultsOutputArg());
  cmd->add_option("--gt", a->gt, "Ground truth (.ivecs) for recall@k");
  auto* filter = cmd->add_option(
      "--filter", a->filter,
      "Only rows whose attributes match, for every query: e.g. \"tenant_id = 42 AND (price < 20 OR tags HAS 7)\" "
      "(=, !=, <, <=, >, >=, BETWEEN, IN, NOT IN, HAS, AND, OR, NOT, parentheses)");
  cmd->add_option("--filters", a->filters, "A filter per query: line i of FILE for query i")->excludes(filter);
  cmd->add_flag("--prewarm", a->prewarm, kPrewarmHelp);
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      if (a->out == "-" && a->json.to_stdout())
        return Usage("--out - and --json both write to stdout: give --json a FILE");
      const int threads = vx::ResolveThreads(a->threads);
      auto index = OpenWithMemory(a->dir, a->memory_mb, threads);
      if (!index.ok()) return Fail(index.status());
      const vx::IndexInfo& info = (*index)->info();
      if (std::string bad = InapplicableFlag(a->flags, a->dir, info.type); !bad.empty()) return Usage(bad);
      std::string prewarmed;
      if (a->prewarm) {
        auto r = Prewarm(**index);
        if (!r.ok()) return Fail(r.status());
        prewarmed = *r;
      }
      auto q = ReadQueries(a->queries);
      if (!q.ok()) return Fail(q.status());
      std::optional<ResultsOut> results_out;
      if (!a->out.empty()) {
        auto opened = ResultsOut::Open(a->out, a->sp.k);
        if (!opened.ok()) return Fail(opened.status());
        results_out = std::move(*opened);
      }
      if (q->dim != info.dim) {
        return Fail(
            vx::Status::InvalidArgument(fmt::format("{} has {} dims, the index {}", a->queries, q->dim, info.dim)));
      }
      auto filters = ReadFilters(a->filter, a->filters, q->rows);
      if (!filters.ok()) return Fail(filters.status());
      const vx::SearchParams& sp = a->sp;
      const bool ivf = info.type == vx::IndexType::kIvf;
      auto run = RunQueries(**index, *q, a->queries, sp, threads, *filters);
      if (!run.ok()) return Fail(run.status());
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
      if (results_out) {
        vx::Status s = results_out->Write(run->results);
        if (!s.ok()) return Fail(s);
      }
      const double nq = double(q->rows);
      nlohmann::json j = {
          {"index", a->dir},
          {"type", vx::IndexTypeName(info.type)},
          {"queries", q->rows},
          {"k", a->sp.k},
          {"rerank", (*index)->RerankDepth(a->sp)},
          {"threads", threads},
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
      if (!filters->empty()) {
        j["filter"] = {{"matching_rows_per_query", total.filter_rows / nq},
                       {"scan_limit_per_query", total.filter_scan_limit / nq},
                       {"scans", total.filter_scans},
                       {"walks", total.filter_walks},
                       {"walk_fallbacks_to_scan", total.filter_fallbacks},
                       {"lists_widened", total.lists_widened},
                       {"plan",
                        "a query scans its matching rows when they are at most the scan limit (fewer "
                        "than the walk would score), else walks the index admitting only them"}};
      }
      if (a->prewarm) j["prewarm"] = prewarmed;
      if (results_out) j["out"] = results_out->Describe();
      if (a->json.wanted()) {
        vx::Status s = a->json.Write(j);
        return s.ok() ? 0 : Fail(s);
      }
      std::FILE* report = results_out && results_out->to_stdout() ? stderr : stdout;
      fmt::print(report, "queries {}  k {}  {} {}  threads {}  pool {} MB\n", q->rows, a->sp.k,
                 ivf ? "probes" : "ef_search", ivf ? a->sp.probes : a->sp.ef_search, threads, a->memory_mb);
      if (a->prewarm) fmt::print(report, "{}\n", prewarmed);
      if (recall >= 0) fmt::print(report, "recall@{}          {:.4f}\n", a->sp.k, recall);
      fmt::print(report, "QPS                {:.0f}\n", nq / secs);
      fmt::print(report, "latency p50/p95/p99 {:.0f} / {:.0f} / {:.0f} us\n", pct(0.5), pct(0.95), pct(0.99));
      fmt::print(report, "SSD reads/query    {:.2f} ({} {:.2f}, vector {:.2f})\n",
                 (total.structure_reads + total.vector_reads) / nq, "structure", total.structure_reads / nq,
                 total.vector_reads / nq);
      fmt::print(report, "round trips/query  {:.2f}\n", total.round_trips / nq);
      if (!filters->empty()) {
        fmt::print(report,
                   "filter             {:.0f} matching rows/query, scan limit {:.0f}; plans: scan {} (matching <= "
                   "limit), walk {} ({} fell back to the scan)\n",
                   total.filter_rows / nq, total.filter_scan_limit / nq, total.filter_scans, total.filter_walks,
                   total.filter_fallbacks);
      }
      fmt::print(report, "reranked/query     {:.1f} of {}\n", total.vectors_reranked / nq,
                 (*index)->RerankDepth(a->sp));
      fmt::print(report, "hit ratio          {} {:.3f}, vector {:.3f}\n", "structure",
                 j["structure_hit_ratio"].get<double>(), j["vector_hit_ratio"].get<double>());
      fmt::print(report, "peak RSS           {:.0f} MB\n", PeakRssMb());
      if (results_out && !results_out->to_stdout()) fmt::print(report, "results in {}\n", results_out->Describe());
      return 0;
    };
  });
}

namespace {

// The writer of the index in `dir`, opened with a small pool (writes touch
// no pages).
vx::Result<std::unique_ptr<vx::IndexWriter>> OpenWriter(const std::string& dir, const vx::WriterOptions& options = {}) {
  vx::IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
  return vx::IndexWriter::Open(dir, io, options);
}

// The rows, WAL and segments of an index, as JSON (info, and the writer's
// commands after they run).
nlohmann::json WriteStateJson(const std::string& dir, const vx::IndexInfo& i) {
  nlohmann::json j = {{"index", dir},
                      {"live", i.count + i.inserted - i.deleted},
                      {"inserted", i.inserted},
                      {"deleted", i.deleted},
                      {"write_bytes", i.write_bytes},
                      {"wal_bytes", i.wal_bytes},
                      {"segments", nlohmann::json::array()}};
  for (const vx::SegmentInfo& seg : i.segments)
    j["segments"].push_back({{"id", seg.id}, {"kind", seg.kind}, {"bytes", seg.bytes}});
  return j;
}

}  // namespace

void AddInfo(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Parameters, sizes and memory needs of an index");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      const std::string* dir = &a->dir;
      vx::IndexOptions io;
      io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto index = vx::Index::Open(*dir, io);
      if (!index.ok()) return Fail(index.status());
      const vx::IndexInfo& i = (*index)->info();
      if (a->json.wanted()) {
        nlohmann::json j = WriteStateJson(*dir, i);
        j.update({{"type", vx::IndexTypeName(i.type)},
                  {"count", i.count},
                  {"dim", i.dim},
                  {"metric", vx::MetricName(i.metric)},
                  {"quant", i.quant},
                  {"quant_choice", i.quant_choice},
                  {"storage", vx::ElementTypeName(i.storage)},
                  {"page_size", i.page_size},
                  {"structure_bytes", i.structure_bytes},
                  {"vector_bytes", i.vector_bytes},
                  {"resident_bytes", i.resident_bytes},
                  {"generation", i.generation},
                  {"attribute_bytes", i.attribute_bytes},
                  {"attributes", nlohmann::json::object()}});
        for (const auto& [name, type] : i.attributes) j["attributes"][name] = vx::AttributeTypeName(type);
        if (i.type == vx::IndexType::kIvf) {
          j.update({{"lists", i.lists}, {"replicas", i.replicas}, {"entries", i.entries}});
        } else {
          j.update({{"m", i.m}, {"ef_construction", i.ef_construction}, {"max_level", i.max_level}});
        }
        vx::Status s = a->json.Write(j);
        return s.ok() ? 0 : Fail(s);
      }
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
      if (!i.attributes.empty()) {
        std::string cols;
        for (const auto& [name, type] : i.attributes)
          cols += fmt::format("{}{} {}", cols.empty() ? "" : ", ", name, vx::AttributeTypeName(type));
        fmt::print("  attributes: {} ({:.1f} MB in RAM, counted above)\n", cols, i.attribute_bytes / 1e6);
      }
      fmt::print("  rows: {} live ({} built, {} inserted, {} deleted); WAL {} bytes not checkpointed\n",
                 i.count + i.inserted - i.deleted, i.count, i.inserted, i.deleted, i.wal_bytes);
      if (i.write_bytes > 0)
        fmt::print("  writes in RAM: {:.1f} MB (inserted rows searched exactly, tombstones)\n", i.write_bytes / 1e6);
      if (i.segments.empty()) fmt::print("  segments: none (the base generation only)\n");
      for (const vx::SegmentInfo& seg : i.segments)
        fmt::print("  segment {}: {} ({:.1f} MB)\n", seg.id, seg.kind, seg.bytes / 1e6);
      PrintServing(structure, i.resident_bytes + i.write_bytes, i.structure_bytes);
      return 0;
    };
  });
}

namespace {

// What RunBatches measured.
struct BatchRun {
  uint64_t batches = 0, done = 0;  // items written
  double seconds = 0, checkpoint_seconds = 0;
  double p50_us = 0, p99_us = 0;  // a batch's latency until durable
};

// Writes `total` items in batches of `batch` from `threads` threads (their
// fsyncs are shared), `write(at, n)` writing items [at, at + n), with a
// progress bar; then checkpoints if asked. The first error stops it, saying
// how many items were written before.
vx::Result<BatchRun> RunBatches(vx::IndexWriter& w, const char* what, uint64_t total, uint64_t batch, int threads,
                                bool checkpoint, const std::function<vx::Status(uint64_t, uint64_t)>& write) {
  BatchRun run;
  Progress bar(what, total, "rows");
  run.batches = (total + batch - 1) / batch;
  std::vector<float> latency_us(run.batches);
  std::atomic<uint64_t> next{0};
  std::mutex mu;  // the bar, run.done and the first error
  vx::Status failed;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (uint64_t b; (b = next++) < run.batches;) {
        const uint64_t at = b * batch, n = std::min<uint64_t>(batch, total - at);
        const auto t0 = std::chrono::steady_clock::now();
        const vx::Status s = write(at, n);
        latency_us[b] = std::chrono::duration<float, std::micro>(std::chrono::steady_clock::now() - t0).count();
        std::lock_guard lock(mu);
        if (!s.ok()) {
          if (failed.ok()) failed = s;
          next = run.batches;
          return;
        }
        bar.Update(run.done += n);
      }
    });
  }
  for (auto& t : pool) t.join();
  if (!failed.ok()) return failed.WithContext(std::to_string(run.done) + " rows were written before this");
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.Finish();
  run.p50_us = Quantile(latency_us, 0.5);
  run.p99_us = Quantile(latency_us, 0.99);
  if (checkpoint) {
    const auto t0 = std::chrono::steady_clock::now();
    VX_RETURN_IF_ERROR(w.Checkpoint());
    run.checkpoint_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return run;
}

// The command's report: JSON (the writer's state and the run's figures) or
// two lines.
int ReportBatches(const JsonOut& json, const std::string& dir, const char* verb, const BatchRun& r, bool checkpoint,
                  const vx::IndexInfo& i) {
  if (json.wanted()) {
    nlohmann::json j = WriteStateJson(dir, i);
    j.update({{std::string(verb) + "_now", r.done},
              {"batches", r.batches},
              {"seconds", r.seconds},
              {"rows_per_s", r.done / r.seconds},
              {"batch_latency_us_p50", r.p50_us},
              {"batch_latency_us_p99", r.p99_us}});
    if (checkpoint) j["checkpoint_seconds"] = r.checkpoint_seconds;
    const vx::Status s = json.Write(j);
    return s.ok() ? 0 : Fail(s);
  }
  fmt::print("{}: {} {} rows in {} batches, {:.0f} rows/s, a batch durable in {:.0f} us p50, {:.0f} us p99\n", dir,
             verb, r.done, r.batches, r.done / r.seconds, r.p50_us, r.p99_us);
  fmt::print("{}: {} live ({} built, {} inserted, {} deleted); WAL {} bytes\n", dir, i.count + i.inserted - i.deleted,
             i.count, i.inserted, i.deleted, i.wal_bytes);
  return 0;
}

// Options every writing command shares.
struct WriteArgs {
  std::string dir;
  uint64_t batch = 0;
  int threads = 1;
  bool checkpoint = false;
  JsonOut json;
};

void AddWriteOptions(CLI::App* cmd, WriteArgs* a, uint64_t batch) {
  a->batch = batch;
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--batch", a->batch, "Rows a WAL record (one fsync each)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 24));
  cmd->add_option("--threads", a->threads, "Threads writing batches at once (their fsyncs are shared)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--checkpoint", a->checkpoint, "Checkpoint after the writes (fold the WAL into segments)");
  AddJsonOption(cmd, &a->json);
}

}  // namespace

void AddDelete(CLI::App& app, RunFn* run) {
  struct Args : WriteArgs {
    std::string ids;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("delete", "Delete rows by key (durable through the WAL when it returns)");
  AddWriteOptions(cmd, a.get(), 100000);
  cmd->add_option("--ids", a->ids, "The keys to delete (.npy int64, .ibin or .ivecs)")->required();
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto keys = vx::ReadKeys(a->ids);
      if (!keys.ok()) return Fail(keys.status());
      auto w = OpenWriter(a->dir);
      if (!w.ok()) return Fail(w.status());
      // Every key is checked before any is deleted: a bad file deletes nothing
      // (each batch is atomic on its own, the file is not).
      std::vector<int64_t> sorted = *keys;
      std::sort(sorted.begin(), sorted.end());
      if (auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end())
        return Fail(
            vx::Status::InvalidArgument(a->ids + ": key " + std::to_string(*it) + " repeats; nothing was deleted"));
      for (uint64_t i = 0; i < keys->size(); ++i) {
        if (!(*w)->Contains((*keys)[i]))
          return Fail(vx::Status::NotFound(a->ids + ": key " + std::to_string((*keys)[i]) + " (row " +
                                           std::to_string(i) + ") does not exist or is already deleted in " + a->dir +
                                           "; nothing was deleted"));
      }
      auto r = RunBatches(**w, "delete", keys->size(), a->batch, a->threads, a->checkpoint,
                          [&](uint64_t at, uint64_t n) { return (*w)->Delete(keys->data() + at, n); });
      if (!r.ok()) return Fail(r.status());
      return ReportBatches(a->json, a->dir, "deleted", *r, a->checkpoint, (*w)->info());
    };
  });
}

void AddInsert(CLI::App& app, RunFn* run) {
  struct Args : WriteArgs {
    std::string vectors, ids, attrs;
    bool upsert = false;
    uint64_t delta_memory_mb = vx::WriterOptions{}.delta_memory_bytes >> 20;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("insert", "Insert (or with --upsert, replace) rows by key, durable when it returns");
  AddWriteOptions(cmd, a.get(), 10000);
  cmd->add_option("--vectors", a->vectors, "The rows' vectors (.fbin, .fvecs, .npy float32)")->required();
  cmd->add_option("--ids", a->ids,
                  "Their keys (.npy int64, .ibin or .ivecs; default: the next row numbers, from built plus inserted "
                  "rows)");
  cmd->add_option("--attrs", a->attrs,
                  "Their attributes, one row per vector, as vxctl build takes them (FILE.jsonl, or a directory of "
                  ".npy columns); required when the index has attribute columns");
  cmd->add_flag("--upsert", a->upsert, "Replace the rows of keys that exist instead of refusing them");
  cmd->add_option("--delta-memory", a->delta_memory_mb,
                  "RAM the inserted rows may hold, MB (they are scanned exactly until vxctl reindex folds them in)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto vectors = vx::ReadAllFloat(a->vectors);
      if (!vectors.ok()) return Fail(vectors.status());
      vx::WriterOptions wo;
      wo.delta_memory_bytes = a->delta_memory_mb << 20;
      auto w = OpenWriter(a->dir, wo);
      if (!w.ok()) return Fail(w.status());
      const vx::IndexInfo before = (*w)->info();
      if (vectors->dim != before.dim) {
        return Fail(vx::Status::InvalidArgument(a->vectors + ": vectors of " + std::to_string(vectors->dim) +
                                                " dims; the index in " + a->dir + " has " + std::to_string(before.dim) +
                                                "; nothing was inserted"));
      }
      std::vector<int64_t> keys;
      if (!a->ids.empty()) {
        auto read = vx::ReadKeys(a->ids);
        if (!read.ok()) return Fail(read.status());
        keys = std::move(*read);
        if (keys.size() != vectors->rows) {
          return Fail(vx::Status::InvalidArgument(a->ids + ": " + std::to_string(keys.size()) + " keys for the " +
                                                  std::to_string(vectors->rows) + " vectors of " + a->vectors +
                                                  "; nothing was inserted"));
        }
      } else {
        for (uint64_t i = 0; i < vectors->rows; ++i) keys.push_back(int64_t(before.count + before.inserted + i));
      }
      vx::Attributes attrs;
      if (!a->attrs.empty()) {
        auto read = ReadAttributes(a->attrs);
        if (!read.ok()) return Fail(read.status());
        auto rows = read->Rows();
        if (!rows.ok()) return Fail(vx::Status::InvalidArgument(a->attrs + ": " + rows.status().message()));
        if (*rows != vectors->rows) {
          return Fail(vx::Status::InvalidArgument(a->attrs + ": " + std::to_string(*rows) + " rows for the " +
                                                  std::to_string(vectors->rows) + " vectors of " + a->vectors +
                                                  "; nothing was inserted"));
        }
        attrs = std::move(*read);
      }
      // The whole file is checked before any row is written (the reader
      // refused NaN and Inf; the attributes' columns, checked by the first
      // batch, are every batch's): a bad file writes nothing (each batch is
      // atomic on its own, the file is not).
      const std::string source = a->ids.empty() ? a->vectors : a->ids;
      std::vector<int64_t> sorted = keys;
      std::sort(sorted.begin(), sorted.end());
      if (auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end())
        return Fail(
            vx::Status::InvalidArgument(source + ": key " + std::to_string(*it) + " repeats; nothing was inserted"));
      for (uint64_t i = 0; i < keys.size(); ++i) {
        if (!a->upsert && (*w)->Contains(keys[i])) {
          return Fail(vx::Status::InvalidArgument(source + ": key " + std::to_string(keys[i]) + " (row " +
                                                  std::to_string(i) + ") exists in " + a->dir +
                                                  " (--upsert replaces it); nothing was inserted"));
        }
      }
      vx::IndexWriter& writer = **w;
      auto r = RunBatches(writer, a->upsert ? "upsert" : "insert", keys.size(), a->batch, a->threads, a->checkpoint,
                          [&](uint64_t at, uint64_t n) {
                            const vx::Attributes batch = attrs.Slice(at, n);
                            return a->upsert ? writer.Upsert(keys.data() + at, vectors->row(at), n, batch)
                                             : writer.Insert(keys.data() + at, vectors->row(at), n, batch);
                          });
      if (!r.ok()) return Fail(r.status());
      return ReportBatches(a->json, a->dir, a->upsert ? "upserted" : "inserted", *r, a->checkpoint, writer.info());
    };
  });
}

void AddCheckpoint(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("checkpoint", "Fold the WAL into segments committed with the manifest, then empty it");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto w = OpenWriter(a->dir);
      if (!w.ok()) return Fail(w.status());
      const uint64_t wal_before = (*w)->info().wal_bytes;
      const vx::Status s = (*w)->Checkpoint();
      if (!s.ok()) return Fail(s);
      const vx::IndexInfo i = (*w)->info();
      if (a->json.wanted()) {
        nlohmann::json j = WriteStateJson(a->dir, i);
        j["wal_bytes_folded"] = wal_before - i.wal_bytes;
        const vx::Status js = a->json.Write(j);
        return js.ok() ? 0 : Fail(js);
      }
      fmt::print("{}: folded {} WAL bytes; {} segments; {} live, {} inserted, {} deleted\n", a->dir,
                 wal_before - i.wal_bytes, i.segments.size(), i.count + i.inserted - i.deleted, i.inserted, i.deleted);
      return 0;
    };
  });
}

// vxctl reindex (vacuum false) and vxctl vacuum: a new generation of the
// index's live rows, built anew or from its own structure.
void AddRebuild(CLI::App& app, RunFn* run, bool vacuum) {
  struct Args {
    std::string dir;
    int threads = 0;
    uint64_t build_memory_mb = 8192;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      vacuum ? app.add_subcommand("vacuum",
                                  "Reclaim deleted rows and link inserted ones in from the index's own graph (VACUUM): "
                                  "repairs the links around deleted rows instead of rebuilding; empties the WAL")
             : app.add_subcommand("reindex",
                                  "Rebuild an index from its own live rows (REINDEX): reclaims deleted rows, links "
                                  "inserted ones in, empties the WAL");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("--threads", a->threads, "Threads (0: all cores; fewer leave CPU to searches)")
      ->capture_default_str();
  cmd->add_option("--build-memory", a->build_memory_mb, "Build memory budget, MB")->capture_default_str();
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a, vacuum] {
    *run = [a, vacuum]() -> int {
      vx::IndexOptions io;
      io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
      auto writer = vx::IndexWriter::Open(a->dir, io);
      if (!writer.ok()) return Fail(writer.status());
      const vx::IndexInfo was = (*writer)->info();
      vx::BuildOptions o;
      o.threads = a->threads;
      o.build_memory_bytes = a->build_memory_mb << 20;
      BuildProgress bar(&o);
      const auto t0 = Clock::now();
      const vx::Status s = vacuum ? (*writer)->Vacuum(o) : (*writer)->Reindex(o);
      bar.Finish();
      if (!s.ok()) return Fail(s);
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      const vx::IndexInfo now = (*writer)->info();
      if (a->json.wanted()) {
        nlohmann::json j = WriteStateJson(a->dir, now);
        j.update({{"seconds", seconds},
                  {"rows_before", was.count + was.inserted},
                  {"rows_reclaimed", was.deleted},
                  {"generation", now.generation}});
        const vx::Status js = a->json.Write(j);
        return js.ok() ? 0 : Fail(js);
      }
      fmt::print(
          "{}: {} {} live rows in {:.1f} s ({} built and {} inserted before, {} deleted rows reclaimed); "
          "generation {}\n",
          a->dir, vacuum ? "vacuumed" : "reindexed", now.count, seconds, was.count, was.inserted, was.deleted,
          now.generation);
      return 0;
    };
  });
}

void AddVerify(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "verify", "Check every file and page of an index (pg_amcheck for vx); exit 1 when anything is wrong");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      auto r = vx::Index::Verify(a->dir);
      if (!r.ok()) return Fail(r.status());
      if (a->json.wanted()) {
        vx::Status s = a->json.Write(nlohmann::json{
            {"index", a->dir}, {"files", r->files}, {"pages", r->pages}, {"ok", r->ok()}, {"problems", r->problems}});
        if (!s.ok()) return Fail(s);
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
  fmt::print(o.table, "{:>8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}\n", "threads", o.knob, "rerank",
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
      fmt::print(o.table, "threads {}: {}\n", threads, line);
    }
    if (o.warmup && !o.warmup_queries) {
      // The measured queries, untimed, at every swept value: the pool then
      // holds every page the sweep reads, when they fit (an in-memory run).
      // One pass at the largest value would not do: the rows a bounded
      // rerank reads depend on the candidates, which differ by value.
      for (uint32_t v : o.values)
        VX_RETURN_IF_ERROR(RunQueries(*index, q, o.queries_source, with(v), threads).status());
    } else if (o.warmup) {
      // A separate warm-up set (thousands of queries modelling a cold start):
      // at the largest value, to touch the most structure pages, reranking
      // only as deep as the smallest value (IVF's rerank grows with probes,
      // and the warm-up would spend its time on vector-page reads).
      const vx::FloatMatrix& wq = *o.warmup_queries;
      if (wq.dim != q.dim) return vx::Status::InvalidArgument("warm-up queries and queries differ in dimension");
      vx::SearchParams wp = with(*std::max_element(o.values.begin(), o.values.end()));
      wp.rerank = index->RerankDepth(with(*std::min_element(o.values.begin(), o.values.end())));
      VX_RETURN_IF_ERROR(RunQueries(*index, wq, o.warmup_source, wp, threads).status());
    }
    uint32_t best = 0;
    for (uint32_t v : o.values) {
      VX_ASSIGN_OR_RETURN(Run r, RunQueries(*index, q, o.queries_source, with(v), threads));
      const double recall = RecallAt(r, gt, k);
      const vx::SearchStats& s = r.stats;
      const double hit = s.structure_pages ? 1.0 - double(s.structure_reads) / s.structure_pages : 0.0;
      const uint32_t rerank = index->RerankDepth(with(v));
      fmt::print(o.table, "{:>8} {:>9} {:>7} {:>9.4f} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.2f} {:>8.2f} {:>10.3f}\n",
                 threads, v, rerank, recall, r.Qps(), r.Pct(0.5), r.Pct(0.99),
                 r.PerQuery(s.structure_reads + s.vector_reads), r.PerQuery(s.round_trips), hit);
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
      fmt::print(o.table, "threads {}: smallest {} with recall@{} >= {}: {}\n", threads, o.knob, k, o.target, best);
    else
      fmt::print(o.table, "threads {}: no {} in the sweep reaches recall@{} >= {}\n", threads, o.knob, k, o.target);
  }
  return vx::Status::Ok();
}

namespace {

// Tick values for a log axis over [lo, hi]: 1, 2 and 5 times powers of ten.
std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * decade >= lo && m * decade <= hi) ticks.push_back(m * decade);
    }
  }
  return ticks;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '\'')
      out += "&apos;";
    else
      out += c;
  }
  return out;
}

std::string Compact(double v) {
  if (v >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

}  // namespace

// Recall (x) against QPS (y, log scale) as SVG: axes with ticks, numbers and
// gridlines, the target recall as a dashed line, one colour per thread
// count, each point labelled with its ef_search or probes, and a line
// through each thread count's Pareto front (points off it hollow).
vx::Status WritePlot(const std::string& path, const nlohmann::json& rows, const std::vector<int>& thread_counts,
                     const std::string& knob, uint32_t k, double target, const std::string& title) {
  constexpr double W = 760, H = 500, L = 70, R = 130, T = 50, B = 55;
  double qmin = 1e300, qmax = 0, rmin = 1, rmax = 0;
  for (const auto& r : rows) {
    qmin = std::min(qmin, r["qps"].get<double>());
    qmax = std::max(qmax, r["qps"].get<double>());
    rmin = std::min(rmin, r["recall"].get<double>());
    rmax = std::max(rmax, r["recall"].get<double>());
  }
  // Recall from a round tenth below the lowest point (and the target) to 1.
  rmin = std::floor(std::min(rmin, target) * 10 - 1e-9) / 10;
  rmax = 1.0;
  if (rmin >= rmax) rmin = rmax - 0.1;
  qmin = std::pow(10.0, std::floor(std::log10(std::max(qmin, 1e-3))));
  qmax = std::pow(10.0, std::ceil(std::log10(std::max(qmax, qmin * 1.01)) + 1e-12));
  auto x = [&](double r) { return L + (r - rmin) / (rmax - rmin) * (W - L - R); };
  auto y = [&](double q) {
    return H - B - (std::log(q) - std::log(qmin)) / (std::log(qmax) - std::log(qmin)) * (H - B - T);
  };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' font-size='12'>\n"
      "<rect width='100%' height='100%' fill='white'/>\n"
      "<text x='{}' y='22' font-size='14' text-anchor='middle'>{}</text>\n",
      W, H, (W - R + L) / 2, XmlEscape(title));
  // Gridlines and ticks: recall every 0.01 (0.05 when the span is wide), QPS at 1-2-5.
  const double step = rmax - rmin > 0.25 ? 0.05 : rmax - rmin > 0.1 ? 0.02 : 0.01;
  for (double r = rmin; r <= rmax + 1e-9; r += step) {
    svg += fmt::format(
        "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2}' stroke='#ddd'/>"
        "<text x='{0:.1f}' y='{3}' text-anchor='middle'>{4:.2f}</text>\n",
        x(r), T, H - B + 5, H - B + 18, r);
  }
  for (double q : LogTicks(qmin, qmax)) {
    svg += fmt::format(
        "<line x1='{0}' y1='{1:.1f}' x2='{2}' y2='{1:.1f}' stroke='#ddd'/>"
        "<text x='{3}' y='{4:.1f}' text-anchor='end'>{5}</text>\n",
        L - 5, y(q), W - R, L - 8, y(q) + 4, Compact(q));
  }
  svg += fmt::format(
      "<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='black'/><line x1='{0}' y1='{3}' x2='{0}' y2='{1}' "
      "stroke='black'/>\n"
      "<text x='{4}' y='{5}' text-anchor='middle'>recall@{6}</text>\n"
      "<text x='16' y='{7}' text-anchor='middle' transform='rotate(-90 16 {7})'>queries per second (log)</text>\n",
      L, H - B, W - R, T, (W - R + L) / 2, H - 12, k, (H - B + T) / 2);
  svg += fmt::format(
      "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2}' stroke='#888' stroke-dasharray='6,4'/>"
      "<text x='{0:.1f}' y='{3}' fill='#555' text-anchor='middle'>target {4:g}</text>\n",
      x(target), T, H - B, T - 6, target);
  for (size_t line = 0; line < thread_counts.size(); ++line) {
    const int threads = thread_counts[line];
    // Evenly spaced hues: as many distinct colours as thread counts.
    const std::string colour = fmt::format("hsl({:.0f},70%,40%)", 360.0 * line / thread_counts.size() + 210);
    std::vector<std::pair<double, double>> pts;  // (recall, qps)
    std::vector<uint32_t> values;
    for (const auto& r : rows) {
      if (r["threads"].get<int>() != threads) continue;
      pts.emplace_back(r["recall"].get<double>(), r["qps"].get<double>());
      values.push_back(r[knob].get<uint32_t>());
    }
    std::vector<size_t> front;  // indices of points no other point beats on both axes
    for (size_t i = 0; i < pts.size(); ++i) {
      bool beaten = false;
      for (size_t j = 0; j < pts.size() && !beaten; ++j) {
        beaten = j != i && pts[j].first >= pts[i].first && pts[j].second >= pts[i].second &&
                 (pts[j].first > pts[i].first || pts[j].second > pts[i].second);
      }
      if (!beaten) front.push_back(i);
    }
    std::sort(front.begin(), front.end(), [&](size_t a, size_t b) { return pts[a].first < pts[b].first; });
    std::string polyline;
    for (size_t i : front) polyline += fmt::format("{:.1f},{:.1f} ", x(pts[i].first), y(pts[i].second));
    svg += fmt::format("<polyline points='{}' fill='none' stroke='{}' stroke-width='2'/>\n", polyline, colour);
    for (size_t i = 0; i < pts.size(); ++i) {
      const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
      svg += fmt::format(
          "<circle cx='{:.1f}' cy='{:.1f}' r='4' fill='{}' stroke='{}'/>"
          "<text x='{:.1f}' y='{:.1f}' font-size='10' fill='{}'>{}</text>\n",
          x(pts[i].first), y(pts[i].second), on_front ? colour : "white", colour, x(pts[i].first) + 6,
          y(pts[i].second) - 6, colour, values[i]);
    }
    svg += fmt::format("<text x='{}' y='{}' fill='{}'>&#9679; {} thread{}</text>\n", W - R + 12, T + 20 + 18 * line,
                       colour, threads, threads > 1 ? "s" : "");
  }
  svg += fmt::format("<text x='{}' y='{}' fill='#555' font-size='10'>labels: {}</text>\n", W - R + 12,
                     T + 20 + 18 * thread_counts.size(), knob);
  svg += "</svg>\n";
  std::ofstream f(path);
  f << svg;
  f.close();
  if (!f) return vx::Status::IOError(path + ": write failed");
  return vx::Status::Ok();
}

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddBench(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, queries, gt, sweep = "ef-search=10,20,40,80,160,320", plot;
    JsonOut json;
    SearchFlags flags;
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
  cmd->add_option("--sweep", a->sweep, "ef-search=LIST (HNSW) or probes=LIST (IVF)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Thread counts (list; 0 = all cores)")
      ->delimiter(',')
      ->check(CLI::Range(0, vx::kMaxThreads));
  AddMemoryOption(cmd, &a->memory_mb);
  cmd->add_option("--target-recall", a->target, "Report the smallest setting reaching this recall")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  a->flags = AddSearchOptions(cmd, &a->sp);  // the swept one is overridden per row
  cmd->add_flag("--warmup", a->warmup,
                "Run the queries untimed before each thread count's sweep, once at each swept value (with "
                "--warmup-queries: once, at the largest value, reranking only as deep as the smallest value does)");
  cmd->add_option(
      "--warmup-queries", a->warmup_queries,
      "With --warmup: warm with these queries instead (so the measured queries' own pages are not pre-read)");
  cmd->add_flag("--prewarm", a->prewarm,
                std::string(kPrewarmHelp) + ", before each thread count's sweep (and its --warmup)");
  AddJsonOption(cmd, &a->json);
  cmd->add_option("--plot", a->plot, "Write a recall-QPS plot (SVG) to this file");
  cmd->callback([run, a] {
    *run = [a]() -> int {
      const size_t eq = a->sweep.find('=');
      // ef-search as the flag is spelled; ef_search as pgvector's setting is.
      const std::string knob = a->sweep.substr(0, eq) == "ef-search" ? "ef_search" : a->sweep.substr(0, eq);
      if (eq == std::string::npos || (knob != "ef_search" && knob != "probes"))
        return Usage(fmt::format("--sweep: expected ef-search=LIST or probes=LIST, got '{}'", a->sweep));
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
      if (values.empty())
        return Usage(fmt::format("--sweep: '{}' is not a list of whole numbers from 1 to 10000", a->sweep));
      for (int& t : a->threads) t = vx::ResolveThreads(t);
      {
        vx::IndexOptions small;
        small.structure_cache_bytes = small.vector_cache_bytes = 1 << 16;
        auto index = vx::Index::Open(a->dir, small);
        if (!index.ok()) return Fail(index.status());
        if (std::string bad = InapplicableFlag(a->flags, a->dir, (*index)->info().type); !bad.empty())
          return Usage(bad);
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
      SweepOptions so{a->dir,
                      knob,
                      values,
                      a->threads,
                      a->memory_mb,
                      a->target,
                      a->sp,
                      a->warmup,
                      wq ? &*wq : nullptr,
                      a->prewarm,
                      a->queries,
                      a->warmup_queries,
                      a->json.to_stdout() ? stderr : stdout};
      vx::Status st = Sweep(so, *q, *gt, &rows);
      if (!st.ok()) return Fail(st);
      if (a->json.wanted()) {
        vx::Status s = a->json.Write(
            nlohmann::json{{"index", a->dir}, {"memory_mb", a->memory_mb}, {"k", a->sp.k}, {"rows", rows}});
        if (!s.ok()) return Fail(s);
      }
      if (!a->plot.empty()) {
        vx::IndexOptions small;
        small.structure_cache_bytes = small.vector_cache_bytes = 1 << 16;
        auto index = vx::Index::Open(a->dir, small);
        if (!index.ok()) return Fail(index.status());
        const vx::IndexInfo& i = (*index)->info();
        const std::string title =
            fmt::format("{}: {} {} x {}, {} codes, k {}, memory {} MB", a->dir, vx::IndexTypeName(i.type), i.count,
                        i.dim, i.quant, a->sp.k, a->memory_mb);
        vx::Status s = WritePlot(a->plot, rows, a->threads, knob, a->sp.k, a->target, title);
        if (!s.ok()) return Fail(s);
      }
      return 0;
    };
  });
}

}  // namespace vxctl

namespace vxctl {

// snapshot and restore share their reporting: a progress bar in MB, then
// one line (or --json).
namespace {

int RunSnapshotJob(const std::string& verb, const JsonOut& json, const std::string& from, const std::string& to,
                   const std::function<vx::Result<vx::SnapshotInfo>(vx::SnapshotOptions&)>& job,
                   vx::SnapshotOptions o) {
  std::unique_ptr<Progress> bar;
  o.progress = [&](uint64_t done, uint64_t total, const char*) {
    if (!bar) bar = std::make_unique<Progress>(verb, total >> 20, "MB");
    bar->Update(done >> 20);
  };
  const auto t0 = Clock::now();
  auto info = job(o);
  if (bar) bar->Finish();
  if (!info.ok()) return Fail(info.status());
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (json.wanted()) {
    vx::Status s = json.Write({{"from", from},
                               {"to", to},
                               {"generation", info->generation},
                               {"files", info->files},
                               {"bytes", info->bytes},
                               {"archive_bytes", info->archive_bytes},
                               {"seconds", seconds}});
    return s.ok() ? 0 : Fail(s);
  }
  fmt::print("{} {} -> {}: generation {}, {} files, {:.1f} MB as {:.1f} MB ({:.2f}x) in {:.1f} s\n",
             verb == "snapshot" ? "snapshot" : "restored", from, to, info->generation, info->files, info->bytes / 1e6,
             info->archive_bytes / 1e6, info->archive_bytes ? double(info->bytes) / info->archive_bytes : 0.0, seconds);
  return 0;
}

}  // namespace

void AddSnapshot(CLI::App& app, RunFn* run) {
  struct Args {
    std::string dir, out;
    int level = 3;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "snapshot", "Write the committed index to one zstd-compressed, checksummed archive, while it serves");
  cmd->add_option("dir", a->dir, "Index directory")->required();
  cmd->add_option("out", a->out, "Archive file (written as OUT.tmp, renamed when whole)")->required();
  cmd->add_option("--level", a->level, "zstd level")->capture_default_str()->check(CLI::Range(1, 19));
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      vx::SnapshotOptions o;
      o.level = a->level;
      return RunSnapshotJob(
          "snapshot", a->json, a->dir, a->out,
          [&](vx::SnapshotOptions& so) { return vx::Snapshot(a->dir, a->out, so); }, o);
    };
  });
}

void AddRestore(CLI::App& app, RunFn* run) {
  struct Args {
    std::string archive, dir;
    JsonOut json;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "restore", "Restore a snapshot archive into an index directory, beside or over an index (atomic)");
  cmd->add_option("archive", a->archive, "Archive file (vxctl snapshot)")->required();
  cmd->add_option("dir", a->dir, "Index directory; an index there is replaced only once the archive is whole")
      ->required();
  AddJsonOption(cmd, &a->json);
  cmd->callback([run, a] {
    *run = [a]() -> int {
      return RunSnapshotJob(
          "restore", a->json, a->archive, a->dir,
          [&](vx::SnapshotOptions& so) { return vx::Restore(a->archive, a->dir, so); }, vx::SnapshotOptions{});
    };
  });
}

}  // namespace vxctl
