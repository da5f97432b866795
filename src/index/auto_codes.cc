#include "index/auto_codes.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/distance.h"
#include "core/posix.h"
#include "core/topk.h"
#include "index/attrs.h"
#include "index/build.h"

namespace vx {
namespace {

constexpr uint64_t kSampleRows = 10000;
constexpr uint32_t kSampleQueries = 100;
constexpr uint32_t kRecallK = 10;

// MB as vxctl counts them (2^20 bytes), rounded up.
std::string Mb(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB"; }

// Recall@10 of `spec`'s codes on the sample: the queries' kAutoCheckDepth
// best by code, reranked exactly, against their exact 10 nearest.
Result<double> SampleRecall(const QuantSpec& spec, const BuildOptions& o, const std::vector<float>& base, uint64_t n,
                            const std::vector<float>& queries, uint32_t dim) {
  VX_ASSIGN_OR_RETURN(auto q, Quantizer::Create(spec, o.metric, dim));
  TrainParams tp;
  tp.seed = o.seed;
  tp.threads = o.threads;
  VX_RETURN_IF_ERROR(q->Train(base.data(), n, tp));
  std::vector<uint8_t> codes(n * q->code_size());
  VX_RETURN_IF_ERROR(q->Encode(base.data(), n, codes.data(), o.threads));
  std::vector<float> exact(n), approx(n);
  PreparedQuery pq;
  uint64_t hits = 0;
  const uint64_t nq = queries.size() / dim;
  for (uint64_t i = 0; i < nq; ++i) {
    const float* x = queries.data() + i * dim;
    VX_ASSIGN_OR_RETURN(const QueryDistance d, QueryDistance::Make(o.metric, ElementType::kF32, x, dim));
    d.Many(base.data(), n, exact.data());
    VX_RETURN_IF_ERROR(q->Prepare(x, &pq));
    q->ScoreBlock(pq, codes.data(), n, approx.data());
    TopK truth(kRecallK), by_code(kAutoCheckDepth), reranked(kRecallK);
    for (uint64_t r = 0; r < n; ++r) truth.Push(exact[r], r), by_code.Push(approx[r], r);
    for (const Neighbor& c : by_code.Sorted()) reranked.Push(exact[c.id], c.id);
    const std::vector<Neighbor> want = truth.Sorted();
    for (const Neighbor& got : reranked.Sorted()) {
      // Ties with the 10th exact distance count as hits.
      hits += got.dist <= want.back().dist;
    }
  }
  return double(hits) / double(nq * kRecallK);
}

}  // namespace

RowFootprint FootprintOf(IndexType type, uint32_t m, size_t code_size) {
  constexpr uint64_t kKey = sizeof(int64_t);
  // HNSW: the codes and keys in RAM; a layer-0 record of up to 2m ids,
  // delta-packed, in graph pages: 25-40 bytes a row measured at m 16 from
  // 20k to 5M rows, so 4 + 2.5 m. IVF: keys in RAM; a list entry (row id and
  // code) in list pages.
  if (type == IndexType::kHnsw) return {code_size + kKey, 4 + uint64_t{m} * 5 / 2};
  return {kKey, 4 + code_size};
}

Result<CodeChoice> ChooseCodes(VectorSource& source, const BuildOptions& o) {
  CodeChoice c;
  if (o.quant != "auto") {
    VX_ASSIGN_OR_RETURN(c.spec, ParseQuantSpec(o.quant));
    return c;
  }
  const uint64_t n = source.count();
  const uint32_t dim = source.dim();
  const uint64_t budget = o.serve_memory_bytes ? o.serve_memory_bytes : UsableMemoryBytes();
  const char* structure = o.type == IndexType::kHnsw ? "graph" : "lists";
  // A rung's bytes to serve with the whole structure cached (one round
  // trip a query after a prewarm), and with a quarter of it.
  struct Rung {
    QuantSpec spec;
    uint64_t all = 0, quarter = 0;
  };
  auto rung = [&](const char* text) -> Result<Rung> {
    Rung r;
    VX_ASSIGN_OR_RETURN(r.spec, ParseQuantSpec(text));
    VX_ASSIGN_OR_RETURN(auto q, Quantizer::Create(r.spec, o.metric, dim));
    const RowFootprint f = FootprintOf(o.type, o.m, q->code_size());
    r.all = n * (f.resident + f.structure);
    r.quarter = n * (f.resident + f.structure / 4);
    return r;
  };
  std::vector<Rung> ladder;  // most accurate first
  for (const char* text : {"sq8", "rabitq:4", "rabitq:2", "rabitq:1"}) {
    VX_ASSIGN_OR_RETURN(Rung r, rung(text));
    ladder.push_back(r);
  }
  VX_ASSIGN_OR_RETURN(const Rung f16, rung("f16"));
  // The attributes' RAM (values, sorted orders, bitmaps), as an open
  // holds them, comes out of the budget first.
  uint64_t attr_bytes = 0;
  if (!o.attributes.empty()) {
    VX_ASSIGN_OR_RETURN(const std::string bytes, AttrIndex::Serialize(o.attributes, {}));
    VX_ASSIGN_OR_RETURN(const std::unique_ptr<AttrIndex> attrs, AttrIndex::Load(bytes, n, "attributes"));
    attr_bytes = attrs->bytes();
  }
  // A tenth for vector pages and per-query scratch.
  const uint64_t usable = budget / 10 * 9 > attr_bytes ? budget / 10 * 9 - attr_bytes : 0;
  const std::string of_budget =
      " of the " + Mb(budget) + " serving budget" + (attr_bytes ? " beside " + Mb(attr_bytes) + " of attributes" : "");
  const Rung* pick = nullptr;
  std::string fit;
  for (const Rung& r : ladder) {
    if (!pick && r.all <= usable) pick = &r, fit = Mb(r.all) + of_budget + ", the whole " + structure + " cached";
  }
  for (const Rung& r : ladder) {
    if (!pick && r.quarter <= usable) {
      pick = &r, fit = Mb(r.quarter) + of_budget + ", a quarter of the " + structure + " cached";
    }
  }
  if (!pick) {
    pick = &ladder.back();
    fit = "the smallest codes; they do not fit the " + Mb(budget) + " serving budget: serving needs " +
          Mb(pick->quarter + attr_bytes) + " with a quarter of the " + structure + " cached";
  }
  c.spec = pick->spec;
  c.why = "auto: " + c.spec.ToString() + " (" + fit + ")";
  if (n < 2 * kSampleQueries) return c;  // too few rows to check on

  // The check: the head of the base, every (rows / 100)th row a query.
  const uint64_t rows = std::min(n, kSampleRows + kSampleQueries);
  std::vector<float> head(rows * dim);
  VX_RETURN_IF_ERROR(source.Rewind());
  for (uint64_t done = 0; done < rows;) {
    VX_ASSIGN_OR_RETURN(const size_t got, source.Read(rows - done, head.data() + done * dim));
    if (got == 0) return Status::Corruption(source.name() + ": ends before its " + std::to_string(n) + " rows");
    done += got;
  }
  VX_RETURN_IF_ERROR(source.Rewind());
  if (o.metric == Metric::kCosine) VX_RETURN_IF_ERROR(NormalizeRows(head.data(), rows, dim, 0, source.name()));
  std::vector<float> base, queries;
  base.reserve(head.size());
  const uint64_t stride = rows / kSampleQueries;
  for (uint64_t r = 0; r < rows; ++r) {
    std::vector<float>& to = r % stride == 0 && queries.size() < kSampleQueries * dim ? queries : base;
    to.insert(to.end(), head.begin() + r * dim, head.begin() + (r + 1) * dim);
  }
  const uint64_t nb = base.size() / dim;
  VX_ASSIGN_OR_RETURN(double recall, SampleRecall(c.spec, o, base, nb, queries, dim));
  // sq8 short of the target: f16, if it fits as well.
  if (c.spec.kind == QuantKind::kSQ8 && recall < kAutoTargetRecall && f16.all <= usable) {
    VX_ASSIGN_OR_RETURN(const double f16_recall, SampleRecall(f16.spec, o, base, nb, queries, dim));
    if (f16_recall > recall) {
      recall = f16_recall;
      c.spec = f16.spec;
      fit = Mb(f16.all) + of_budget + ", the whole " + structure + " cached; sq8 missed the target";
    }
  }
  char figures[160];
  std::snprintf(figures, sizeof figures, "; recall@%u at ef_search %u on a sample of %llu rows: %.3f", kRecallK,
                kAutoCheckDepth, static_cast<unsigned long long>(nb), recall);
  c.why = "auto: " + c.spec.ToString() + " (" + fit + ")" + figures;
  if (recall < kAutoTargetRecall) c.why += ", below the target 0.95: raise ef_search, or serve with more memory";
  return c;
}

}  // namespace vx
