// vxctl quant-eval: how accurate and how fast a quantizer's codes are on a
// dataset: recall@k by codes alone and after reranking the top R by exact
// distance, bytes per vector, encode rate, codes scored per second per core.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/dataset.h"
#include "core/distance.h"
#include "core/parallel.h"
#include "core/topk.h"
#include "quant/quantizer.h"
#include "vxctl/commands.h"

namespace vxctl {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Scoring speed: one thread, whole blocks of codes, and the top k selected
// (what an IVF list scan or FAISS's IndexPQ search does), cycling through
// the queries for at least a second.
vx::Result<double> CodesScoredPerSecond(const vx::Quantizer& q, const vx::FloatMatrix& queries,
                                        const std::vector<uint8_t>& codes, uint64_t rows, uint32_t k) {
  std::vector<float> est(rows);
  vx::PreparedQuery pq;
  uint64_t timed = 0;
  const auto t0 = Clock::now();
  for (; timed < queries.rows * 1000 && (timed < 10 || Since(t0) < 1.0); ++timed) {
    VX_RETURN_IF_ERROR(q.Prepare(queries.row(timed % queries.rows), &pq));
    q.ScoreBlock(pq, codes.data(), rows, est.data());
    vx::TopK top(k);
    for (uint64_t j = 0; j < rows; ++j) {
      if (est[j] <= top.threshold()) top.Push(est[j], static_cast<int64_t>(j));
    }
  }
  return timed * double(rows) / Since(t0);
}

struct Recall {
  double codes = 0;            // recall@k of the codes' top k
  std::vector<double> rerank;  // recall@k after reranking each depth exactly
};

// Recall of the codes alone and after each rerank depth, on all threads.
vx::Result<Recall> MeasureRecall(const vx::Quantizer& q, const vx::FloatMatrix& base, const vx::FloatMatrix& queries,
                                 const vx::IdMatrix& gt, const std::vector<uint8_t>& codes, vx::Metric metric,
                                 uint32_t k, const std::vector<uint32_t>& depths, int threads) {
  uint32_t max_r = k;
  for (uint32_t r : depths) max_r = std::max(max_r, r);
  max_r = static_cast<uint32_t>(std::min<uint64_t>(max_r, base.rows));
  std::vector<uint64_t> hits_codes(queries.rows), hits_rerank(queries.rows * depths.size());
  std::vector<vx::Status> errors(queries.rows);
  vx::ParallelFor(queries.rows, threads, [&](size_t i) {
    std::vector<float> e(base.rows);
    vx::PreparedQuery p;
    if (!(errors[i] = q.Prepare(queries.row(i), &p)).ok()) return;
    q.ScoreBlock(p, codes.data(), base.rows, e.data());
    vx::TopK top(max_r);
    for (uint64_t j = 0; j < base.rows; ++j) {
      if (e[j] <= top.threshold()) top.Push(e[j], static_cast<int64_t>(j));
    }
    const auto cand = top.TakeSorted();
    const int32_t* g = gt.row(i);
    auto in_gt = [&](int64_t id) { return std::count(g, g + k, static_cast<int32_t>(id)) > 0; };
    for (uint32_t r = 0; r < k && r < cand.size(); ++r) hits_codes[i] += in_gt(cand[r].id);
    auto exact = vx::QueryDistance::Make(metric, vx::ElementType::kF32, queries.row(i), base.dim);
    if (!exact.ok()) {
      errors[i] = exact.status();
      return;
    }
    for (size_t ri = 0; ri < depths.size(); ++ri) {
      vx::TopK best(k);
      for (uint32_t r = 0; r < depths[ri] && r < cand.size(); ++r)
        best.Push((*exact)(base.row(cand[r].id)), cand[r].id);
      for (const auto& n : best.TakeSorted()) hits_rerank[i * depths.size() + ri] += in_gt(n.id);
    }
  });
  for (const vx::Status& e : errors) VX_RETURN_IF_ERROR(e);
  const double denom = double(queries.rows) * k;
  Recall out;
  out.codes = std::accumulate(hits_codes.begin(), hits_codes.end(), 0.0) / denom;
  out.rerank.assign(depths.size(), 0.0);
  for (uint64_t i = 0; i < queries.rows; ++i) {
    for (size_t ri = 0; ri < depths.size(); ++ri) out.rerank[ri] += hits_rerank[i * depths.size() + ri];
  }
  for (double& r : out.rerank) r /= denom;
  return out;
}

}  // namespace

// Over 80 lines: one CLI11 call per option, then the run, which reads the
// options where they were declared.
void AddQuantEval(CLI::App& app, RunFn* run) {
  struct Args {
    std::string base, queries, gt, quant, metric = "l2";
    std::vector<uint32_t> rerank = {50, 100};
    uint32_t k = 10;
    int threads = 0;
    uint64_t seed = vx::TrainParams{}.seed;
    JsonOut json;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("quant-eval", "Recall and speed of a quantizer's codes on a dataset");
  cmd->add_option("--base", args->base, "Base vectors (loaded whole)")->required();
  cmd->add_option("--queries", args->queries, "Queries")->required();
  cmd->add_option("--gt", args->gt, "Ground-truth ids (.ivecs)")->required();
  cmd->add_option("--quant", args->quant, "f16 | sq8 | pq:M | pq4:M (M <= dim) | rabitq[:B] (B bits/dim, 1-8)")
      ->required();
  cmd->add_option("--metric", args->metric, "l2 | ip | cosine")
      ->capture_default_str()
      ->check(CLI::IsMember({"l2", "ip", "cosine"}));
  cmd->add_option("--rerank", args->rerank, "Candidates reranked by exact distance (list)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--k", args->k, "k of recall@k")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads, "Threads for training, encoding and recall (0 = all)")
      ->check(CLI::Range(0, vx::kMaxThreads));
  cmd->add_option("--seed", args->seed, "Training seed (k-means sampling and seeding, RaBitQ's rotation)")
      ->capture_default_str();
  AddJsonOption(cmd, &args->json);
  cmd->callback([run, args] {
    *run = [args]() -> int {
      auto spec = vx::ParseQuantSpec(args->quant);
      if (!spec.ok()) {
        fmt::print(stderr, "vxctl: --quant: {}\n", spec.status().message());
        return 2;
      }
      const vx::Metric metric = vx::ParseMetric(args->metric).value();
      auto base = vx::ReadAllFloat(args->base);
      if (!base.ok()) return Fail(base.status());
      auto queries = ReadQueries(args->queries);
      if (!queries.ok()) return Fail(queries.status());
      auto gt = vx::ReadAllIds(args->gt);
      if (!gt.ok()) return Fail(gt.status());
      const uint32_t d = base->dim, k = args->k;
      if (queries->dim != d) return Fail(vx::Status::InvalidArgument("queries and base differ in dimension"));
      if (gt->rows != queries->rows || gt->dim < k) {
        return Fail(vx::Status::InvalidArgument(fmt::format("{}: {} rows of {} ids; need {} rows of at least {}",
                                                            args->gt, gt->rows, gt->dim, queries->rows, k)));
      }
      auto q = vx::Quantizer::Create(*spec, metric, d);
      if (!q.ok()) return Fail(q.status());
      vx::TrainParams tp;
      tp.threads = args->threads;
      tp.seed = args->seed;
      auto t0 = Clock::now();
      vx::Status s = (*q)->Train(base->data.data(), base->rows, tp);
      if (!s.ok()) return Fail(s);
      const double train_s = Since(t0);
      const size_t cs = (*q)->code_size();
      std::vector<uint8_t> codes(base->rows * cs);
      t0 = Clock::now();
      s = (*q)->Encode(base->data.data(), base->rows, codes.data(), args->threads);
      if (!s.ok()) return Fail(s);
      const double encode_s = Since(t0);
      const int threads = vx::ResolveThreads(args->threads);

      auto scored = CodesScoredPerSecond(**q, *queries, codes, base->rows, k);
      if (!scored.ok()) return Fail(scored.status());
      const double codes_per_s = *scored;
      auto recall = MeasureRecall(**q, *base, *queries, *gt, codes, metric, k, args->rerank, threads);
      if (!recall.ok()) return Fail(recall.status());
      const double recall_codes = recall->codes;
      const std::vector<double>& recall_rerank = recall->rerank;

      nlohmann::json j;
      j["quant"] = spec->ToString();
      j["metric"] = args->metric;
      j["base"] = args->base;
      j["vectors"] = base->rows;
      j["dim"] = d;
      j["bytes_per_vector"] = cs;
      j["train_s"] = train_s;
      j["seed"] = args->seed;
      j["encode_vectors_per_s"] = base->rows / encode_s;
      j["encode_vectors_per_s_per_core"] = base->rows / encode_s / threads;
      j["codes_scored_per_s_per_core"] = codes_per_s;
      j[fmt::format("recall@{}_codes", k)] = recall_codes;
      for (size_t ri = 0; ri < args->rerank.size(); ++ri)
        j[fmt::format("recall@{}_rerank{}", k, args->rerank[ri])] = recall_rerank[ri];
      if (args->json.wanted()) {
        vx::Status s = args->json.Write(j);
        return s.ok() ? 0 : Fail(s);
      }
      fmt::print("quant-eval {} on {} ({} x {}, {}), kernels {}\n", spec->ToString(), args->base, base->rows, d,
                 args->metric, vx::IsaName(vx::ActiveKernels().isa));
      fmt::print("  bytes per vector          {}\n", cs);
      fmt::print("  train                     {:.2f} s\n", train_s);
      fmt::print("  encode                    {:.0f} vectors/s ({} threads)\n", base->rows / encode_s, threads);
      fmt::print("  codes scored (+ top-{})    {:.1f} M/s per core\n", k, codes_per_s / 1e6);
      fmt::print("  recall@{} by codes         {:.4f}\n", k, recall_codes);
      for (size_t ri = 0; ri < args->rerank.size(); ++ri) {
        fmt::print("  recall@{} after rerank {:<4} {:.4f}\n", k, args->rerank[ri], recall_rerank[ri]);
      }
      return 0;
    };
  });
}

}  // namespace vxctl
