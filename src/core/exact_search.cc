#include "core/exact_search.h"

#include <cblas.h>

#include <cfloat>
#include <cmath>
#include <future>
#include <string>

#include "core/check.h"
#include "core/distance.h"
#include "core/parallel.h"
#include "core/topk.h"

namespace vx {
namespace {

constexpr size_t kQueryChunk = 64;  // queries per task
constexpr size_t kBaseTile = 2048;  // base rows per sgemm call

struct Block {
  uint64_t first_row = 0;
  size_t rows = 0;
  std::vector<float> data;
  std::vector<float> norm_sq;  // |x|^2 per row (after normalisation for cosine)
};

// Reads the next block of up to `max_rows` rows, computes norms and, for
// cosine, normalises the rows (rejecting zero vectors).
Result<Block> ReadBlock(VectorReader& base, size_t max_rows, size_t dim, Metric metric) {
  Block b;
  b.first_row = base.position();
  const uint64_t left = base.info().count - b.first_row;
  b.data.resize(std::min<uint64_t>(max_rows, left) * dim);
  VX_ASSIGN_OR_RETURN(b.rows, base.ReadFloat(max_rows, b.data.data()));
  b.data.resize(b.rows * dim);
  b.norm_sq.resize(b.rows);
  const OneFn neg_dot = ActiveKernels().one[static_cast<int>(Metric::kInnerProduct)][0];
  for (size_t i = 0; i < b.rows; ++i) {
    float* x = b.data.data() + i * dim;
    b.norm_sq[i] = -neg_dot(x, 0, x, dim);
    if (metric == Metric::kCosine) {
      if (b.norm_sq[i] == 0) {
        return Status::InvalidArgument(base.path() + ": record " + std::to_string(b.first_row + i) +
                                       " is a zero vector; cosine distance is undefined for it");
      }
      const float inv = 1.0f / std::sqrt(b.norm_sq[i]);
      for (size_t j = 0; j < dim; ++j) x[j] *= inv;
      b.norm_sq[i] = 1.0f;
    }
  }
  return b;
}

// The queries as sgemm uses them (unit length for cosine), their squared
// norms, and an exact kernel for each (bound to `q`, which must not move).
struct PreparedQueries {
  std::vector<float> q, norm_sq;
  std::vector<QueryDistance> exact;
};

Status PrepareQueries(const FloatMatrix& queries, Metric metric, PreparedQueries* out) {
  const size_t dim = queries.dim;
  out->q = queries.data;
  out->norm_sq.resize(queries.rows);
  out->exact.reserve(queries.rows);
  for (uint64_t i = 0; i < queries.rows; ++i) {
    float* qi = out->q.data() + i * dim;
    double n = 0;
    for (size_t j = 0; j < dim; ++j) n += double{qi[j]} * qi[j];
    if (metric == Metric::kCosine) {
      if (n == 0) {
        return Status::InvalidArgument("query " + std::to_string(i) +
                                       " is a zero vector; cosine distance is undefined for it");
      }
      const double inv = 1.0 / std::sqrt(n);
      for (size_t j = 0; j < dim; ++j) qi[j] = static_cast<float>(qi[j] * inv);
      n = 1.0;
    }
    out->norm_sq[i] = static_cast<float>(n);
    VX_ASSIGN_OR_RETURN(auto qd, QueryDistance::Make(metric, ElementType::kF32, qi, dim));
    out->exact.push_back(std::move(qd));
  }
  return Status::Ok();
}

// Offers every row of `block` to every query's heap: sgemm dot products in
// tiles, query chunks in parallel; a row whose sgemm distance is within
// sgemm's error bound of a heap's k-th is re-scored with the exact kernel,
// and only exact distances enter the heaps.
void ScoreBlock(const Block& block, const PreparedQueries& pq, Metric metric, size_t dim, int threads,
                std::vector<TopK>* heaps) {
  const size_t nq = heaps->size();
  // sgemm's error on a dot product is at most ~dim*eps*|q||x|.
  const float slack_factor = static_cast<float>(2 * dim + 8) * FLT_EPSILON;
  const bool l2 = metric == Metric::kL2;
  const size_t num_chunks = (nq + kQueryChunk - 1) / kQueryChunk;
  ParallelFor(num_chunks, threads, [&](size_t chunk) {
    const size_t q0 = chunk * kQueryChunk;
    const size_t qn = std::min<size_t>(kQueryChunk, nq - q0);
    std::vector<float> dots(qn * kBaseTile);
    for (size_t t0 = 0; t0 < block.rows; t0 += kBaseTile) {
      const size_t tn = std::min(kBaseTile, block.rows - t0);
      const float* x = block.data.data() + t0 * dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(qn), static_cast<int>(tn),
                  static_cast<int>(dim), 1.0f, pq.q.data() + q0 * dim, static_cast<int>(dim), x, static_cast<int>(dim),
                  0.0f, dots.data(), static_cast<int>(tn));
      float max_x = 0;
      for (size_t j = 0; j < tn; ++j) max_x = std::max(max_x, block.norm_sq[t0 + j]);
      for (size_t i = 0; i < qn; ++i) {
        TopK& heap = (*heaps)[q0 + i];
        const float qsq = pq.norm_sq[q0 + i];
        const float* drow = dots.data() + i * tn;
        const float* xn = block.norm_sq.data() + t0;
        const float slack = slack_factor * (l2 ? qsq + max_x : std::sqrt(qsq) * std::sqrt(max_x));
        float bound = heap.threshold() + slack;
        for (size_t j = 0; j < tn; ++j) {
          const float approx = l2 ? qsq + xn[j] - 2.0f * drow[j] : -drow[j];
          if (approx > bound) continue;
          const int64_t id = static_cast<int64_t>(block.first_row + t0 + j);
          if (heap.Push(pq.exact[q0 + i](x + j * dim), id)) bound = heap.threshold() + slack;
        }
      }
    }
  });
}

}  // namespace

Result<ExactResult> ExactSearch(VectorReader& base, const FloatMatrix& queries, const ExactSearchParams& params) {
  const size_t dim = queries.dim;
  const uint64_t nq = queries.rows;
  if (base.info().dim != dim) {
    return Status::InvalidArgument("dimension mismatch: base " + base.path() + " has " +
                                   std::to_string(base.info().dim) + ", queries have " + std::to_string(dim));
  }
  const uint64_t total = base.info().count - base.position();
  if (params.k == 0) return Status::InvalidArgument("k must be at least 1");
  VX_RETURN_IF_ERROR(CheckThreads(params.threads, "threads"));
  if (params.k > total) {
    return Status::InvalidArgument("k (" + std::to_string(params.k) + ") exceeds the base size (" +
                                   std::to_string(total) + " rows)");
  }
  if (base.info().count > static_cast<uint64_t>(INT32_MAX)) {
    return Status::InvalidArgument(base.path() + ": more rows than int32 ids can name");
  }
  PreparedQueries pq;
  VX_RETURN_IF_ERROR(PrepareQueries(queries, params.metric, &pq));

  std::vector<TopK> heaps(nq, TopK(params.k));
  const int threads = ResolveThreads(params.threads);
  openblas_set_num_threads(1);  // vx parallelises over query chunks itself
  const size_t max_rows = std::max<size_t>(kBaseTile, params.memory_bytes / 2 / (dim * sizeof(float) + sizeof(float)));
  auto read_next = [&] { return ReadBlock(base, max_rows, dim, params.metric); };
  std::future<Result<Block>> pending = std::async(std::launch::async, read_next);
  for (uint64_t done = 0;;) {
    Result<Block> got = pending.get();
    if (!got.ok()) return got.status();
    Block block = std::move(got).value();
    if (block.rows == 0) break;
    pending = std::async(std::launch::async, read_next);  // overlap I/O with compute
    ScoreBlock(block, pq, params.metric, dim, threads, &heaps);
    done += block.rows;
    if (params.progress) params.progress(done, total);
  }

  ExactResult out;
  out.num_queries = nq;
  out.k = params.k;
  out.ids.resize(nq * params.k);
  out.dists.resize(nq * params.k);
  for (uint64_t i = 0; i < nq; ++i) {
    const std::vector<Neighbor> sorted = heaps[i].TakeSorted();
    VX_CHECK(sorted.size() == params.k);
    for (size_t r = 0; r < params.k; ++r) {
      out.ids[i * params.k + r] = static_cast<int32_t>(sorted[r].id);
      out.dists[i * params.k + r] = sorted[r].dist;
    }
  }
  return out;
}

}  // namespace vx
