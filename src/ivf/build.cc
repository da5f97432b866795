// IVF build, streaming: the source is read twice and never held whole.
//   1. Plan the memory: the sample, one block and one gathering pass are
//      each sized from --build-memory; refuse only if the centroids and a
//      minimal block do not fit.
//   2. Pass 1: write the vectors file (source order) and keep a reservoir
//      sample (seeded).
//   3. Train balanced k-means centroids and the quantizer on the sample.
//   4. Pass 2: assign each block of rows to its nearest list (and, with
//      replicas, to next-nearest lists that pass the closure rule), encode
//      the block, and append (list, row, code) entries to a spill file.
//   5. Write the lists file list by list: each pass over the spill file
//      gathers the lists whose entries fit the budget, in list order.
//   6. Commit the manifest (the files are a new generation, written beside
//      any index already in `dir`).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string_view>
#include <thread>

#include "index/build.h"
#include "index/index_base.h"
#include "index/keys.h"
#include "io/paged_file.h"
#include "ivf/ivf.h"
#include "ivf/ivf_index.h"
#include "ivf/layout.h"
#include "quant/kmeans.h"

namespace vx::ivf {
namespace {

// SPANN's closure rule: a vector also joins a next-nearest list whose
// centroid is at most 10% farther than its nearest (distances unsquared;
// for ip, scores within 10% of the best).
constexpr float kClosure = 0.1f;

bool JoinsReplica(Metric metric, float nearest, float other) {
  if (metric == Metric::kInnerProduct) return other - nearest <= kClosure * std::abs(nearest);
  return other <= (1 + kClosure) * (1 + kClosure) * nearest;
}

// What the streamed build holds at once, sized from the budget.
struct Plan {
  uint32_t lists = 0, top = 1;  // top: 1 + replicas
  uint64_t block = 0;           // rows per block
  uint64_t sample_rows = 0;
  uint64_t gather_budget = 0;  // bytes of list entries gathered per pass
};

// Memory plan: centroids (and k-means' copy), per-list counts, and the sgemm
// scratch of each assignment task (1024 rows x up to 1024 centroid scores a
// thread) are fixed; a block row holds its floats, assignments and code; a
// sample row our copy, k-means' copy and its per-point bookkeeping.
struct MemoryModel {
  uint32_t lists = 0, top = 1;
  uint64_t threads = 1, fixed = 0, row_bytes = 0, sample_row_bytes = 0;
  static constexpr uint64_t kMinBlock = 256;

  static Result<MemoryModel> Make(uint64_t rows, uint32_t dim, size_t code_size, const BuildOptions& o) {
    if (o.replicas > 8) return Status::InvalidArgument("replicas must be in 0..8, not " + std::to_string(o.replicas));
    MemoryModel m;
    m.lists = o.lists ? o.lists : DefaultLists(rows);
    if (m.lists > rows) {
      return Status::InvalidArgument(std::to_string(m.lists) + " lists for " + std::to_string(rows) +
                                     " vectors: lists must not exceed rows");
    }
    m.top = 1 + std::min(o.replicas, m.lists - 1);
    m.threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    m.fixed =
        uint64_t{m.lists} * dim * 4 * 2 + uint64_t{m.lists} * 32 + m.threads * 1024 * std::min(m.lists, 1024u) * 4;
    m.row_bytes = uint64_t{dim} * 4 + m.top * 8 + code_size;
    m.sample_row_bytes = uint64_t{dim} * 8 + 104;
    return m;
  }
  // The least budget: the fixed part, a minimal block and a sample row a list.
  uint64_t least_budget() const {
    return 2 * (fixed + std::max(kMinBlock * row_bytes, uint64_t{lists} * sample_row_bytes));
  }
};

// The k-means sample before the budget caps it: 64 rows a list, at least
// 65,536, at most every row.
uint64_t TrainRows(uint64_t rows, uint32_t lists) {
  return std::min<uint64_t>(rows, std::max<uint64_t>(64 * uint64_t{lists}, 65536));
}

Result<Plan> PlanMemory(uint64_t rows, uint32_t dim, size_t code_size, const BuildOptions& o) {
  VX_ASSIGN_OR_RETURN(const MemoryModel m, MemoryModel::Make(rows, dim, code_size, o));
  Plan p;
  p.lists = m.lists;
  p.top = m.top;
  const uint64_t budget = o.build_memory_bytes;
  if (m.fixed + MemoryModel::kMinBlock * m.row_bytes > budget / 2) {
    return Status::ResourceExhausted("the IVF build needs at least " + std::to_string((m.least_budget() >> 10) + 1) +
                                     " KB for " + std::to_string(p.lists) + " centroids of " + std::to_string(dim) +
                                     " dims on " + std::to_string(m.threads) +
                                     " threads, above the build memory budget of " + std::to_string(budget >> 10) +
                                     " KB; raise --build-memory or lower --lists");
  }
  p.block = std::clamp<uint64_t>((budget / 4) / m.row_bytes, MemoryModel::kMinBlock, 65536);
  p.sample_rows = std::min<uint64_t>(TrainRows(rows, p.lists), (budget / 2 - m.fixed) / m.sample_row_bytes);
  if (p.sample_rows < p.lists) {
    return Status::ResourceExhausted(
        "the build memory budget of " + std::to_string(budget >> 20) + " MB holds a training sample of " +
        std::to_string(p.sample_rows) + " rows, fewer than the " + std::to_string(p.lists) +
        " lists; raise --build-memory (to " + std::to_string((m.least_budget() >> 20) + 1) + " MB) or lower --lists");
  }
  p.gather_budget = budget / 4;
  return p;
}

// The peak of the three passes: the sample beside a block and k-means; a
// block's assignment; the lists gathered for writing (at most every entry).
Result<BuildMemory> PeakMemory(uint64_t rows, uint32_t dim, size_t code_size, const BuildOptions& o) {
  VX_ASSIGN_OR_RETURN(const MemoryModel m, MemoryModel::Make(rows, dim, code_size, o));
  BuildMemory out;
  out.least_budget = m.least_budget();
  BuildOptions fits = o;
  fits.build_memory_bytes = std::max(o.build_memory_bytes, out.least_budget);
  VX_ASSIGN_OR_RETURN(const Plan p, PlanMemory(rows, dim, code_size, fits));
  const uint64_t train = m.fixed + p.sample_rows * m.sample_row_bytes + p.block * dim * 4;
  const uint64_t assign = m.fixed + p.block * m.row_bytes;
  const uint64_t write = std::min(p.gather_budget, rows * p.top * (4 + code_size)) + (1 << 20);
  out.peak = std::max({train, assign, write});
  return out;
}

bool FixShape(uint64_t rows, BuildOptions* o) {
  if (o->lists != 0) return false;
  o->lists = DefaultLists(rows);
  return true;
}

// k-means costs its sample times the lists, the assignment the rows times
// the lists; the other phases and the lists file are linear.
double Growth(const char* phase, uint64_t sample, uint64_t rows, const BuildOptions& o) {
  const auto lists = [&](uint64_t n) { return o.lists ? o.lists : DefaultLists(n); };
  const auto work = [&](uint64_t n, uint64_t per_list) { return double(per_list) * double(lists(n)); };
  const std::string_view p(phase);
  if (p == "k-means") return work(rows, TrainRows(rows, lists(rows))) / work(sample, TrainRows(sample, lists(sample)));
  if (p == "assign") return work(rows, rows) / work(sample, sample);
  return double(rows) / double(sample);
}

// Reads the next block of rows (normalized under cosine); Corruption when
// the source ends early.
Result<size_t> ReadBlock(VectorSource& source, uint64_t done, uint64_t max_rows, Metric metric, float* out) {
  VX_ASSIGN_OR_RETURN(const size_t got, source.Read(std::min<uint64_t>(max_rows, source.count() - done), out));
  if (got == 0) {
    return Status::Corruption(source.name() + ": ended at row " + std::to_string(done) + " of " +
                              std::to_string(source.count()));
  }
  if (metric == Metric::kCosine) VX_RETURN_IF_ERROR(NormalizeRows(out, got, source.dim(), done, source.name()));
  return got;
}

// Pass 1: the vectors file, and a reservoir sample of the rows.
Result<std::vector<float>> WriteVectorsAndSample(VectorSource& source, const GenerationWriter& gen, const BuildSetup& s,
                                                 const Plan& plan, const BuildOptions& o) {
  const uint32_t dim = s.dim;
  std::vector<float> sample(plan.sample_rows * dim), rows(plan.block * dim);
  VX_ASSIGN_OR_RETURN(auto vw, VectorFileWriter::Create(s.env, gen.Path(kVectorsFile), s.vectors, s.count,
                                                        gen.PageBindingOf(kVectorsFile)));
  std::mt19937_64 rng(o.seed);
  VX_RETURN_IF_ERROR(source.Rewind());
  for (uint64_t done = 0; done < s.count;) {
    VX_ASSIGN_OR_RETURN(const size_t got, ReadBlock(source, done, plan.block, o.metric, rows.data()));
    VX_RETURN_IF_ERROR(vw->Append(rows.data(), got));
    for (size_t i = 0; i < got; ++i) {
      const uint64_t row = done + i;
      const uint64_t slot = row < plan.sample_rows ? row : rng() % (row + 1);
      if (slot < plan.sample_rows) std::memcpy(sample.data() + slot * dim, rows.data() + i * dim, dim * 4);
    }
    done += got;
    VX_RETURN_IF_ERROR(s.progress.Step(done, s.count, "read"));
  }
  VX_RETURN_IF_ERROR(vw->Finish());
  return sample;
}

// The centroids, trained with the quantizer on the sample.
Result<std::vector<float>> Train(const std::vector<float>& sample, BuildSetup& s, const Plan& plan,
                                 const BuildOptions& o) {
  KMeansParams kp;
  kp.k = plan.lists;
  kp.seed = o.seed;
  kp.max_train_points = plan.sample_rows;
  kp.threads = o.threads;
  kp.balanced = true;
  kp.cancel = o.cancel;
  kp.progress = [&](uint32_t done, uint32_t total) { s.progress.Report(done, total, "k-means"); };
  VX_ASSIGN_OR_RETURN(KMeansResult km, KMeans(sample.data(), plan.sample_rows, s.dim, kp));
  TrainParams tp;
  tp.threads = o.threads;
  tp.seed = o.seed;
  tp.progress = &s.progress;
  VX_RETURN_IF_ERROR(s.quantizer->TrainUnit(sample.data(), plan.sample_rows, tp));  // ReadBlock normalised them
  return std::move(km.centroids);
}

// Pass 2: entries [u32 list][u32 row][code] to the spill file; counts per list.
Result<uint64_t> AssignToSpill(VectorSource& source, const std::vector<float>& centroids, const std::string& spill_path,
                               const BuildSetup& s, const Plan& plan, const BuildOptions& o,
                               std::vector<uint64_t>* counts) {
  const size_t cs = s.quantizer->code_size(), entry_bytes = 8 + cs;
  const uint32_t top = plan.top;
  VX_ASSIGN_OR_RETURN(auto spill,
                      s.env->OpenFile(spill_path, OpenOptions{.write = true, .create = true, .truncate = true}));
  VX_RETURN_IF_ERROR(source.Rewind());
  std::vector<float> rows(plan.block * s.dim), dist(plan.block * top);
  std::vector<int32_t> assign(plan.block * top);
  std::vector<uint8_t> codes(plan.block * cs), out;
  counts->assign(plan.lists, 0);
  uint64_t entries = 0;
  for (uint64_t done = 0; done < s.count;) {
    VX_ASSIGN_OR_RETURN(const size_t got, ReadBlock(source, done, plan.block, o.metric, rows.data()));
    AssignTopNearest(rows.data(), got, centroids.data(), plan.lists, s.dim, top, o.threads, assign.data(), dist.data(),
                     o.metric == Metric::kInnerProduct);
    VX_RETURN_IF_ERROR(s.quantizer->Encode(rows.data(), got, codes.data(), o.threads));
    out.clear();
    for (size_t i = 0; i < got; ++i) {
      const uint32_t row = static_cast<uint32_t>(done + i);
      for (uint32_t t = 0; t < top; ++t) {
        if (t > 0 && !JoinsReplica(o.metric, dist[i * top], dist[i * top + t])) break;
        const uint32_t list = static_cast<uint32_t>(assign[i * top + t]);
        ++(*counts)[list];
        const size_t at = out.size();
        out.resize(at + entry_bytes);
        std::memcpy(out.data() + at, &list, 4);
        std::memcpy(out.data() + at + 4, &row, 4);
        std::memcpy(out.data() + at + 8, codes.data() + i * cs, cs);
      }
    }
    VX_RETURN_IF_ERROR(spill->Write(entries * entry_bytes, out.data(), out.size()));
    entries += out.size() / entry_bytes;
    done += got;
    VX_RETURN_IF_ERROR(s.progress.Step(done, s.count, "assign"));
  }
  VX_RETURN_IF_ERROR(spill->Sync());
  return entries;
}

// Reads the spill file through and gathers the entries of lists [first,
// last) into *gathered: per list its rows, then its codes, at cursor[l].
Status GatherLists(File* spill, uint64_t entries, size_t cs, uint32_t first, uint32_t last,
                   const std::vector<uint64_t>& counts, const std::vector<uint64_t>& cursor,
                   std::vector<uint8_t>* chunk, std::vector<uint8_t>* gathered) {
  const size_t entry_bytes = 8 + cs;
  std::vector<uint64_t> filled(last - first, 0);
  for (uint64_t off = 0; off < entries * entry_bytes;) {
    const size_t want = std::min<uint64_t>(chunk->size(), entries * entry_bytes - off);
    size_t got = 0;
    VX_RETURN_IF_ERROR(spill->Read(off, want, chunk->data(), &got));
    if (got != want) return Status::IOError(spill->path() + ": short read");
    for (size_t e = 0; e < got; e += entry_bytes) {
      uint32_t list;
      std::memcpy(&list, chunk->data() + e, 4);
      if (list < first || list >= last) continue;
      const uint64_t i = filled[list - first]++;
      uint8_t* base = gathered->data() + cursor[list];
      std::memcpy(base + i * 4, chunk->data() + e + 4, 4);
      std::memcpy(base + counts[list] * 4 + i * cs, chunk->data() + e + 8, cs);
    }
    off += got;
  }
  return Status::Ok();
}

// The lists file. Each gathering pass takes the next lists whose entries fit
// the plan's gather budget (at least one list), reads the spill file
// through, and writes those lists' pages in order.
Result<std::vector<ListExtent>> WriteLists(const std::string& spill_path, uint64_t entries,
                                           const std::vector<uint64_t>& counts, const GenerationWriter& gen,
                                           const BuildSetup& s, const Plan& plan) {
  const size_t cs = s.quantizer->code_size(), entry_bytes = 8 + cs;
  const ListLayout ll = ListLayout::Make(s.vectors.page_size, cs);
  std::vector<ListExtent> extents(plan.lists);
  for (uint64_t l = 0, page = 1; l < plan.lists; ++l) {
    extents[l] = {page, ll.PagesFor(counts[l]), static_cast<uint32_t>(counts[l])};
    page += extents[l].pages;
  }
  VX_ASSIGN_OR_RETURN(auto spill, s.env->OpenFile(spill_path, OpenOptions{}));
  VX_ASSIGN_OR_RETURN(
      auto f, s.env->OpenFile(gen.Path(kListsFile), OpenOptions{.write = true, .create = true, .truncate = true}));
  PageWriter w(f.get(), s.vectors.page_size, PageType::kList, gen.PageBindingOf(kListsFile));
  VX_RETURN_IF_ERROR(w.EmitHeader({kFileHeaderMagic, static_cast<uint32_t>(PagedFileKind::kLists), entries,
                                   static_cast<uint32_t>(4 + cs), ll.per_page, s.dim, 0}));
  const uint64_t gather_budget = std::max<uint64_t>(plan.gather_budget, entry_bytes);
  std::vector<uint8_t> chunk(std::max<uint64_t>(1, std::min<uint64_t>(gather_budget, 1 << 20) / entry_bytes) *
                             entry_bytes);
  std::vector<uint8_t> gathered;
  std::vector<uint64_t> cursor(plan.lists);
  uint64_t written = 0;
  for (uint32_t first = 0; first < plan.lists;) {
    uint32_t last = first;  // lists [first, last)
    uint64_t bytes = 0;
    while (last < plan.lists && (last == first || bytes + counts[last] * (4 + cs) <= gather_budget))
      bytes += counts[last++] * (4 + cs);
    uint64_t pos = 0;
    for (uint32_t l = first; l < last; ++l) {
      cursor[l] = pos;
      pos += counts[l] * (4 + cs);
    }
    gathered.resize(pos);
    VX_RETURN_IF_ERROR(GatherLists(spill.get(), entries, cs, first, last, counts, cursor, &chunk, &gathered));
    for (uint32_t l = first; l < last; ++l) {
      if (w.next_page() != extents[l].first_page)
        return Status::Corruption("IVF build: list pages out of step (a bug)");
      const uint8_t* base = gathered.data() + cursor[l];
      for (uint64_t i = 0; i < counts[l]; i += ll.per_page) {
        const uint32_t cnt = static_cast<uint32_t>(std::min<uint64_t>(ll.per_page, counts[l] - i));
        ll.Encode(w.page(), l, cnt, base + i * 4, base + counts[l] * 4 + i * cs);
        VX_RETURN_IF_ERROR(w.Emit());
      }
      written += counts[l];
    }
    VX_RETURN_IF_ERROR(s.progress.Step(written, entries, "write lists"));
    first = last;
  }
  VX_RETURN_IF_ERROR(f->Sync());
  return extents;
}

Status Build(VectorSource& source, const std::string& dir, const BuildOptions& o, const BuildCommit* commit) {
  VX_ASSIGN_OR_RETURN(BuildSetup s, PrepareBuild(source, o));
  const ListLayout ll = ListLayout::Make(s.vectors.page_size, s.quantizer->code_size());
  if (ll.per_page == 0) return Status::InvalidArgument("a " + s.quant.ToString() + " code does not fit a list page");
  VX_ASSIGN_OR_RETURN(const Plan plan, PlanMemory(s.count, s.dim, s.quantizer->code_size(), o));
  // Refused before any compute when the disk cannot hold, at the peak, the
  // vectors, the spill file (an entry per row at least) and the list pages.
  const uint64_t min_bytes = s.vectors.FileBytes(s.count) + s.count * (8 + s.quantizer->code_size()) +
                             uint64_t{ll.PagesFor(s.count)} * s.vectors.page_size;
  VX_ASSIGN_OR_RETURN(auto gen, BeginGeneration(s.env, dir, min_bytes, commit));

  VX_ASSIGN_OR_RETURN(std::vector<float> sample, WriteVectorsAndSample(source, *gen, s, plan, o));
  VX_ASSIGN_OR_RETURN(const std::vector<float> centroids, Train(sample, s, plan, o));
  std::vector<float>().swap(sample);
  const std::string spill_path = gen->Path("entries.tmp");
  std::vector<uint64_t> counts;
  VX_ASSIGN_OR_RETURN(const uint64_t entries, AssignToSpill(source, centroids, spill_path, s, plan, o, &counts));
  VX_ASSIGN_OR_RETURN(const std::vector<ListExtent> extents, WriteLists(spill_path, entries, counts, *gen, s, plan));
  VX_RETURN_IF_ERROR(s.env->DeleteFile(spill_path));
  VX_RETURN_IF_ERROR(WriteWholeFile(s.env, gen->Path("centroids"), centroids.data(), centroids.size() * 4));
  VX_RETURN_IF_ERROR(
      WriteWholeFile(s.env, gen->Path("directory"), extents.data(), extents.size() * sizeof(ListExtent)));
  std::vector<std::string> files = {kListsFile, kVectorsFile, "centroids", "directory"};
  VX_RETURN_IF_ERROR(WriteSharedFiles(*gen, s, {}, &files));

  ManifestParams params;
  BuiltParams(s, o, kType.name, kFormat, source).ToManifest(&params);
  IvfParams ip;
  ip.lists = plan.lists;
  ip.replicas = plan.top - 1;
  ip.entries = entries;
  ip.ToManifest(&params);
  if (s.progress.cancelled()) return Status::Cancelled("cancelled before the commit");
  return CommitGeneration(*gen, std::move(params), files, commit);
}

}  // namespace

const IndexTypeOps kType = {IndexType::kIvf, "ivf",      kListsFile, PageType::kList, Build,
                            IvfIndex::Open,  PeakMemory, 0,          FixShape,        Growth};

}  // namespace vx::ivf
