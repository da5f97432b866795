// vx/index.h: the table of index types, and dispatch through it by
// BuildOptions::type and by the manifest's "type" parameter: the one place
// that names every type.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "core/check.h"
#include "core/parallel.h"
#include "core/posix.h"
#include "hnsw/hnsw.h"
#include "index/index_base.h"
#include "index/index_writer.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/page.h"
#include "io/wal.h"
#include "ivf/ivf.h"
#include "quant/quantizer.h"
#include "vx/index.h"

namespace vx {
namespace {

// Every index type, once.
constexpr const IndexTypeOps* kIndexTypes[] = {&hnsw::kType, &ivf::kType};

const IndexTypeOps& EntryOf(IndexType t) {
  for (const IndexTypeOps* e : kIndexTypes) {
    if (e->type == t) return *e;
  }
  VX_CHECK(false);  // every IndexType has an entry
  return *kIndexTypes[0];
}

const IndexTypeOps* EntryNamed(const std::string& name) {
  for (const IndexTypeOps* e : kIndexTypes) {
    if (name == e->name) return e;
  }
  return nullptr;
}

std::string TypeNames() {
  std::string s;
  for (const IndexTypeOps* e : kIndexTypes) s += std::string(s.empty() ? "" : " | ") + e->name;
  return s;
}

}  // namespace

const char* IndexTypeName(IndexType t) { return EntryOf(t).name; }

Result<IndexType> ParseIndexType(const std::string& s) {
  if (const IndexTypeOps* e = EntryNamed(s)) return e->type;
  return Status::InvalidArgument("unknown index type '" + s + "' (" + TypeNames() + ")");
}

void SearchStats::Add(const SearchStats& o) {
  structure_pages += o.structure_pages;
  structure_reads += o.structure_reads;
  vector_pages += o.vector_pages;
  vector_reads += o.vector_reads;
  round_trips += o.round_trips;
  codes_scored += o.codes_scored;
  vectors_reranked += o.vectors_reranked;
  lists_widened += o.lists_widened;
  delta_rows_scanned += o.delta_rows_scanned;
  filter_rows += o.filter_rows;
  filter_scan_limit += o.filter_scan_limit;
  filter_scans += o.filter_scans;
  filter_walks += o.filter_walks;
  filter_fallbacks += o.filter_fallbacks;
}

Status BuildIndex(VectorSource& source, const std::string& dir, const BuildOptions& options) {
  return EntryOf(options.type).build(source, dir, options, nullptr);
}

Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options) {
  VX_ASSIGN_OR_RETURN(auto source, VectorSource::FromFile(base_path));
  return BuildIndex(*source, dir, options);
}

namespace {

// A build's time as its progress reports it: before the first report
// (setup), then each phase from the report before to its last one.
class PhaseClock {
 public:
  PhaseClock() : start_(Now()), last_(start_) {}
  void Report(const char* phase) {
    const double t = Now();
    if (phases_.empty()) {
      setup_ = t - start_;
      phases_.push_back({phase, 0.0});
    } else {
      if (phases_.back().first != phase) phases_.push_back({phase, 0.0});
      phases_.back().second += t - last_;
    }
    last_ = t;
  }
  double setup() const { return setup_; }
  const std::vector<std::pair<std::string, double>>& phases() const { return phases_; }
  double after() const { return Now() - last_; }  // since the last report

 private:
  static double Now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  double start_, last_, setup_ = 0;
  std::vector<std::pair<std::string, double>> phases_;
};

uint64_t Scaled(uint64_t sample_value, uint64_t sample, uint64_t rows) {
  return static_cast<uint64_t>(double(sample_value) * double(rows) / double(sample) + 0.5);
}

// One calibration build's figures.
struct Calibration {
  PhaseClock clock;
  double commit = 0;  // seconds after the last report
  IndexInfo info;
  uint64_t disk = 0;  // its files' bytes
};

// A calibration build of rows [0, ns) of `rows` in a new directory under
// `scratch`, removed after.
Result<Calibration> Calibrate(const std::vector<float>& rows, uint64_t ns, uint32_t dim, const BuildOptions& c,
                              const std::string& scratch) {
  Calibration out;
  VX_ASSIGN_OR_RETURN(auto sample, VectorSource::FromMemory(rows.data(), ns, dim));
  BuildOptions o = c;
  if (!o.keys.empty()) o.keys.resize(ns);
  if (!o.attributes.empty()) o.attributes = c.attributes.Slice(0, ns);
  o.progress = [&](uint64_t done, uint64_t total, const char* phase) {
    out.clock.Report(phase);
    if (c.progress) c.progress(done, total, "calibrate");
  };
  std::string dir = scratch + "/vx-plan-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return ErrnoStatus(scratch + ": a directory for the calibration build", errno);
  struct Remove {
    const std::string& dir;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove{dir};
  VX_RETURN_IF_ERROR(
      BuildIndex(*sample, dir, o).WithContext("the calibration build of " + std::to_string(ns) + " rows"));
  out.commit = out.clock.after();
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 1 << 16;
  io.env = c.env;
  VX_ASSIGN_OR_RETURN(auto built, Index::Open(dir, io));
  out.info = built->info();
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) out.disk += f.file_size();
  }
  return out;
}

}  // namespace

// A calibration build of the sample in the whole build's shape; each
// phase's time on the whole source is the sample's scaled by the type's
// model; sizes scale from a build of the sample's own shape. A type whose
// build reads vectors at random (calibration_bytes: HNSW) builds the
// sample's first half too, and its phases scale also by how much faster
// than the model their time per row grew between the two (memory the
// larger build no longer finds in the CPU's caches).
Result<BuildPlan> PlanBuild(const std::string& base_path, const BuildOptions& options, const PlanOptions& plan) {
  const IndexTypeOps& ops = EntryOf(options.type);
  VX_ASSIGN_OR_RETURN(auto source, VectorSource::FromFile(base_path));
  BuildPlan out;
  out.count = source->count();
  out.dim = source->dim();
  const uint64_t n = out.count;
  if (n == 0) return Status::InvalidArgument(base_path + ": holds no rows to plan a build of");
  // The calibration has the build's shape (IVF: its lists), the serving
  // memory scaled to it.
  BuildOptions c = options;
  const bool reshaped = ops.fix_shape(n, &c);
  const uint64_t auto_rows = std::max<uint64_t>(20000, ops.calibration_bytes / (uint64_t{out.dim} * 4));
  out.sample_rows = std::min(n, std::max<uint64_t>(plan.sample_rows ? plan.sample_rows : auto_rows, 4ull * c.lists));
  const uint64_t ns = out.sample_rows;
  if (!c.keys.empty() && c.keys.size() != n)
    return Status::InvalidArgument(std::to_string(c.keys.size()) + " keys for " + std::to_string(n) + " rows");
  const uint64_t serve = options.serve_memory_bytes ? options.serve_memory_bytes : UsableMemoryBytes();
  c.serve_memory_bytes = std::max<uint64_t>(Scaled(serve, n, ns), 1);
  std::vector<float> rows(ns * out.dim);
  VX_RETURN_IF_ERROR(source->Rewind());
  for (uint64_t done = 0; done < ns;) {
    VX_ASSIGN_OR_RETURN(const size_t got, source->Read(ns - done, rows.data() + done * out.dim));
    if (got == 0) return Status::Corruption(base_path + ": ended at row " + std::to_string(done));
    done += got;
  }
  const std::string scratch = plan.scratch_dir.empty() ? "/var/tmp" : plan.scratch_dir;
  const uint64_t half = std::max<uint64_t>(ns / 2, 4ull * c.lists);
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<Calibration> small;
  if (ops.calibration_bytes > 0 && half < ns) {
    BuildOptions h = c;
    h.serve_memory_bytes = std::max<uint64_t>(Scaled(serve, n, half), 1);
    VX_ASSIGN_OR_RETURN(small, Calibrate(rows, half, out.dim, h, scratch));
  }
  VX_ASSIGN_OR_RETURN(const Calibration big, Calibrate(rows, ns, out.dim, c, scratch));
  // Sizes from a build of the sample's own shape: the whole build's shape
  // on fewer rows (IVF: its lists on a fraction of the rows) has emptier
  // pages and more of what is per list than per row.
  std::optional<Calibration> own;
  if (reshaped) {
    BuildOptions o = options;
    o.serve_memory_bytes = c.serve_memory_bytes;
    VX_ASSIGN_OR_RETURN(own, Calibrate(rows, ns, out.dim, o, scratch));
  }
  const Calibration& shaped = own ? *own : big;
  out.sample_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const IndexInfo& info = shaped.info;
  out.quant = info.quant;
  out.quant_choice = info.quant_choice;
  out.structure_bytes = static_cast<uint64_t>(double(info.structure_bytes) * ops.growth("structure", ns, n, c));
  out.disk_bytes = Scaled(shaped.disk - info.structure_bytes, ns, n) + out.structure_bytes;
  out.vector_bytes = Scaled(info.vector_bytes, ns, n);
  out.resident_bytes = Scaled(info.resident_bytes, ns, n);
  out.attribute_bytes = Scaled(info.attribute_bytes, ns, n);
  // Setup (choosing codes on a bounded sample) is taken once, the commit
  // after the last report linearly.
  out.build_seconds = big.clock.setup() + big.commit * double(n) / double(ns);
  for (const auto& [phase, seconds] : big.clock.phases()) {
    double excess = 0;  // the exponent of the growth beyond the model
    if (small) {
      for (const auto& [p, s] : small->clock.phases()) {
        if (p != phase || s <= 0 || seconds <= 0) continue;
        const double measured = seconds / s, model = ops.growth(phase.c_str(), half, ns, c);
        excess = std::clamp(std::log(measured / model) / std::log(double(ns) / double(half)), 0.0, 1.0);
      }
    }
    out.build_seconds += seconds * ops.growth(phase.c_str(), ns, n, c) * std::pow(double(n) / double(ns), excess);
  }
  VX_ASSIGN_OR_RETURN(const QuantSpec spec, ParseQuantSpec(info.quant));
  VX_ASSIGN_OR_RETURN(auto quantizer, Quantizer::Create(spec, options.metric, out.dim));
  VX_ASSIGN_OR_RETURN(const BuildMemory memory, ops.build_memory(n, out.dim, quantizer->code_size(), options));
  out.build_memory_bytes = memory.peak;
  out.least_build_memory_bytes = memory.least_budget;
  return out;
}

Status Index::SearchBatch(const float* queries, uint64_t n, const SearchParams& params, int threads, int64_t* keys,
                          float* distances, uint32_t* found, SearchStats* stats,
                          std::span<const Filter> filters) const {
  VX_RETURN_IF_ERROR(CheckThreads(threads, "threads"));
  if (n > 0 && (queries == nullptr || keys == nullptr)) return Status::InvalidArgument("queries or keys is null");
  if (!filters.empty() && filters.size() != n) {
    return Status::InvalidArgument(std::to_string(filters.size()) + " filters for " + std::to_string(n) +
                                   " queries; give one per query, or none");
  }
  const uint32_t dim = info().dim;
  const uint32_t k = params.k;
  std::mutex mu;
  uint64_t first_failed = n;
  Status failed;
  ParallelFor(n, threads, [&](size_t i) {
    thread_local std::vector<SearchResult> results;
    SearchStats one;
    SearchParams p = params;
    if (!filters.empty()) p.filter = &filters[i];
    Status s = Search(queries + i * dim, p, &results, &one);
    const size_t got = s.ok() ? results.size() : 0;
    for (size_t j = 0; j < k; ++j) {
      keys[i * k + j] = j < got ? results[j].key : -1;
      if (distances) distances[i * k + j] = j < got ? results[j].distance : std::numeric_limits<float>::infinity();
    }
    if (found) found[i] = static_cast<uint32_t>(got);
    if (stats) stats[i] = one;
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (i < first_failed) first_failed = i, failed = s.WithContext("query " + std::to_string(i));
    }
  });
  return failed;
}

namespace {

// The index the manifest in `dir` describes, opened by its type; `m` gets
// the manifest.
Result<std::unique_ptr<IndexBase>> OpenCommitted(Env* env, const std::string& dir, const IndexOptions& options,
                                                 Manifest* m) {
  VX_ASSIGN_OR_RETURN(*m, ReadManifest(env, dir));
  const auto type = m->params.find("type");
  const std::string name = type == m->params.end() ? "" : type->second;
  const IndexTypeOps* e = EntryNamed(name);
  if (e == nullptr) {
    return Status::NotSupported(dir + ": index type '" + name + "' is not one this build of vx knows (" + TypeNames() +
                                ")");
  }
  VX_ASSIGN_OR_RETURN(std::unique_ptr<Index> index, e->open(dir, *m, options));
  // Every type is an IndexBase.
  return std::unique_ptr<IndexBase>(static_cast<IndexBase*>(index.release()));
}

}  // namespace

Result<std::unique_ptr<Index>> Index::Open(const std::string& dir, const IndexOptions& options) {
  Env* env = options.env ? options.env : DefaultEnv();
  // The WAL is opened before the manifest the index is opened from is read.
  // A checkpoint commits its manifest before it replaces the log, so the
  // log held is the one that manifest's checkpoint continues, or an older
  // one whose records past it are all folded: either replays right, however
  // many checkpoints run meanwhile. What can still change under the open is
  // the generation (a rebuild) or the segment a checkpoint replaces (read
  // first of the files): then the manifest has changed and the new one is
  // the one to open. Each retry means another commit landed.
  constexpr int kTries = 10;
  for (int attempt = 1;; ++attempt) {
    VX_ASSIGN_OR_RETURN(const Manifest first, ReadManifest(env, dir));
    VX_ASSIGN_OR_RETURN(const std::unique_ptr<File> log, Wal::OpenForRead(env, first.FilePath(dir, kWalFile)));
    Manifest m;
    Result<std::unique_ptr<IndexBase>> index = OpenCommitted(env, dir, options, &m);
    Status s = !index.ok() ? index.status()
               : m.generation != first.generation
                   ? Status::Busy(dir + ": rebuilt while opening")
                   : (*index)->ReplayLog([&](const Wal::ReplayFn& replay, WalReplay* found) {
                       return Wal::Read(log.get(), m.FilePath(dir, kWalFile), replay, found);
                     });
    if (s.ok()) return std::unique_ptr<Index>(std::move(*index));
    if (attempt == kTries) return s;
    auto now = ReadManifest(env, dir);
    if (!now.ok() || (now->generation == m.generation && now->params == m.params && now->segments == m.segments))
      return s;
  }
}

Status Reindex(const std::string& dir, const BuildOptions& options) {
  IndexOptions io;
  io.env = options.env;
  io.structure_cache_bytes = io.vector_cache_bytes = 4 << 20;  // the rows are read once, in order
  VX_ASSIGN_OR_RETURN(std::unique_ptr<IndexWriter> writer, IndexWriter::Open(dir, io));
  return writer->Reindex(options);
}

Result<std::unique_ptr<IndexWriter>> IndexWriter::Open(const std::string& dir, const IndexOptions& options,
                                                       const WriterOptions& writer) {
  Env* env = options.env ? options.env : DefaultEnv();
  VX_RETURN_IF_ERROR(ReadManifest(env, dir).status());  // no index: say so, rather than fail to lock
  VX_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockIndexDir(env, dir));
  // Under the lock the committed generation stays the one read here.
  Manifest m;
  VX_ASSIGN_OR_RETURN(std::unique_ptr<IndexBase> index, OpenCommitted(env, dir, options, &m));
  WriterServices services;
  services.build = [dir](VectorSource& source, const BuildOptions& o, const BuildCommit& commit) {
    return EntryOf(o.type).build(source, dir, o, &commit);
  };
  services.open = [env, dir, options] {
    Manifest opened;
    return OpenCommitted(env, dir, options, &opened);
  };
  return OpenIndexWriter(std::move(lock), std::move(index), writer, std::move(services));
}

namespace {

// Reads every page of the paged file `name` of the committed generation,
// checking each (page 0 the file header, the rest of type `type`); each bad
// page is a problem line.
void VerifyPages(Env* env, const std::string& path, size_t page_size, PageType type, uint64_t binding,
                 VerifyReport* r) {
  auto f = env->OpenFile(path, OpenOptions{});
  if (!f.ok()) return r->problems.push_back(f.status().ToString());
  auto size = (*f)->Size();
  if (!size.ok()) return r->problems.push_back(size.status().ToString());
  if (*size % page_size != 0) {
    r->problems.push_back(path + ": " + std::to_string(*size) + " bytes, not a whole number of " +
                          std::to_string(page_size) + "-byte pages");
  }
  constexpr size_t kBatch = 256;
  AlignedBuffer buf(kBatch * page_size);
  for (uint64_t first = 0; first < *size / page_size; first += kBatch) {
    const uint64_t n = std::min<uint64_t>(kBatch, *size / page_size - first);
    size_t got = 0;
    const Status s = (*f)->Read(first * page_size, n * page_size, buf.data(), &got);
    if (!s.ok()) return r->problems.push_back(s.ToString());
    for (uint64_t i = 0; i < n; ++i) {
      const PageNo no{first + i};
      const Status ps = VerifyPage(buf.data() + i * page_size, page_size, no.value == 0 ? PageType::kFileHeader : type,
                                   no, binding, path);
      if (!ps.ok()) r->problems.push_back(ps.ToString());
      ++r->pages;
    }
  }
}

}  // namespace

Result<VerifyReport> Index::Verify(const std::string& dir, Env* env) {
  if (env == nullptr) env = DefaultEnv();
  VX_ASSIGN_OR_RETURN(const Manifest m, ReadManifest(env, dir));
  VerifyReport r;
  // 1. Every listed file, whole: each problem, not only the first.
  for (const ManifestFile& want : m.AllFiles()) {
    ++r.files;
    if (Status s = CheckFile(env, dir, m, want, /*full=*/true); !s.ok()) r.problems.push_back(s.ToString());
  }
  // 2. Every page of the paged files, one by one.
  const auto type = m.params.find("type");
  const IndexTypeOps* e = EntryNamed(type == m.params.end() ? "" : type->second);
  const auto ps = m.params.find("page_size");
  const size_t page_size = ps == m.params.end() ? 0 : std::strtoull(ps->second.c_str(), nullptr, 10);
  if (e == nullptr || !ValidatePageSize(page_size).ok()) {
    r.problems.push_back(dir + "/MANIFEST: no index type or page size this build of vx knows");
    return r;
  }
  for (const auto& [name, page_type] : {std::pair<std::string, PageType>{e->structure_file, e->structure_page},
                                        std::pair<std::string, PageType>{kVectorsFile, PageType::kVector}}) {
    if (env->FileExists(m.FilePath(dir, name)))
      VerifyPages(env, m.FilePath(dir, name), page_size, page_type, m.PageBindingOf(name), &r);
  }
  // 3. What an open checks beyond checksums: the files against each other
  // and the manifest.
  if (r.ok()) {
    IndexOptions o;
    o.env = env;
    o.structure_cache_bytes = o.vector_cache_bytes = 1 << 20;
    o.max_searchers = 1;
    auto index = Index::Open(dir, o);
    if (!index.ok()) r.problems.push_back(index.status().ToString());
  }
  return r;
}

Result<IndexOptions> IndexOptionsForMemory(const std::string& dir, uint64_t memory_bytes, Env* env) {
  if (env == nullptr) env = DefaultEnv();
  VX_ASSIGN_OR_RETURN(const Manifest m, ReadManifest(env, dir));
  const auto type = m.params.find("type");
  const IndexTypeOps* e = EntryNamed(type == m.params.end() ? "" : type->second);
  uint64_t structure = 0;
  for (const ManifestFile& f : m.files) {
    if (e != nullptr && f.name == e->structure_file) structure = f.size;
  }
  IndexOptions o;
  o.env = env;
  o.structure_cache_bytes = std::min(structure, memory_bytes * 3 / 4);
  o.vector_cache_bytes = memory_bytes - o.structure_cache_bytes;
  return o;
}

}  // namespace vx
