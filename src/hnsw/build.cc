// The HNSW build:
//   1. Check the options, the source and the keys; refuse a build whose
//      vectors and graph exceed the build memory; lock the directory and
//      check the disk (before any compute).
//   2. Read the source into RAM (cosine: unit vectors, scored as ip).
//   3. Build the graph (graph.cc), renumber its nodes in BFS order for page
//      locality and permute rows, keys and vectors to match.
//   4. Train the quantizer and encode the codes in node order.
//   5. Write every file as a new generation, then commit the manifest (the
//      index appears, or replaces the one in `dir`, atomically).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <string_view>

#include "core/check.h"
#include "core/posix.h"
#include "hnsw/graph.h"
#include "hnsw/hnsw.h"
#include "hnsw/hnsw_index.h"
#include "hnsw/layout.h"
#include "index/build.h"
#include "index/index_base.h"
#include "index/keys.h"
#include "io/paged_file.h"

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

Status CheckOptions(const BuildOptions& o) {
  if (o.m < 2 || o.m > kMaxM) {
    return Status::InvalidArgument("m must be in 2.." + std::to_string(kMaxM) + " (pgvector's range), not " +
                                   std::to_string(o.m));
  }
  if (o.ef_construction < 4 || o.ef_construction > 1000) {
    return Status::InvalidArgument("ef_construction must be in 4..1000, not " + std::to_string(o.ef_construction));
  }
  if (o.ef_construction < 2 * o.m) {
    return Status::InvalidArgument("ef_construction (" + std::to_string(o.ef_construction) +
                                   ") must be at least 2 * m (" + std::to_string(2 * o.m) + "), as in pgvector");
  }
  return Status::Ok();
}

// The rows the encoder copies into node order at a time.
constexpr uint64_t kBlockBytes = 16 << 20;

// Memory the build holds: vectors, graph (twice, while it is renumbered),
// per-thread visited lists, codes and the encoder's block.
Result<BuildMemory> PeakMemory(uint64_t n, uint32_t dim, size_t code_size, const BuildOptions& o) {
  VX_RETURN_IF_ERROR(CheckOptions(o));
  const uint64_t need = n * dim * 4 + n * (1 + 2 * o.m) * 4 * 2 + n * 4 * 3 + n * code_size +
                        std::min<uint64_t>(kBlockBytes, n * dim * 4);
  return BuildMemory{need, need};
}

Status CheckBuildMemory(const BuildSetup& s, const BuildOptions& o) {
  VX_ASSIGN_OR_RETURN(const BuildMemory need, PeakMemory(s.count, s.dim, s.quantizer->code_size(), o));
  if (need.least_budget <= o.build_memory_bytes) return Status::Ok();
  return Status::ResourceExhausted("the build needs about " + std::to_string(need.least_budget >> 20) + " MB (" +
                                   std::to_string(s.count) + " vectors of " + std::to_string(s.dim) +
                                   " dims and the graph), above the build memory budget of " +
                                   std::to_string(o.build_memory_bytes >> 20) +
                                   " MB; raise --build-memory (building larger than RAM is not supported yet)");
}

bool FixShape(uint64_t, BuildOptions*) { return false; }  // nothing depends on the row count

// Inserts cost about log(rows) each (the levels a walk descends), and a
// neighbour's id in the graph file takes about log(rows) bits (its varint
// delta); the other phases are linear.
double Growth(const char* what, uint64_t sample, uint64_t rows, const BuildOptions&) {
  const double linear = double(rows) / double(sample);
  const std::string_view w(what);
  if ((w != "insert" && w != "structure") || sample < 2) return linear;
  return linear * std::log(double(rows)) / std::log(double(sample));
}

// All rows of the source, row-major (cosine: unit length).
Result<std::vector<float>> ReadRows(VectorSource& source, const BuildSetup& s, Metric metric) {
  std::vector<float> data;
  ReserveHugePages(data, s.count * s.dim);  // the graph build reads it at random
  data.resize(s.count * s.dim);
  VX_RETURN_IF_ERROR(source.Rewind());
  for (uint64_t done = 0; done < s.count;) {
    VX_ASSIGN_OR_RETURN(const size_t got,
                        source.Read(std::min<uint64_t>(s.count - done, 1 << 16), data.data() + done * s.dim));
    if (got == 0)
      return Status::Corruption(source.name() + ": ended at row " + std::to_string(done) + " of " +
                                std::to_string(s.count));
    if (metric == Metric::kCosine)
      VX_RETURN_IF_ERROR(NormalizeRows(data.data() + done * s.dim, got, s.dim, done, source.name()));
    done += got;
    VX_RETURN_IF_ERROR(s.progress.Step(done, s.count, "read"));
  }
  return data;
}

// The graph over `data`: built, or, for a vacuum (commit->previous), the
// previous generation's repaired (Graph::Repair); renumbered when
// o.reorder; *row_of[node] is the source row of each node.
Result<Graph> BuildGraph(const float* data, const BuildSetup& s, const BuildOptions& o, const BuildCommit* commit,
                         std::vector<uint32_t>* row_of) {
  const uint32_t n = static_cast<uint32_t>(s.count);
  GraphParams gp;
  gp.m = o.m;
  gp.ef_construction = o.ef_construction;
  gp.seed = o.seed;
  gp.threads = o.threads;
  gp.cancel = o.cancel;
  gp.progress = [&](uint64_t d, uint64_t t) { s.progress.Report(d, t, "insert"); };
  const Metric graph_metric = o.metric == Metric::kCosine ? Metric::kInnerProduct : o.metric;
  Graph graph;
  if (commit != nullptr && commit->previous != nullptr) {
    const auto* previous = dynamic_cast<const HnswIndex*>(commit->previous);
    VX_CHECK(previous != nullptr && commit->previous_rows.size() == n);
    VX_ASSIGN_OR_RETURN(const Graph old, previous->LoadGraph());
    std::vector<uint32_t> new_id(old.size(), Graph::kGone);
    for (uint32_t i = 0; i < n; ++i) {
      if (commit->previous_rows[i] != kNoRow) new_id[commit->previous_rows[i]] = i;
    }
    graph = Graph::Repair(old, new_id, data, n, s.dim, graph_metric, gp);
  } else {
    graph = Graph::Build(data, n, s.dim, graph_metric, gp);
  }
  VX_RETURN_IF_ERROR(s.progress.Step(n, n, "insert"));
  row_of->resize(n);
  if (!o.reorder) {
    for (uint32_t i = 0; i < n; ++i) (*row_of)[i] = i;
    return graph;
  }
  const std::vector<uint32_t> new_id = BfsOrder(graph);
  for (uint32_t i = 0; i < n; ++i) (*row_of)[new_id[i]] = i;
  return graph.Renumbered(new_id);
}

// Trains the quantizer on all rows and encodes them in node order.
Result<std::vector<uint8_t>> EncodeNodes(const float* data, const std::vector<uint32_t>& row_of, BuildSetup& s,
                                         const BuildOptions& o) {
  TrainParams tp;
  tp.threads = o.threads;
  tp.seed = o.seed;
  tp.progress = &s.progress;
  VX_RETURN_IF_ERROR(s.quantizer->TrainUnit(data, s.count, tp));  // ReadRows normalised them
  const size_t cs = s.quantizer->code_size();
  const uint32_t n = static_cast<uint32_t>(s.count);
  std::vector<uint8_t> codes(s.count * cs);
  std::vector<float> ordered;  // a block of rows in node order, kBlockBytes at most
  const uint32_t block = static_cast<uint32_t>(std::max<uint64_t>(1, kBlockBytes / (uint64_t{s.dim} * 4)));
  for (uint32_t b = 0; b < n; b += block) {
    const uint32_t cnt = std::min(block, n - b);
    ordered.resize(uint64_t{cnt} * s.dim);
    for (uint32_t i = 0; i < cnt; ++i) {
      std::memcpy(ordered.data() + uint64_t{i} * s.dim, data + uint64_t{row_of[b + i]} * s.dim, s.dim * 4);
    }
    VX_RETURN_IF_ERROR(s.quantizer->Encode(ordered.data(), cnt, codes.data() + uint64_t{b} * cs, o.threads));
    VX_RETURN_IF_ERROR(s.progress.Step(b + cnt, n, "encode"));
  }
  return codes;
}

// Writes the generation's files (graph, graph_pages, vectors, upper, codes,
// then the shared ones) and names them in *files.
Status WriteFiles(const GenerationWriter& gen, const Graph& graph, const float* data,
                  const std::vector<uint32_t>& row_of, const std::vector<uint8_t>& codes, const BuildSetup& s,
                  std::vector<std::string>* files) {
  Env* env = s.env;
  const uint32_t n = graph.size();
  {
    VX_ASSIGN_OR_RETURN(
        auto f, env->OpenFile(gen.Path(kGraphFile), OpenOptions{.write = true, .create = true, .truncate = true}));
    VX_ASSIGN_OR_RETURN(const GraphPageMap map,
                        WriteGraphFile(f.get(), s.vectors.page_size, gen.PageBindingOf(kGraphFile), graph));
    const std::vector<uint32_t>& first = map.first_nodes();
    VX_RETURN_IF_ERROR(WriteWholeFile(env, gen.Path("graph_pages"), first.data(), first.size() * 4));
  }
  {
    VX_ASSIGN_OR_RETURN(
        auto w, VectorFileWriter::Create(env, gen.Path(kVectorsFile), s.vectors, n, gen.PageBindingOf(kVectorsFile)));
    for (uint32_t v = 0; v < n; ++v) {
      VX_RETURN_IF_ERROR(w->Append(data + uint64_t{row_of[v]} * s.dim, 1));
      if ((v + 1) % 65536 == 0 || v + 1 == n) VX_RETURN_IF_ERROR(s.progress.Step(v + 1, n, "write"));
    }
    VX_RETURN_IF_ERROR(w->Finish());
  }
  const std::vector<uint32_t> upper = EncodeUpper(graph);
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen.Path("upper"), upper.data(), upper.size() * 4));
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen.Path("codes"), codes.data(), codes.size()));
  *files = {kGraphFile, "graph_pages", kVectorsFile, "upper", "codes"};
  return WriteSharedFiles(gen, s, row_of, files);
}

Status Build(VectorSource& source, const std::string& dir, const BuildOptions& o, const BuildCommit* commit) {
  VX_RETURN_IF_ERROR(CheckOptions(o));
  VX_ASSIGN_OR_RETURN(BuildSetup s, PrepareBuild(source, o));
  VX_RETURN_IF_ERROR(CheckBuildMemory(s, o));
  // Locks the directory and checks the disk now, so that a build that could
  // not write its files is refused before it spends minutes on the graph.
  // The files need at least the vectors, the codes, the keys and a graph
  // page beside the graph file's header.
  const uint64_t min_bytes =
      s.vectors.FileBytes(s.count) + s.count * (s.quantizer->code_size() + 8) + 2 * s.vectors.page_size;
  VX_ASSIGN_OR_RETURN(auto gen, BeginGeneration(s.env, dir, min_bytes, commit));

  VX_ASSIGN_OR_RETURN(const std::vector<float> data, ReadRows(source, s, o.metric));
  std::vector<uint32_t> row_of;
  VX_ASSIGN_OR_RETURN(const Graph graph, BuildGraph(data.data(), s, o, commit, &row_of));
  VX_ASSIGN_OR_RETURN(const std::vector<uint8_t> codes, EncodeNodes(data.data(), row_of, s, o));
  std::vector<std::string> files;
  VX_RETURN_IF_ERROR(WriteFiles(*gen, graph, data.data(), row_of, codes, s, &files));

  ManifestParams params;
  BuiltParams(s, o, kType.name, kFormat, source).ToManifest(&params);
  HnswParams hp;
  hp.m = o.m;
  hp.ef_construction = o.ef_construction;
  hp.entry = graph.entry();
  hp.max_level = graph.max_level();
  hp.reorder = o.reorder;
  hp.ToManifest(&params);
  if (s.progress.cancelled()) return Status::Cancelled("cancelled before the commit");
  return CommitGeneration(*gen, std::move(params), files, commit);
}

}  // namespace

const IndexTypeOps kType = {IndexType::kHnsw, "hnsw",     kGraphFile,  PageType::kGraph, Build,
                            HnswIndex::Open,  PeakMemory, 64ull << 20, FixShape,         Growth};

}  // namespace vx::hnsw
