// Data commands: version, gen (synthetic data), gt (exact neighbours), recall.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/distance.h"
#include "core/exact_search.h"
#include "core/parallel.h"
#include "core/synth.h"
#include "quant/quantizer.h"
#include "vx/vx.h"
#include "vxctl/commands.h"
#include "vxctl/progress.h"

namespace vxctl {

int Fail(const vx::Status& s) {
  fmt::print(stderr, "vxctl: {}\n", s.ToString());
  return 1;
}

int Usage(const std::string& message) {
  fmt::print(stderr, "vxctl: {} (see --help)\n", message);
  return 2;
}

void AddJsonOption(CLI::App* cmd, JsonOut* out) {
  out->option =
      cmd->add_option("--json", out->path, "Print JSON instead of text, to FILE when given (FILE or -: stdout)")
          ->expected(0, 1)
          ->type_name("[FILE]")
          // An optional value takes the next word: `--json DIR ...` would
          // take the index directory for the JSON file.
          ->check(
              [](const std::string& v) {
                std::error_code ec;
                if (!std::filesystem::is_directory(v, ec)) return std::string();
                return v +
                       " is a directory, not a file: put --json after the positional arguments, or write --json=FILE";
              },
              "FILE");
}

vx::Status JsonOut::Write(const nlohmann::json& j) const {
  if (to_stdout()) {
    fmt::print("{}\n", j.dump(2));
    return vx::Status::Ok();
  }
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  f.close();
  if (!f) return vx::Status::IOError(path + ": write failed");
  return vx::Status::Ok();
}

std::string Suggest(const std::string& typo, const std::vector<std::string>& names) {
  auto norm = [](std::string s) {
    std::replace(s.begin(), s.end(), '_', '-');
    return s;
  };
  const std::string t = norm(typo);
  std::string best;
  size_t best_d = 3;
  for (const std::string& name : names) {
    const std::string n = norm(name);
    std::vector<size_t> row(n.size() + 1);
    for (size_t j = 0; j <= n.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= t.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= n.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (t[i - 1] == n[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    if (row[n.size()] < best_d) best_d = row[n.size()], best = name;
  }
  // Else a name that holds the word whole (--memory in --work-memory).
  const std::string core = t.substr(t.find_first_not_of('-') == std::string::npos ? 0 : t.find_first_not_of('-'));
  for (const std::string& name : names) {
    if (best.empty() && core.size() >= 4 && norm(name).find(core) != std::string::npos) best = name;
  }
  return best;
}

vx::Status WriteSynthetic(const vx::SyntheticGenerator& gen, uint64_t stream, uint64_t count, uint32_t dim,
                          const std::string& path, const char* label) {
  VX_ASSIGN_OR_RETURN(auto writer, vx::VectorWriter::Create(path, vx::DType::kF32, dim));
  constexpr uint64_t kChunk = 1 << 14;
  constexpr uint64_t kChunksPerBatch = 16;
  std::vector<float> buf(kChunk * kChunksPerBatch * dim);
  Progress progress(label, count, "vectors");
  for (uint64_t first = 0; first < count; first += kChunk * kChunksPerBatch) {
    const uint64_t n = std::min(kChunk * kChunksPerBatch, count - first);
    vx::ParallelFor((n + kChunk - 1) / kChunk, 0, [&](size_t c) {
      const uint64_t off = c * kChunk;
      gen.Generate(stream, first + off, std::min(kChunk, n - off), buf.data() + off * dim);
    });
    VX_RETURN_IF_ERROR(writer->Append(buf.data(), n));
    progress.Update(first + n);
  }
  VX_RETURN_IF_ERROR(writer->Finish());
  progress.Finish();
  return vx::Status::Ok();
}

void AddVersion(CLI::App& app, RunFn* run) {
  auto* cmd = app.add_subcommand("version", "Print the version and the SIMD kernels in use");
  cmd->callback([run] {
    *run = [] {
      std::string supported;
      for (vx::Isa isa : {vx::Isa::kScalar, vx::Isa::kAvx2, vx::Isa::kAvx512}) {
        if (vx::KernelTableFor(isa)) supported += std::string(supported.empty() ? "" : " ") + vx::IsaName(isa);
      }
      fmt::print("vxctl {}\nkernels: {} (supported here: {})\n", vx_version(), vx::IsaName(vx::ActiveKernels().isa),
                 supported);
      return 0;
    };
  });
}

void AddGen(CLI::App& app, RunFn* run) {
  struct Args {
    uint32_t dim = 0;
    uint64_t count = 0;
    uint32_t clusters = 0;
    uint64_t seed = 42;
    bool normalize = false;
    std::string out;
    uint64_t queries = 0;
    std::string queries_out;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("gen", "Generate a deterministic clustered synthetic dataset (float32), streamed to disk");
  cmd->add_option("--dim", args->dim, "Dimensions")->required()->check(CLI::Range(1u, vx::kMaxDim));
  cmd->add_option("--count", args->count, "Base vectors")->required()->check(CLI::PositiveNumber);
  cmd->add_option("--clusters", args->clusters, "Mixture components (default: count/1000 clamped to 8..1024)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--normalize", args->normalize, "Scale vectors to unit length");
  cmd->add_option("--out", args->out, "Base output (.fvecs, .fbin or .npy)")->required();
  auto* q = cmd->add_option("--queries", args->queries, "Query vectors to generate")->check(CLI::PositiveNumber);
  cmd->add_option("--queries-out", args->queries_out, "Query output file")->needs(q);
  q->needs(cmd->get_option("--queries-out"));
  cmd->callback([run, args] {
    *run = [args] {
      vx::SynthParams p;
      p.dim = args->dim;
      p.clusters =
          args->clusters ? args->clusters : static_cast<uint32_t>(std::clamp<uint64_t>(args->count / 1000, 8, 1024));
      p.seed = args->seed;
      p.normalize = args->normalize;
      const vx::SyntheticGenerator gen(p);
      vx::Status s =
          WriteSynthetic(gen, vx::SyntheticGenerator::kBaseStream, args->count, args->dim, args->out, "gen base");
      if (!s.ok()) return Fail(s);
      if (args->queries > 0) {
        s = WriteSynthetic(gen, vx::SyntheticGenerator::kQueryStream, args->queries, args->dim, args->queries_out,
                           "gen queries");
        if (!s.ok()) return Fail(s);
      }
      fmt::print(
          "wrote {} x {} to {}{}\n", args->count, args->dim, args->out,
          args->queries ? fmt::format(" and {} queries to {}", args->queries, args->queries_out) : std::string());
      return 0;
    };
  });
}

vx::Result<vx::FloatMatrix> ReadQueries(const std::string& path) {
  VX_ASSIGN_OR_RETURN(vx::FloatMatrix q, vx::ReadAllFloat(path));
  if (q.rows == 0) return vx::Status::InvalidArgument(path + ": holds no vectors; there is nothing to search");
  return q;
}

CLI::Validator QuantSpecArg() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s == "auto") return "";
        auto spec = vx::ParseQuantSpec(s);
        return spec.ok() ? "" : spec.status().message();
      },
      "QUANT");
}

CLI::Validator IdsOutputArg() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        auto f = vx::FormatFromPath(s);
        if (!f.ok()) return f.status().message();
        if (*f != vx::FileFormat::kIvecs && *f != vx::FileFormat::kIbin && *f != vx::FileFormat::kNpy) {
          return s + ": ids go to .ivecs, .ibin or .npy";
        }
        return "";
      },
      "FILE");
}

CLI::Validator ResultsOutputArg() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s == "-" || s.ends_with(".csv") || s.ends_with(".jsonl")) return "";
        auto f = vx::FormatFromPath(s);
        if (!f.ok())
          return s +
                 ": results go to .npy (keys; distances beside it), .csv, .jsonl, - (stdout) or .ivecs/.ibin (keys)";
        if (*f != vx::FileFormat::kIvecs && *f != vx::FileFormat::kIbin && *f != vx::FileFormat::kNpy) {
          return s + ": results go to .npy, .csv, .jsonl, - or .ivecs/.ibin";
        }
        return "";
      },
      "FILE");
}

void AddGt(CLI::App& app, RunFn* run) {
  struct Args {
    std::string base, queries, out, dist_out, metric = "l2";
    uint32_t k = 100;
    int threads = 0;
    uint64_t work_memory_mb = 1024;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("gt", "Exact k nearest neighbours by blocked brute force");
  cmd->add_option("--base", args->base, "Base vectors (streamed; may exceed RAM)")->required();
  cmd->add_option("--queries", args->queries, "Query vectors (held in memory)")->required();
  cmd->add_option("--k", args->k, "Neighbours per query")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--metric", args->metric, "l2 | ip | cosine")
      ->capture_default_str()
      ->check(CLI::IsMember({"l2", "ip", "cosine"}));
  cmd->add_option("--out", args->out, "Neighbour ids (.ivecs, .ibin or .npy)")->required()->check(IdsOutputArg());
  cmd->add_option("--dist-out", args->dist_out, "Also write the distances (.fvecs)");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, vx::kMaxThreads));
  cmd->add_option("--work-memory", args->work_memory_mb, "MB of base vectors held in memory at once")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{16}, uint64_t{1} << 24));
  cmd->callback([run, args] {
    *run = [args] {
      auto queries = ReadQueries(args->queries);
      if (!queries.ok()) return Fail(queries.status());
      auto base = vx::VectorReader::Open(args->base);
      if (!base.ok()) return Fail(base.status());
      // The outputs are opened first, so that an unwritable path fails
      // before the search, not after it.
      auto ids_out = vx::VectorWriter::Create(args->out, vx::DType::kI32, args->k);
      if (!ids_out.ok()) return Fail(ids_out.status());
      std::unique_ptr<vx::VectorWriter> dist_out;
      if (!args->dist_out.empty()) {
        auto w = vx::VectorWriter::Create(args->dist_out, vx::DType::kF32, args->k);
        if (!w.ok()) return Fail(w.status());
        dist_out = std::move(*w);
      }
      vx::ExactSearchParams p;
      p.metric = vx::ParseMetric(args->metric).value();
      p.k = args->k;
      p.threads = args->threads;
      p.memory_bytes = args->work_memory_mb << 20;
      Progress progress("gt", (*base)->info().count, "base vectors");
      p.progress = [&](uint64_t done, uint64_t) { progress.Update(done); };
      auto result = vx::ExactSearch(**base, *queries, p);
      if (!result.ok()) {
        const bool about_a_query = result.status().message().rfind("query ", 0) == 0;
        return Fail(about_a_query ? result.status().WithContext(args->queries) : result.status());
      }
      progress.Finish();
      vx::Status s = (*ids_out)->Append(result->ids.data(), result->num_queries);
      if (s.ok()) s = (*ids_out)->Finish();
      if (s.ok() && dist_out) s = dist_out->Append(result->dists.data(), result->num_queries);
      if (s.ok() && dist_out) s = dist_out->Finish();
      if (!s.ok()) return Fail(s);
      fmt::print("wrote the {} nearest ({}) of {} queries to {}\n", p.k, args->metric, result->num_queries, args->out);
      return 0;
    };
  });
}

void AddRecall(CLI::App& app, RunFn* run) {
  struct Args {
    std::string results, gt;
    uint32_t k = 10;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("recall", "recall@k of result ids against ground truth");
  cmd->add_option("--results", args->results, "Result ids (.ivecs)")->required();
  cmd->add_option("--gt", args->gt, "Ground-truth ids (.ivecs)")->required();
  cmd->add_option("--k", args->k, "k")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([run, args] {
    *run = [args] {
      auto res = vx::ReadAllIds(args->results);
      if (!res.ok()) return Fail(res.status());
      auto gt = vx::ReadAllIds(args->gt);
      if (!gt.ok()) return Fail(gt.status());
      const uint32_t k = args->k;
      if (res->rows == 0)
        return Fail(vx::Status::InvalidArgument(args->results + ": holds no results; nothing to score"));
      if (res->rows != gt->rows) {
        return Fail(vx::Status::InvalidArgument(
            fmt::format("{} has {} rows but {} has {}", args->results, res->rows, args->gt, gt->rows)));
      }
      if (res->dim < k || gt->dim < k) {
        return Fail(vx::Status::InvalidArgument(fmt::format("k = {} but {} has {} ids per row and {} has {}", k,
                                                            args->results, res->dim, args->gt, gt->dim)));
      }
      uint64_t hits = 0;
      for (uint64_t i = 0; i < res->rows; ++i) {
        for (uint32_t a = 0; a < k; ++a) {
          for (uint32_t b = 0; b < k; ++b) {
            if (res->row(i)[a] == gt->row(i)[b]) {
              ++hits;
              break;
            }
          }
        }
      }
      fmt::print("recall@{}: {:.4f} ({} queries)\n", k,
                 static_cast<double>(hits) / (static_cast<double>(res->rows) * k), res->rows);
      return 0;
    };
  });
}

}  // namespace vxctl
