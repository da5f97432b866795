// vxctl subcommands. Each Add* registers one subcommand on the app and sets
// `*run` to the function that runs it once arguments are parsed. A run
// returns the process exit status: 0 success, 1 an I/O or data error (printed
// as one clear message), 2 bad arguments.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <functional>

#include <string>
#include "vx/index.h"

#include "core/synth.h"
#include "vx/status.h"

#include <nlohmann/json.hpp>

#include "core/dataset.h"

namespace vxctl {

// The ef_search sweep behind `vxctl bench` and `vxctl demo`: prints the
// tuning table and appends one JSON row per (threads, ef_search).
struct SweepOptions {
  std::string dir;
  std::string knob;  // the swept parameter: "ef_search" (HNSW) or "probes" (IVF)
  std::vector<uint32_t> values;
  std::vector<int> threads;  // 0: all cores
  uint64_t memory_mb = 64;
  double target = 0.95;
  vx::SearchParams params;                          // everything else
  bool warmup = false;                              // one untimed pass (at the largest value) before each thread count
  const vx::FloatMatrix* warmup_queries = nullptr;  // that pass's queries (nullptr: the measured ones)
  bool prewarm = false;                             // Index::Prewarm before each thread count (before the warm-up pass)
  std::string queries_source, warmup_source;        // the query files, for messages
  std::FILE* table = stdout;                        // where the table goes
};
vx::Status Sweep(const SweepOptions& options, const vx::FloatMatrix& queries, const vx::IdMatrix& gt,
                 nlohmann::json* rows);

// Prints "vxctl: <status>" to stderr and returns exit status 1.
int Fail(const vx::Status& s);
// Prints "vxctl: <message> (see --help)" to stderr and returns exit status 2:
// arguments that parse but do not fit together or the index.
int Usage(const std::string& message);

// --json [FILE], the same in every command: JSON to FILE, or to stdout when
// FILE is omitted or "-".
struct JsonOut {
  CLI::Option* option = nullptr;
  std::string path;
  bool wanted() const { return option->count() > 0; }
  bool to_stdout() const { return wanted() && (path.empty() || path == "-"); }
  vx::Status Write(const nlohmann::json& j) const;
};
void AddJsonOption(CLI::App* cmd, JsonOut* out);

// The name in `names` nearest to `typo` (edit distance at most 2, "_" read
// as "-"), or "" when none is near.
std::string Suggest(const std::string& typo, const std::vector<std::string>& names);
// The vectors of a query file, all in RAM; InvalidArgument when it holds
// none (there would be nothing to search or score).
vx::Result<vx::FloatMatrix> ReadQueries(const std::string& path);
// Argument checks (a failure is exit status 2): a quantizer spec or "auto";
// an output path whose extension names a format that holds int32 or int64
// ids (.ivecs, .ibin, .npy).
// A path for query results: keys and distances (.npy pair, .csv, .jsonl, or
// "-": JSON lines on stdout) or keys only (.ivecs, .ibin).
CLI::Validator QuantSpecArg();
CLI::Validator IdsOutputArg();
CLI::Validator ResultsOutputArg();
// Writes vectors [0, count) of one generator stream to `path` (float32),
// generated in parallel, with a progress bar labelled `label`.
vx::Status WriteSynthetic(const vx::SyntheticGenerator& gen, uint64_t stream, uint64_t count, uint32_t dim,
                          const std::string& path, const char* label);

// The q-quantile (0..1) of v, reordered in place; 0 when empty.
double Quantile(std::vector<float>& v, double q);

using RunFn = std::function<int()>;

void AddVersion(CLI::App& app, RunFn* run);
void AddGen(CLI::App& app, RunFn* run);
void AddGt(CLI::App& app, RunFn* run);
void AddRecall(CLI::App& app, RunFn* run);
void AddDemo(CLI::App& app, RunFn* run);
void AddBenchIo(CLI::App& app, RunFn* run);
void AddQuantEval(CLI::App& app, RunFn* run);
void AddBuild(CLI::App& app, RunFn* run);
void AddPlan(CLI::App& app, RunFn* run);
void AddQuery(CLI::App& app, RunFn* run);
void AddInfo(CLI::App& app, RunFn* run);
void AddVerify(CLI::App& app, RunFn* run);
void AddDelete(CLI::App& app, RunFn* run);
void AddInsert(CLI::App& app, RunFn* run);
void AddCheckpoint(CLI::App& app, RunFn* run);
// vxctl reindex (vacuum false) and vxctl vacuum.
void AddRebuild(CLI::App& app, RunFn* run, bool vacuum);
void AddBench(CLI::App& app, RunFn* run);
void AddSnapshot(CLI::App& app, RunFn* run);
void AddRestore(CLI::App& app, RunFn* run);

}  // namespace vxctl
