// IVF build, streaming: the base is read twice and never held whole.
//   1. Pass 1: write the vectors file (base order) and keep a reservoir
//      sample (seeded).
//   2. Train balanced k-means centroids and the quantizer on the sample.
//   3. Pass 2: assign each block of rows to its nearest list (and, with
//      replicas, to next-nearest lists that pass the closure rule), encode
//      the block, and append (list, row, code) entries to a spill file.
//   4. Write the lists file list by list: each pass over the spill file
//      gathers the lists whose entries fit the budget, in list order.
//   5. Commit the manifest (the files are a new generation, written beside
//      any index already in `dir`).
// Memory: the sample, one block and one gathering pass are each sized from
// --build-memory; the build refuses only if the centroids and a minimal block
// do not fit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "core/dataset.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/paged_file.h"
#include "io/vector_file.h"
#include "ivf/ivf.h"
#include "ivf/layout.h"
#include "quant/kmeans.h"
#include "quant/quantizer.h"

namespace vx::ivf {

uint32_t DefaultLists(uint64_t rows) {
  const uint64_t l = rows <= 1'000'000 ? rows / 1000 : static_cast<uint64_t>(std::sqrt(double(rows)));
  return static_cast<uint32_t>(std::max<uint64_t>(1, l));
}

namespace {

// SPANN's closure rule: a vector also joins a next-nearest list whose
// centroid is at most 10% farther than its nearest (distances unsquared;
// for ip, scores within 10% of the best).
constexpr float kClosure = 0.1f;

bool JoinsReplica(Metric metric, float nearest, float other) {
  if (metric == Metric::kInnerProduct) return other - nearest <= kClosure * std::abs(nearest);
  return other <= (1 + kClosure) * (1 + kClosure) * nearest;
}

Status Normalize(float* x, uint32_t dim, uint64_t row, const std::string& path) {
  double s = 0;
  for (uint32_t j = 0; j < dim; ++j) s += double{x[j]} * x[j];
  if (s == 0) return Status::InvalidArgument(path + ": record " + std::to_string(row) + " is a zero vector; cosine distance is undefined for it");
  const double inv = 1 / std::sqrt(s);
  for (uint32_t j = 0; j < dim; ++j) x[j] = static_cast<float>(x[j] * inv);
  return Status::Ok();
}

// Reads the next block of rows as float (normalized under cosine).
Result<size_t> ReadBlock(VectorReader& r, size_t max_rows, Metric metric, float* out) {
  const uint64_t first = r.position();
  VX_ASSIGN_OR_RETURN(const size_t got, r.ReadFloat(max_rows, out));
  if (metric == Metric::kCosine) {
    for (size_t i = 0; i < got; ++i) VX_RETURN_IF_ERROR(Normalize(out + i * r.info().dim, r.info().dim, first + i, r.path()));
  }
  return got;
}

}  // namespace

Status Build(const std::string& base_path, const std::string& dir, const BuildOptions& o) {
  Env* env = o.env ? o.env : DefaultEnv();
  if (o.replicas > 8) return Status::InvalidArgument("replicas must be in 0..8, not " + std::to_string(o.replicas));
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(base_path));
  const uint64_t n = reader->info().count;
  const uint32_t dim = reader->info().dim;
  if (n == 0) return Status::InvalidArgument(base_path + ": no vectors");
  if (n >= UINT32_MAX) return Status::InvalidArgument(base_path + ": more than 2^32 - 1 vectors");
  const uint32_t lists = o.lists ? o.lists : DefaultLists(n);
  if (lists > n) {
    return Status::InvalidArgument(std::to_string(lists) + " lists for " + std::to_string(n) + " vectors: lists must not exceed rows");
  }
  const std::string quant = ResolveAutoQuant(o.quant, dim);
  VX_ASSIGN_OR_RETURN(const QuantSpec spec, ParseQuantSpec(quant));
  VX_ASSIGN_OR_RETURN(auto quantizer, Quantizer::Create(spec, o.metric, dim));
  VX_ASSIGN_OR_RETURN(const VectorLayout vl, VectorLayout::Make(o.page_size, dim, o.storage));
  const ListLayout ll = ListLayout::Make(vl.page_size, quantizer->code_size());
  if (ll.per_page == 0) return Status::InvalidArgument("a " + quant + " code does not fit a list page");
  const uint32_t top = 1 + std::min(o.replicas, lists - 1);

  // Memory plan: centroids (and k-means' copy), per-list counts, and the
  // sgemm scratch of each assignment task (1024 rows x up to 1024 centroid
  // scores a thread) are fixed; a block row holds its floats, assignments and code.
  const uint64_t budget = o.build_memory_bytes;
  const uint64_t threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t fixed = uint64_t{lists} * dim * 4 * 2 + uint64_t{lists} * 32 + threads * 1024 * std::min(lists, 1024u) * 4;
  const uint64_t row_bytes = uint64_t{dim} * 4 + top * 8 + quantizer->code_size();
  constexpr uint64_t kMinBlock = 256;
  if (fixed + kMinBlock * row_bytes > budget / 2) {
    return Status::ResourceExhausted("the IVF build needs at least " + std::to_string(((2 * (fixed + kMinBlock * row_bytes)) >> 10) + 1) +
                                     " KB for " + std::to_string(lists) + " centroids of " + std::to_string(dim) +
                                     " dims on " + std::to_string(threads) + " threads, above the build memory budget of " +
                                     std::to_string(budget >> 10) + " KB; raise --build-memory or lower --lists");
  }
  const uint64_t block = std::clamp<uint64_t>((budget / 4) / row_bytes, kMinBlock, 65536);
  uint64_t sample_rows = std::min<uint64_t>(n, std::max<uint64_t>(64 * uint64_t{lists}, 65536));
  // A sample row: our copy, k-means' copy and its per-point bookkeeping.
  sample_rows = std::min<uint64_t>(sample_rows, (budget / 2 - fixed) / (uint64_t{dim} * 8 + 104));
  if (sample_rows < lists) {
    return Status::ResourceExhausted("the build memory budget of " + std::to_string(budget >> 20) + " MB holds a training sample of " +
                                     std::to_string(sample_rows) + " rows, fewer than the " + std::to_string(lists) +
                                     " lists; raise --build-memory or lower --lists");
  }
  auto progress = [&](uint64_t d, uint64_t t, const char* phase) {
    if (o.progress) o.progress(d, t, phase);
  };
  // Refused before any compute when the disk cannot hold, at the peak, the
  // vectors, the spill file (an entry per row at least) and the list pages.
  const uint64_t min_bytes = vl.FileBytes(n) + n * (8 + quantizer->code_size()) + uint64_t{ll.PagesFor(n)} * vl.page_size;
  VX_ASSIGN_OR_RETURN(auto gen, GenerationWriter::Begin(env, dir, min_bytes));

  // 1. Vectors file and reservoir sample.
  std::vector<float> sample(sample_rows * dim);
  std::vector<float> rows(block * dim);
  {
    VX_ASSIGN_OR_RETURN(auto vw, VectorFileWriter::Create(env, gen->Path("vectors"), vl, n));
    std::mt19937_64 rng(o.seed);
    for (uint64_t done = 0; done < n;) {
      VX_ASSIGN_OR_RETURN(const size_t got, ReadBlock(*reader, block, o.metric, rows.data()));
      if (got == 0) return Status::Corruption(base_path + ": ended at row " + std::to_string(done) + " of " + std::to_string(n));
      VX_RETURN_IF_ERROR(vw->Append(rows.data(), got));
      for (size_t i = 0; i < got; ++i) {
        const uint64_t row = done + i;
        const uint64_t slot = row < sample_rows ? row : rng() % (row + 1);
        if (slot < sample_rows) std::memcpy(sample.data() + slot * dim, rows.data() + i * dim, dim * 4);
      }
      done += got;
      progress(done, n, "read");
    }
    VX_RETURN_IF_ERROR(vw->Finish());
  }

  // 2. Centroids and quantizer.
  KMeansParams kp;
  kp.k = lists;
  kp.seed = o.seed;
  kp.max_train_points = sample_rows;
  kp.threads = o.threads;
  kp.balanced = true;
  kp.progress = [&](uint32_t done, uint32_t total) { progress(done, total, "k-means"); };
  VX_ASSIGN_OR_RETURN(KMeansResult km, KMeans(sample.data(), sample_rows, dim, kp));
  std::vector<float> centroids = std::move(km.centroids);
  TrainParams tp;
  tp.threads = o.threads;
  tp.seed = o.seed;
  VX_RETURN_IF_ERROR(quantizer->Train(sample.data(), sample_rows, tp));
  std::vector<float>().swap(sample);

  // 3. Assignment pass: entries [u32 list][u32 row][code] to the spill file.
  const size_t cs = quantizer->code_size();
  const size_t entry_bytes = 8 + cs;
  const std::string spill_path = gen->Path("entries.tmp");
  std::vector<uint64_t> counts(lists, 0);
  uint64_t entries = 0;
  {
    VX_ASSIGN_OR_RETURN(auto spill, env->OpenFile(spill_path, OpenOptions{.write = true, .create = true, .truncate = true}));
    VX_RETURN_IF_ERROR(reader->Seek(0));
    std::vector<int32_t> assign(block * top);
    std::vector<float> dist(block * top);
    std::vector<uint8_t> codes(block * cs), out;
    const bool ip = o.metric == Metric::kInnerProduct;
    for (uint64_t done = 0; done < n;) {
      VX_ASSIGN_OR_RETURN(const size_t got, ReadBlock(*reader, block, o.metric, rows.data()));
      if (got == 0) return Status::Corruption(base_path + ": ended at row " + std::to_string(done) + " of " + std::to_string(n));
      AssignTopNearest(rows.data(), got, centroids.data(), lists, dim, top, o.threads, assign.data(), dist.data(), ip);
      VX_RETURN_IF_ERROR(quantizer->Encode(rows.data(), got, codes.data(), o.threads));
      out.clear();
      for (size_t i = 0; i < got; ++i) {
        const uint32_t row = static_cast<uint32_t>(done + i);
        for (uint32_t t = 0; t < top; ++t) {
          if (t > 0 && !JoinsReplica(o.metric, dist[i * top], dist[i * top + t])) break;
          const uint32_t list = static_cast<uint32_t>(assign[i * top + t]);
          ++counts[list];
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
      progress(done, n, "assign");
    }
    VX_RETURN_IF_ERROR(spill->Sync());
  }

  // 4. Lists file. Each gathering pass takes the next lists whose entries fit
  // a quarter of the budget (at least one list), reads the spill file
  // through, and writes those lists' pages in order.
  std::vector<ListExtent> extents(lists);
  {
    uint64_t page = 1;
    for (uint32_t l = 0; l < lists; ++l) {
      extents[l] = {page, ll.PagesFor(counts[l]), static_cast<uint32_t>(counts[l])};
      page += extents[l].pages;
    }
  }
  {
    VX_ASSIGN_OR_RETURN(auto spill, env->OpenFile(spill_path, OpenOptions{}));
    VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(gen->Path("lists"), OpenOptions{.write = true, .create = true, .truncate = true}));
    PageWriter w(f.get(), vl.page_size, PageType::kList);
    VX_RETURN_IF_ERROR(w.EmitHeader({kFileHeaderMagic, static_cast<uint32_t>(PagedFileKind::kLists), entries,
                                     static_cast<uint32_t>(4 + cs), ll.per_page, dim, 0}));
    const uint64_t gather_budget = std::max<uint64_t>(budget / 4, entry_bytes);
    std::vector<uint8_t> chunk(std::max<uint64_t>(1, std::min<uint64_t>(gather_budget, 1 << 20) / entry_bytes) * entry_bytes);
    std::vector<uint8_t> gathered;
    std::vector<uint64_t> cursor(lists);
    uint64_t written = 0;
    for (uint32_t first = 0; first < lists;) {
      uint32_t last = first;  // lists [first, last)
      uint64_t bytes = 0;
      while (last < lists && (last == first || bytes + counts[last] * (4 + cs) <= gather_budget)) bytes += counts[last++] * (4 + cs);
      // Per list: rows then codes, at cursor positions from a prefix sum.
      uint64_t pos = 0;
      for (uint32_t l = first; l < last; ++l) {
        cursor[l] = pos;
        pos += counts[l] * (4 + cs);
      }
      gathered.resize(pos);
      std::vector<uint64_t> filled(last - first, 0);
      for (uint64_t off = 0; off < entries * entry_bytes;) {
        const size_t want = std::min<uint64_t>(chunk.size(), entries * entry_bytes - off);
        size_t got = 0;
        VX_RETURN_IF_ERROR(spill->Read(off, want, chunk.data(), &got));
        if (got != want) return Status::IOError(spill_path + ": short read");
        for (size_t e = 0; e < got; e += entry_bytes) {
          uint32_t list;
          std::memcpy(&list, chunk.data() + e, 4);
          if (list < first || list >= last) continue;
          const uint64_t i = filled[list - first]++;
          uint8_t* base = gathered.data() + cursor[list];
          std::memcpy(base + i * 4, chunk.data() + e + 4, 4);
          std::memcpy(base + counts[list] * 4 + i * cs, chunk.data() + e + 8, cs);
        }
        off += got;
      }
      for (uint32_t l = first; l < last; ++l) {
        if (w.next_page() != extents[l].first_page) return Status::Corruption("IVF build: list pages out of step (a bug)");
        const uint8_t* base = gathered.data() + cursor[l];
        for (uint64_t i = 0; i < counts[l]; i += ll.per_page) {
          const uint32_t cnt = static_cast<uint32_t>(std::min<uint64_t>(ll.per_page, counts[l] - i));
          uint8_t* p = w.page();
          std::memcpy(p + kPageHeaderSize, &cnt, 4);
          std::memcpy(p + kPageHeaderSize + 4, &l, 4);
          std::memcpy(p + ll.RowsOffset(), base + i * 4, size_t{cnt} * 4);
          std::memcpy(p + ll.CodesOffset(), base + counts[l] * 4 + i * cs, cnt * cs);
          VX_RETURN_IF_ERROR(w.Emit());
        }
        written += counts[l];
      }
      progress(written, entries, "write lists");
      first = last;
    }
    VX_RETURN_IF_ERROR(f->Sync());
  }
  VX_RETURN_IF_ERROR(env->DeleteFile(spill_path));
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("centroids"), centroids.data(), centroids.size() * 4));
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("directory"), extents.data(), extents.size() * sizeof(ListExtent)));
  const std::string qbytes = quantizer->Serialize();
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("quantizer"), qbytes.data(), qbytes.size()));

  return gen->Commit({{"type", "ivf"},
                      {"metric", MetricName(o.metric)},
                      {"dim", std::to_string(dim)},
                      {"count", std::to_string(n)},
                      {"lists", std::to_string(lists)},
                      {"replicas", std::to_string(top - 1)},
                      {"entries", std::to_string(entries)},
                      {"quant", spec.ToString()},
                      {"storage", ElementTypeName(o.storage)},
                      {"page_size", std::to_string(vl.page_size)},
                      {"source", base_path}},
                     {"lists", "vectors", "centroids", "directory", "quantizer"});
}

}  // namespace vx::ivf
