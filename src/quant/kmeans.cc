#include "quant/kmeans.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "core/check.h"
#include "core/parallel.h"
#include "core/topk.h"

namespace vx {
namespace {

constexpr uint64_t kRowBlock = 1024;  // rows per task
constexpr uint32_t kCentroidTile = 1024;
constexpr uint32_t kClusterBlock = 16;  // clusters per update task

double SquaredDistance(const float* a, const float* b, uint32_t d) {
  double s = 0;
  for (uint32_t i = 0; i < d; ++i) {
    const double t = double{a[i]} - b[i];
    s += t * t;
  }
  return s;
}

std::vector<float> Norms(const float* x, uint64_t n, uint32_t d) {
  std::vector<float> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    float s = 0;
    for (uint32_t j = 0; j < d; ++j) s += x[i * d + j] * x[i * d + j];
    out[i] = s;
  }
  return out;
}

}  // namespace

void AssignTopNearest(const float* data, uint64_t n, const float* centroids, uint32_t k, uint32_t dim, uint32_t top,
                      int threads, int32_t* assign, float* dist, bool inner_product) {
  VX_CHECK(top >= 1 && top <= k);
  openblas_set_num_threads(1);
  const std::vector<float> cn = Norms(centroids, k, dim);
  const uint64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  ParallelFor(blocks, threads, [&](size_t b) {
    const uint64_t r0 = b * kRowBlock, rn = std::min<uint64_t>(kRowBlock, n - r0);
    const uint32_t tile = std::min(k, kCentroidTile);
    std::vector<float> dots(rn * tile);
    std::vector<TopK> heaps(rn, TopK(top));
    const std::vector<float> xn = Norms(data + r0 * dim, rn, dim);
    for (uint32_t c0 = 0; c0 < k; c0 += tile) {
      const uint32_t cnt = std::min(tile, k - c0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rn), static_cast<int>(cnt),
                  static_cast<int>(dim), 1.0f, data + r0 * dim, static_cast<int>(dim), centroids + uint64_t{c0} * dim,
                  static_cast<int>(dim), 0.0f, dots.data(), static_cast<int>(cnt));
      for (uint64_t i = 0; i < rn; ++i) {
        for (uint32_t c = 0; c < cnt; ++c) {
          const float d =
              inner_product ? -dots[i * cnt + c] : std::max(0.0f, xn[i] + cn[c0 + c] - 2.0f * dots[i * cnt + c]);
          heaps[i].Push(d, c0 + c);
        }
      }
    }
    for (uint64_t i = 0; i < rn; ++i) {
      const auto sorted = heaps[i].TakeSorted();
      for (uint32_t t = 0; t < top; ++t) {
        assign[(r0 + i) * top + t] = static_cast<int32_t>(sorted[t].id);
        dist[(r0 + i) * top + t] = sorted[t].dist;
      }
    }
  });
}

void AssignNearest(const float* data, uint64_t n, const float* centroids, uint32_t k, uint32_t dim, int threads,
                   int32_t* assign, float* dist) {
  AssignTopNearest(data, n, centroids, k, dim, 1, threads, assign, dist);
}

void BalanceAssignment(uint64_t n, uint32_t k, uint32_t top, const int32_t* candidates, const float* cand_dist,
                       uint64_t cap, int32_t* assign) {
  std::vector<uint64_t> size(k, 0);
  for (uint64_t i = 0; i < n; ++i) ++size[assign[i]];
  // Visit points of overfull clusters in order of how little a move costs.
  struct Move {
    float cost;
    uint64_t point;
  };
  for (uint32_t choice = 1; choice < top; ++choice) {
    std::vector<Move> moves;
    for (uint64_t i = 0; i < n; ++i) {
      if (size[assign[i]] > cap) moves.push_back({cand_dist[i * top + choice] - cand_dist[i * top], i});
    }
    if (moves.empty()) return;
    std::sort(moves.begin(), moves.end(),
              [](const Move& a, const Move& b) { return a.cost < b.cost || (a.cost == b.cost && a.point < b.point); });
    for (const Move& m : moves) {
      const int32_t from = assign[m.point], to = candidates[m.point * top + choice];
      if (size[from] > cap && size[to] < cap) {
        --size[from];
        ++size[to];
        assign[m.point] = to;
      }
    }
  }
}

// Over 80 lines: seeding, the Lloyd iterations and the empty-cluster repair
// share the sample and the scratch arrays sized once at the top.
Result<KMeansResult> KMeans(const float* data, uint64_t n, uint32_t dim, const KMeansParams& p) {
  if (p.k == 0 || dim == 0) return Status::InvalidArgument("k-means: k and dim must be positive");
  if (n < p.k) {
    return Status::InvalidArgument("k-means: " + std::to_string(n) + " training points for " + std::to_string(p.k) +
                                   " centroids");
  }
  std::mt19937_64 rng(p.seed);
  // Training sample (without replacement, sorted for locality).
  std::vector<uint64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  if (n > p.max_train_points) {
    for (uint64_t i = 0; i < p.max_train_points; ++i) std::swap(rows[i], rows[i + rng() % (n - i)]);
    rows.resize(std::max<uint64_t>(p.max_train_points, p.k));
    std::sort(rows.begin(), rows.end());
  }
  const uint64_t m = rows.size();
  std::vector<float> x(m * dim);
  for (uint64_t i = 0; i < m; ++i) std::copy_n(data + rows[i] * dim, dim, x.data() + i * dim);

  KMeansResult out;
  out.centroids.resize(uint64_t{p.k} * dim);
  // 1. k-means++ seeding on a prefix of the (shuffled-order) sample.
  {
    const uint64_t s = std::min<uint64_t>(m, uint64_t{32} * p.k);
    std::vector<uint64_t> pick(m);
    std::iota(pick.begin(), pick.end(), 0);
    for (uint64_t i = 0; i < s; ++i) std::swap(pick[i], pick[i + rng() % (m - i)]);
    std::vector<double> d2(s, std::numeric_limits<double>::infinity());
    uint64_t chosen = pick[rng() % s];
    for (uint32_t c = 0; c < p.k; ++c) {
      std::copy_n(x.data() + chosen * dim, dim, out.centroids.data() + uint64_t{c} * dim);
      double total = 0;
      for (uint64_t i = 0; i < s; ++i) {
        d2[i] =
            std::min(d2[i], SquaredDistance(x.data() + pick[i] * dim, out.centroids.data() + uint64_t{c} * dim, dim));
        total += d2[i];
      }
      if (c + 1 == p.k) break;
      if (total <= 0) {  // fewer distinct points than k: any point will do
        chosen = pick[rng() % s];
        continue;
      }
      double r = std::uniform_real_distribution<double>(0, total)(rng);
      uint64_t i = 0;
      for (; i + 1 < s && r >= d2[i]; ++i) r -= d2[i];
      chosen = pick[i];
    }
  }

  // 2-3. Lloyd iterations.
  std::vector<int32_t> assign(m);
  std::vector<float> dist(m);
  std::vector<uint64_t> start(p.k + 1), cursor(p.k), members(m);
  std::vector<double> cluster_obj(p.k);
  const uint32_t top = p.balanced ? std::min<uint32_t>(8, p.k) : 1;
  std::vector<int32_t> cand(p.balanced ? m * top : 0);
  std::vector<float> cand_dist(cand.size());
  const auto cap = static_cast<uint64_t>(std::ceil(p.balance_factor * static_cast<double>(m) / p.k));
  for (uint32_t it = 0; it < p.iterations; ++it) {
    if (p.balanced) {
      AssignTopNearest(x.data(), m, out.centroids.data(), p.k, dim, top, p.threads, cand.data(), cand_dist.data());
      for (uint64_t i = 0; i < m; ++i) assign[i] = cand[i * top];
      BalanceAssignment(m, p.k, top, cand.data(), cand_dist.data(), cap, assign.data());
    } else {
      AssignNearest(x.data(), m, out.centroids.data(), p.k, dim, p.threads, assign.data(), dist.data());
    }
    // Objective (exact, in double) and update, per cluster over its members
    // in index order: the result depends only on the seed, not on the
    // thread count, and the scratch is O(n + k * dim), not O(blocks * k * dim).
    std::fill(start.begin(), start.end(), 0);
    for (uint64_t i = 0; i < m; ++i) ++start[assign[i] + 1];
    for (uint32_t c = 0; c < p.k; ++c) start[c + 1] += start[c];
    std::copy(start.begin(), start.end() - 1, cursor.begin());
    for (uint64_t i = 0; i < m; ++i) members[cursor[assign[i]]++] = i;
    std::vector<uint64_t> count(p.k);
    ParallelFor((p.k + kClusterBlock - 1) / kClusterBlock, p.threads, [&](size_t b) {
      std::vector<double> acc(dim);
      const uint32_t c1 = std::min<uint32_t>(p.k, static_cast<uint32_t>((b + 1) * kClusterBlock));
      for (uint32_t c = static_cast<uint32_t>(b * kClusterBlock); c < c1; ++c) {
        float* centroid = out.centroids.data() + uint64_t{c} * dim;
        std::fill(acc.begin(), acc.end(), 0.0);
        double obj = 0;
        for (uint64_t at = start[c]; at < start[c + 1]; ++at) {
          const float* xi = x.data() + members[at] * dim;
          obj += SquaredDistance(xi, centroid, dim);
          for (uint32_t j = 0; j < dim; ++j) acc[j] += xi[j];
        }
        cluster_obj[c] = obj;
        count[c] = start[c + 1] - start[c];
        if (count[c] == 0) continue;
        for (uint32_t j = 0; j < dim; ++j) centroid[j] = static_cast<float>(acc[j] / count[c]);
      }
    });
    out.objective.push_back(std::accumulate(cluster_obj.begin(), cluster_obj.end(), 0.0));
    if (p.progress) p.progress(it + 1, p.iterations);
    if (p.cancel && p.cancel->load(std::memory_order_relaxed)) return Status::Cancelled("k-means cancelled");
    // Empty clusters: a copy of the largest cluster's centroid, nudged. The
    // original stays, so no point's nearest distance can grow.
    for (uint32_t c = 0; c < p.k; ++c) {
      if (count[c] != 0) continue;
      const uint32_t big = static_cast<uint32_t>(std::max_element(count.begin(), count.end()) - count.begin());
      if (count[big] < 2) break;
      const float* src = out.centroids.data() + uint64_t{big} * dim;
      float* dst = out.centroids.data() + uint64_t{c} * dim;
      for (uint32_t j = 0; j < dim; ++j) {
        dst[j] = src[j] + (std::fabs(src[j]) + 1e-6f) * 1e-3f * ((j & 1) ? 1.0f : -1.0f);
      }
      count[c] = count[big] / 2;
      count[big] -= count[c];
    }
  }
  return out;
}

}  // namespace vx
