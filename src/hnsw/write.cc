// BuildIndex: read the base, build the graph, renumber for page locality,
// write every file as a new generation, then commit the manifest (the index
// appears, or replaces the one in `dir`, atomically).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>

#include "core/dataset.h"
#include "core/f16.h"
#include "hnsw/graph.h"
#include "hnsw/layout.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/page.h"
#include "io/paged_file.h"
#include "io/vector_file.h"
#include "hnsw/hnsw.h"
#include "quant/quantizer.h"
#include "vx/index.h"

namespace vx::hnsw {
namespace {

// BFS over layer 0 from the entry: neighbours get nearby ids, so a walk's
// next nodes tend to sit on pages it already holds.
std::vector<uint32_t> BfsOrder(const Graph& g) {
  const uint32_t n = g.size();
  std::vector<uint32_t> new_id(n, UINT32_MAX);
  uint32_t next = 0;
  std::deque<uint32_t> queue = {g.entry()};
  new_id[g.entry()] = next++;
  while (!queue.empty()) {
    const uint32_t v = queue.front();
    queue.pop_front();
    for (uint32_t u : g.Neighbors(v, 0)) {
      if (new_id[u] == UINT32_MAX) {
        new_id[u] = next++;
        queue.push_back(u);
      }
    }
  }
  for (uint32_t v = 0; v < n; ++v) {
    if (new_id[v] == UINT32_MAX) new_id[v] = next++;
  }
  return new_id;
}

}  // namespace

Status Build(const std::string& base_path, const std::string& dir, const BuildOptions& o) {
  Env* env = o.env ? o.env : DefaultEnv();
  if (o.m < 2 || o.m > kMaxM) {
    return Status::InvalidArgument("m must be in 2.." + std::to_string(kMaxM) + " (pgvector's range), not " + std::to_string(o.m));
  }
  if (o.ef_construction < 4 || o.ef_construction > 1000) {
    return Status::InvalidArgument("ef_construction must be in 4..1000, not " + std::to_string(o.ef_construction));
  }
  if (o.ef_construction < 2 * o.m) {
    return Status::InvalidArgument("ef_construction (" + std::to_string(o.ef_construction) +
                                   ") must be at least 2 * m (" + std::to_string(2 * o.m) + "), as in pgvector");
  }
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(base_path));
  const uint64_t n64 = reader->info().count;
  const uint32_t dim = reader->info().dim;
  if (n64 == 0) return Status::InvalidArgument(base_path + ": no vectors");
  if (n64 >= UINT32_MAX) return Status::InvalidArgument(base_path + ": more than 2^32 - 1 vectors");
  const uint32_t n = static_cast<uint32_t>(n64);

  const std::string quant = ResolveAutoQuant(o.quant, dim);
  VX_ASSIGN_OR_RETURN(const QuantSpec spec, ParseQuantSpec(quant));
  VX_ASSIGN_OR_RETURN(auto quantizer, Quantizer::Create(spec, o.metric, dim));

  // Memory the build holds: vectors, graph, per-thread visited lists, codes.
  const uint64_t need = n64 * dim * 4 + n64 * (1 + 2 * o.m) * 4 * 2 + n64 * 4 * 3 + n64 * quantizer->code_size();
  if (need > o.build_memory_bytes) {
    return Status::ResourceExhausted("the build needs about " + std::to_string(need >> 20) + " MB (" +
                                     std::to_string(n64) + " vectors of " + std::to_string(dim) +
                                     " dims and the graph), above the build memory budget of " +
                                     std::to_string(o.build_memory_bytes >> 20) +
                                     " MB; raise --build-memory (building larger than RAM is not supported yet)");
  }
  VX_ASSIGN_OR_RETURN(const VectorLayout vl, VectorLayout::Make(o.page_size, dim, o.storage));
  const size_t page_size = vl.page_size;
  // Locks the directory and checks the disk now, so that a build that could
  // not write its files is refused before it spends minutes on the graph.
  // The files need at least the vectors, the codes, the ids and a graph page
  // beside the graph file's header.
  const uint64_t min_bytes = vl.FileBytes(n64) + n64 * (quantizer->code_size() + 4) + 2 * page_size;
  VX_ASSIGN_OR_RETURN(auto gen, GenerationWriter::Begin(env, dir, min_bytes));

  // 1. Read the base (cosine: unit vectors; scored as ip inside the graph).
  std::vector<float> data(n64 * dim);
  for (uint64_t done = 0; done < n64;) {
    VX_ASSIGN_OR_RETURN(const size_t got, reader->ReadFloat(std::min<uint64_t>(n64 - done, 1 << 16), data.data() + done * dim));
    if (o.progress) o.progress(done + got, n64, "read");
    done += got;
  }
  if (o.metric == Metric::kCosine) {
    for (uint64_t i = 0; i < n64; ++i) {
      float* x = data.data() + i * dim;
      double s = 0;
      for (uint32_t j = 0; j < dim; ++j) s += double{x[j]} * x[j];
      if (s == 0) return Status::InvalidArgument(base_path + ": record " + std::to_string(i) + " is a zero vector; cosine distance is undefined for it");
      for (uint32_t j = 0; j < dim; ++j) x[j] = static_cast<float>(x[j] / std::sqrt(s));
    }
  }
  const Metric graph_metric = o.metric == Metric::kCosine ? Metric::kInnerProduct : o.metric;

  // 2. Graph.
  hnsw::GraphParams gp;
  gp.m = o.m;
  gp.ef_construction = o.ef_construction;
  gp.seed = o.seed;
  gp.threads = o.threads;
  if (o.progress) gp.progress = [&](uint64_t d, uint64_t t) { o.progress(d, t, "insert"); };
  Graph graph = Graph::Build(data.data(), n, dim, graph_metric, gp);

  // 3. Renumber (BFS) and permute the vectors to match.
  std::vector<uint32_t> new_id(n);
  if (o.reorder) {
    new_id = BfsOrder(graph);
    graph = graph.Renumbered(new_id);
  } else {
    for (uint32_t i = 0; i < n; ++i) new_id[i] = i;
  }
  std::vector<uint32_t> ids(n);  // node -> base row
  for (uint32_t i = 0; i < n; ++i) ids[new_id[i]] = i;

  // 4. Quantizer and codes (in node order).
  TrainParams tp;
  tp.threads = o.threads;
  tp.seed = o.seed;
  VX_RETURN_IF_ERROR(quantizer->Train(data.data(), n64, tp));
  std::vector<uint8_t> codes(n64 * quantizer->code_size());
  {
    std::vector<float> row(dim);
    std::vector<float> ordered;  // encode in node order, a block at a time
    constexpr uint32_t kBlock = 65536;
    for (uint32_t b = 0; b < n; b += kBlock) {
      const uint32_t cnt = std::min(kBlock, n - b);
      ordered.resize(uint64_t{cnt} * dim);
      for (uint32_t i = 0; i < cnt; ++i) std::memcpy(ordered.data() + uint64_t{i} * dim, data.data() + uint64_t{ids[b + i]} * dim, dim * 4);
      VX_RETURN_IF_ERROR(quantizer->Encode(ordered.data(), cnt, codes.data() + uint64_t{b} * quantizer->code_size(), o.threads));
      if (o.progress) o.progress(b + cnt, n, "encode");
    }
  }

  // 5. Files, written as a new generation, then committed by the manifest.
  std::vector<uint32_t> first_node;  // of each graph page
  {
    VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(gen->Path("graph"), OpenOptions{.write = true, .create = true, .truncate = true}));
    PageWriter w(f.get(), page_size, PageType::kGraph);
    VX_RETURN_IF_ERROR(w.EmitHeader({kFileHeaderMagic, static_cast<uint32_t>(PagedFileKind::kGraph), n64, 0, 0, 0, 0}));
    GraphPagePacker packer(page_size - kPageHeaderSize);
    std::vector<uint32_t> sorted;
    std::vector<uint8_t> rec;
    for (uint32_t v = 0; v < n; ++v) {
      auto nb = graph.Neighbors(v, 0);
      sorted.assign(nb.begin(), nb.end());
      std::sort(sorted.begin(), sorted.end());
      rec.clear();
      EncodeNeighbors(v, sorted, &rec);
      if (!packer.Fits(rec.size())) {
        if (packer.empty()) {
          return Status::InvalidArgument("node " + std::to_string(v) + "'s neighbour list (" + std::to_string(rec.size()) +
                                         " bytes) does not fit a " + std::to_string(page_size) + "-byte page; use a larger page size or a smaller m");
        }
        packer.Finish(w.page() + kPageHeaderSize);
        VX_RETURN_IF_ERROR(w.Emit());
      }
      if (packer.empty()) first_node.push_back(v);
      packer.Add(rec);
    }
    packer.Finish(w.page() + kPageHeaderSize);
    VX_RETURN_IF_ERROR(w.Emit());
    VX_RETURN_IF_ERROR(f->Sync());
  }
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("graph_pages"), first_node.data(), first_node.size() * 4));
  {
    VX_ASSIGN_OR_RETURN(auto w, VectorFileWriter::Create(env, gen->Path("vectors"), vl, n64));
    for (uint32_t v = 0; v < n; ++v) {
      VX_RETURN_IF_ERROR(w->Append(data.data() + uint64_t{ids[v]} * dim, 1));
      if (o.progress && (v + 1) % 65536 == 0) o.progress(v + 1, n, "write");
    }
    VX_RETURN_IF_ERROR(w->Finish());
  }
  {
    // upper: u32 nodes; per node: u32 id, u32 level, per level: u32 count, ids.
    std::vector<uint32_t> up = {0};
    for (uint32_t v = 0; v < n; ++v) {
      if (graph.level(v) == 0) continue;
      ++up[0];
      up.push_back(v);
      up.push_back(graph.level(v));
      for (uint32_t l = 1; l <= graph.level(v); ++l) {
        auto nb = graph.Neighbors(v, l);
        up.push_back(static_cast<uint32_t>(nb.size()));
        up.insert(up.end(), nb.begin(), nb.end());
      }
    }
    VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("upper"), up.data(), up.size() * 4));
  }
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("codes"), codes.data(), codes.size()));
  const std::string qbytes = quantizer->Serialize();
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("quantizer"), qbytes.data(), qbytes.size()));
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen->Path("ids"), ids.data(), ids.size() * 4));

  return gen->Commit({{"type", "hnsw"},
                      {"metric", MetricName(o.metric)},
                      {"dim", std::to_string(dim)},
                      {"count", std::to_string(n64)},
                      {"m", std::to_string(o.m)},
                      {"ef_construction", std::to_string(o.ef_construction)},
                      {"quant", spec.ToString()},
                      {"storage", ElementTypeName(o.storage)},
                      {"page_size", std::to_string(page_size)},
                      {"entry", std::to_string(graph.entry())},
                      {"max_level", std::to_string(graph.max_level())},
                      {"reorder", o.reorder ? "bfs" : "none"},
                      {"source", base_path}},
                     {"graph", "graph_pages", "vectors", "upper", "codes", "quantizer", "ids"});
}

}  // namespace vx::hnsw
