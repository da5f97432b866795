// vxctl end to end, as a user runs it: exit statuses, messages, outputs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset.h"
#include "test_util.h"

namespace vx {
namespace {

using testing::TempDir;

struct CliRun {
  int status;
  std::string output;  // stdout and stderr together
};

// stderr goes with stdout unless `stdout_only`.
CliRun Vxctl(const std::string& args, bool stdout_only = false) {
  const std::string cmd = std::string(VXCTL_PATH) + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The int64 values of a version-1 .npy file (its header skipped).
std::vector<int64_t> ReadInt64Npy(const std::string& path) {
  const std::string bytes = Slurp(path);
  if (bytes.size() < 10 || bytes.compare(1, 5, "NUMPY") != 0) return {};
  const size_t header = 10 + static_cast<uint8_t>(bytes[8]) + 256 * static_cast<uint8_t>(bytes[9]);
  std::vector<int64_t> v((bytes.size() - header) / 8);
  std::memcpy(v.data(), bytes.data() + header, v.size() * 8);
  return v;
}

// dir/b.fbin and dir/q.fbin from `vxctl gen GEN_ARGS`, and dir/gt.ivecs:
// the queries' exact top 10.
void GenWithGroundTruth(const testing::TempDir& dir, const std::string& gen_args) {
  ASSERT_EQ(Vxctl("gen " + gen_args + " --out " + dir / "b.fbin" + " --queries-out " + dir / "q.fbin").status, 0);
  ASSERT_EQ(Vxctl("gt --base " + dir / "b.fbin" + " --queries " + dir / "q.fbin" + " --k 10 --out " + dir / "gt.ivecs")
                .status,
            0);
}

TEST(Vxctl, VersionNamesTheKernels) {
  CliRun r = Vxctl("version");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("kernels: "), std::string::npos) << r.output;
}

TEST(Vxctl, BadArgumentsExitTwoWithOneLine) {
  for (const char* args :
       {"", "gen --dim 0 --count 5 --out x.fvecs", "gen --count 5 --out x.fvecs",
        "gt --base a --queries b --out c --metric hamming", "nosuchcommand",
        "recall --results a.ivecs --gt b.ivecs --k -1",
        // Each of these once ran to an abort, a wrap-around or exit status 1:
        "build --base b.fbin --out idx --threads 5000", "build --base b.fbin --out idx --quant foo",
        "build --base b.fbin --out idx --build-memory 17592186044416", "query idx --queries q.fbin --out x.txt",
        "gt --base b --queries q --out x.fvecs", "bench idx --queries q --gt g --sweep ef_search=-1",
        "bench idx --queries q --gt g --sweep ef_search=10,4294967306"}) {
    CliRun r = Vxctl(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

// A misspelt command or option is named, with the one meant.
TEST(Vxctl, TyposAreAnsweredWithWhatWasMeant) {
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"biuld --base b", "unknown command 'biuld'; did you mean 'build'?"},
           {"query idx --queries q --ef_search 3", "unknown option --ef_search for query; did you mean --ef-search?"},
           {"build --base b --out o --serve-memroy 5", "did you mean --serve-memory?"},
           {"gt --base b --queries q --out o.ivecs --memory 5",
            "unknown option --memory for gt; did you mean --work-memory?"},
           {"zzzzzz", "unknown command 'zzzzzz' (see --help)"}}) {
    CliRun r = Vxctl(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.output.find(want), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

TEST(Vxctl, DataErrorsExitOneAndNameTheFile) {
  TempDir dir;
  CliRun r =
      Vxctl("gt --base " + dir / "missing.fvecs" + " --queries " + dir / "q.fvecs" + " --out " + dir / "gt.ivecs");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("q.fvecs"), std::string::npos) << r.output;
  EXPECT_FALSE(testing::Exists(dir / "gt.ivecs"));
}

// Inputs that once crashed vxctl or printed -nan: a query file with no rows
// is a data error (exit 1) naming it; so is a zero query under cosine, with
// its file and row; an unwritable --out fails.
TEST(Vxctl, EmptyOrZeroQueriesAreDataErrorsNamingTheFile) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 16 --count 2000 --queries 10"));
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "idx --quant sq8 --metric cosine").status, 0);
  ASSERT_TRUE(WriteMatrix(dir / "empty.fbin", DType::kF32, 16, nullptr, 0).ok());
  const std::string empty = dir / "empty.fbin";
  for (const std::string& args :
       {"query " + dir / "idx" + " --queries " + empty,
        "bench " + dir / "idx" + " --queries " + empty + " --gt " + dir / "gt.ivecs",
        "gt --base " + dir / "b.fbin" + " --queries " + empty + " --out " + dir / "x.ivecs",
        "quant-eval --base " + dir / "b.fbin" + " --queries " + empty + " --gt " + dir / "gt.ivecs" + " --quant sq8"}) {
    CliRun r = Vxctl(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("empty.fbin: holds no vectors"), std::string::npos) << args << "\n" << r.output;
  }
  ASSERT_TRUE(WriteMatrix(dir / "none.ibin", DType::kI32, 10, nullptr, 0).ok());
  CliRun r = Vxctl("recall --results " + dir / "none.ibin" + " --gt " + dir / "gt.ivecs");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("holds no results"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("nan"), std::string::npos) << r.output;

  std::vector<float> q(10 * 16, 0.5f);
  std::fill(q.begin() + 3 * 16, q.begin() + 4 * 16, 0.0f);
  ASSERT_TRUE(WriteMatrix(dir / "zero.fbin", DType::kF32, 16, q.data(), 10).ok());
  r = Vxctl("query " + dir / "idx" + " --queries " + dir / "zero.fbin");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("zero.fbin: query 3: cosine distance of a zero query vector"), std::string::npos) << r.output;
  r = Vxctl("gt --base " + dir / "b.fbin" + " --queries " + dir / "zero.fbin" + " --metric cosine --k 10 --out " +
            dir / "z.ivecs");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("zero.fbin: query 3 is a zero vector"), std::string::npos) << r.output;

  r = Vxctl("gt --base " + dir / "b.fbin" + " --queries " + dir / "q.fbin" + " --k 10 --out " +
            dir / "no/such/dir/gt.ivecs");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no/such/dir"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("wrote"), std::string::npos) << "the search ran before the output failed:\n" << r.output;
}

TEST(Vxctl, GenGtRecallEndToEnd) {
  TempDir dir;
  CliRun gen = Vxctl("gen --dim 24 --count 3000 --queries 40 --seed 9 --out " + dir / "b.fvecs" + " --queries-out " +
                     dir / "q.fvecs");
  ASSERT_EQ(gen.status, 0) << gen.output;
  // Deterministic: the same seed gives the same bytes; another seed does not.
  CliRun again = Vxctl("gen --dim 24 --count 3000 --seed 9 --out " + dir / "b2.fvecs");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(Slurp(dir / "b.fvecs"), Slurp(dir / "b2.fvecs"));
  CliRun other = Vxctl("gen --dim 24 --count 3000 --seed 10 --out " + dir / "b3.fvecs");
  ASSERT_EQ(other.status, 0);
  EXPECT_NE(Slurp(dir / "b.fvecs"), Slurp(dir / "b3.fvecs"));

  CliRun gt = Vxctl("gt --base " + dir / "b.fvecs" + " --queries " + dir / "q.fvecs" + " --k 10 --out " +
                    dir / "gt.ivecs" + " --dist-out " + dir / "gt.fvecs");
  ASSERT_EQ(gt.status, 0) << gt.output;
  auto ids = ReadAllIds(dir / "gt.ivecs");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->rows, 40u);
  EXPECT_EQ(ids->dim, 10u);
  auto dists = ReadAllFloat(dir / "gt.fvecs");
  ASSERT_TRUE(dists.ok());
  for (uint64_t q = 0; q < 40; ++q) {
    EXPECT_TRUE(std::is_sorted(dists->row(q), dists->row(q) + 10));
  }

  CliRun self = Vxctl("recall --results " + dir / "gt.ivecs" + " --gt " + dir / "gt.ivecs" + " --k 10");
  EXPECT_EQ(self.status, 0);
  EXPECT_NE(self.output.find("recall@10: 1.0000 (40 queries)"), std::string::npos) << self.output;

  // Ground truth of another query set scores far below 1 against this one.
  CliRun gen2 = Vxctl("gen --dim 24 --count 40 --seed 1 --out " + dir / "q2.fvecs");
  ASSERT_EQ(gen2.status, 0);
  ASSERT_EQ(
      Vxctl("gt --base " + dir / "b.fvecs" + " --queries " + dir / "q2.fvecs" + " --k 10 --out " + dir / "gt2.ivecs")
          .status,
      0);
  CliRun cross = Vxctl("recall --results " + dir / "gt2.ivecs" + " --gt " + dir / "gt.ivecs" + " --k 10");
  EXPECT_EQ(cross.status, 0);
  EXPECT_EQ(cross.output.find("recall@10: 1.0000"), std::string::npos) << cross.output;
}

TEST(Vxctl, FailedGtLeavesNoOutput) {
  TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 8 --count 100 --queries 5 --out " + dir / "b.fvecs" + " --queries-out " + dir / "q.fvecs")
                .status,
            0);
  // A base with a NaN at record 57: gt must fail naming it and write nothing.
  std::string bytes = Slurp(dir / "b.fvecs");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + 57 * (4 + 8 * 4) + 4 + 3 * 4, &nan, 4);
  std::ofstream(dir / "bad.fvecs", std::ios::binary) << bytes;
  CliRun r =
      Vxctl("gt --base " + dir / "bad.fvecs" + " --queries " + dir / "q.fvecs" + " --k 5 --out " + dir / "gt.ivecs");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("record 57 component 3 is NaN"), std::string::npos) << r.output;
  EXPECT_FALSE(testing::Exists(dir / "gt.ivecs"));
}

}  // namespace
}  // namespace vx

namespace vx {
namespace {

double JsonNumber(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return -1;
  return std::stod(json.substr(at + key.size() + 4));
}

TEST(VxctlIndex, BuildQueryInfoBenchEndToEnd) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 16 --count 3000 --queries 50"));
  CliRun build =
      Vxctl("build --type hnsw --base " + dir / "b.fbin" + " --metric l2 --out " + dir / "idx" + " --quant sq8");
  ASSERT_EQ(build.status, 0) << build.output;
  CliRun q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                   " --ef-search 64 --json --out " + dir / "res.ivecs");
  ASSERT_EQ(q.status, 0) << q.output;
  const size_t at = q.output.find("\"recall@10\": ");
  ASSERT_NE(at, std::string::npos) << q.output;
  EXPECT_GE(std::stod(q.output.substr(at + 13)), 0.9) << q.output;
  // The ids written with --out score the same recall through `vxctl recall`.
  CliRun r = Vxctl("recall --results " + dir / "res.ivecs" + " --gt " + dir / "gt.ivecs" + " --k 10");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("recall@10: "), std::string::npos);
  // --prewarm reads the whole graph (it fits the default pool): the queries read none of it.
  CliRun warm = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --prewarm --json");
  ASSERT_EQ(warm.status, 0) << warm.output;
  EXPECT_NE(warm.output.find("\"prewarm\": \"prewarmed "), std::string::npos) << warm.output;
  EXPECT_EQ(JsonNumber(warm.output, "structure_reads_per_query"), 0.0) << warm.output;
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.output.find("3000 vectors x 16 dims"), std::string::npos) << info.output;
  CliRun bench = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                       " --sweep ef_search=10,80 --prewarm --json " + dir / "b.json" + " --plot " + dir / "b.svg");
  EXPECT_EQ(bench.status, 0) << bench.output;
  EXPECT_NE(bench.output.find("smallest ef_search"), std::string::npos) << bench.output;
  EXPECT_NE(bench.output.find("threads 1: prewarmed "), std::string::npos) << bench.output;
  EXPECT_TRUE(testing::Exists(dir / "b.svg"));
  EXPECT_EQ(
      Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" + " --sweep m=3")
          .status,
      2);
  EXPECT_EQ(Vxctl("query " + dir / "missing" + " --queries " + dir / "q.fbin").status, 1);
}

// A flag of the other index type is refused (exit 2), naming the one to use,
// at build, query and bench.
TEST(VxctlIndex, FlagsOfTheOtherIndexTypeAreRefused) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 8 --count 1000 --queries 5"));
  const std::string base = " --base " + dir / "b.fbin" + " --quant sq8 --out ";
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"build --type ivf --m 8" + base + dir / "x", "--m applies to HNSW indexes, not --type ivf"},
           {"build --type ivf --no-reorder" + base + dir / "x", "--no-reorder applies to HNSW"},
           {"build --lists 4" + base + dir / "x", "--lists applies to IVF indexes, not --type hnsw"}}) {
    CliRun r = Vxctl(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(want), std::string::npos) << r.output;
  }
  EXPECT_FALSE(testing::Exists(dir / "x"));
  ASSERT_EQ(Vxctl("build" + base + dir / "hnsw").status, 0);
  ASSERT_EQ(Vxctl("build --type ivf --lists 4" + base + dir / "ivf").status, 0);
  const std::string q = " --queries " + dir / "q.fbin";
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"query " + dir / "hnsw" + q + " --probes 3",
            "--probes applies to IVF indexes; " + dir / "hnsw" + " is an hnsw index (use --ef-search)"},
           {"query " + dir / "ivf" + q + " --ef-search 80", "--ef-search applies to HNSW indexes"},
           {"query " + dir / "ivf" + q + " --beam 2", "--beam applies to HNSW indexes"},
           {"bench " + dir / "ivf" + q + " --gt " + dir / "gt.ivecs" + " --sweep probes=1,2 --ef-search 9",
            "--ef-search applies to HNSW"}}) {
    CliRun r = Vxctl(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(want), std::string::npos) << r.output;
  }
  EXPECT_EQ(Vxctl("query " + dir / "ivf" + q + " --probes 3 --threads 0").status, 0);
}

// query --out writes the same keys and exact distances in every format:
// an .npy pair, .csv, .jsonl and JSON lines on stdout (the report then on
// stderr); .ivecs keeps the keys.
TEST(VxctlIndex, QueryResultsWithDistancesInEveryFormat) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 8 --count 2000 --queries 7"));
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --quant sq8 --out " + dir / "idx").status, 0);
  const std::string query = "query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --k 5 --out ";
  for (const char* ext : {"r.npy", "r.csv", "r.jsonl", "r.ivecs"}) {
    CliRun r = Vxctl(query + dir / ext);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("results in " + dir / ext), std::string::npos) << r.output;
  }
  auto base = ReadAllFloat(dir / "b.fbin");
  auto queries = ReadAllFloat(dir / "q.fbin");
  auto keys = ReadInt64Npy(dir / "r.npy");
  auto dists = ReadAllFloat(dir / "r.distances.npy");
  auto ivecs = ReadAllIds(dir / "r.ivecs");
  ASSERT_TRUE(base.ok() && queries.ok() && dists.ok() && ivecs.ok());
  ASSERT_EQ(keys.size(), 7u * 5);
  ASSERT_EQ(dists->rows, 7u);
  ASSERT_EQ(dists->dim, 5u);
  std::vector<std::string> csv_lines, jsonl_lines;
  std::istringstream csv(Slurp(dir / "r.csv")), jsonl(Slurp(dir / "r.jsonl"));
  for (std::string line; std::getline(csv, line);) csv_lines.push_back(line);
  for (std::string line; std::getline(jsonl, line);) jsonl_lines.push_back(line);
  ASSERT_EQ(csv_lines.size(), 1 + 7 * 5u);
  EXPECT_EQ(csv_lines[0], "query,rank,key,distance");
  ASSERT_EQ(jsonl_lines.size(), 7u);
  CliRun to_stdout = Vxctl(query + "-", /*stdout_only=*/true);
  ASSERT_EQ(to_stdout.status, 0);
  EXPECT_EQ(to_stdout.output, Slurp(dir / "r.jsonl"));
  for (uint64_t i = 0; i < 7; ++i) {
    const auto line = nlohmann::json::parse(jsonl_lines[i]);
    EXPECT_EQ(line["query"], i);
    for (uint32_t j = 0; j < 5; ++j) {
      const int64_t key = keys[i * 5 + j];
      const float d = dists->row(i)[j];
      float exact = 0;
      for (uint32_t c = 0; c < 8; ++c) {
        const float diff = queries->row(i)[c] - base->row(key)[c];
        exact += diff * diff;
      }
      EXPECT_NEAR(d, exact, 1e-4 * (1 + exact)) << i << " " << j;
      EXPECT_EQ(ivecs->row(i)[j], key);
      EXPECT_EQ(line["keys"][j], key);
      EXPECT_FLOAT_EQ(line["distances"][j].get<float>(), d);
      std::istringstream fields(csv_lines[1 + i * 5 + j]);
      std::string f[4];
      for (auto& x : f) std::getline(fields, x, ',');
      EXPECT_EQ(std::stoull(f[0]), i);
      EXPECT_EQ(std::stoul(f[1]), j);
      EXPECT_EQ(std::stoll(f[2]), key);
      EXPECT_FLOAT_EQ(std::stof(f[3]), d);
    }
  }
}

// --json [FILE] means the same in every command: JSON on stdout, or in FILE
// with the text report on stdout.
TEST(VxctlIndex, JsonToStdoutOrAFileInEveryCommand) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 8 --count 1000 --queries 5"));
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --quant sq8 --out " + dir / "idx").status, 0);
  const std::string q = " --queries " + dir / "q.fbin";
  const std::string gt = " --gt " + dir / "gt.ivecs";
  for (const auto& [cmd, key] : std::vector<std::pair<std::string, std::string>>{
           {"info " + dir / "idx", "resident_bytes"},
           {"verify " + dir / "idx", "pages"},
           {"query " + dir / "idx" + q, "qps"},
           {"quant-eval --base " + dir / "b.fbin" + q + gt + " --quant sq8", "encode_vectors_per_s"},
           {"bench-io " + dir / "idx/gen-1/vectors" + " --qd 1 --seconds 0.1", "runs"},
           {"bench " + dir / "idx" + q + gt + " --sweep ef-search=10,20", "rows"}}) {
    CliRun on_stdout = Vxctl(cmd + " --json", /*stdout_only=*/true);
    ASSERT_EQ(on_stdout.status, 0) << cmd << "\n" << on_stdout.output;
    const auto j = nlohmann::json::parse(on_stdout.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << cmd << "\n" << on_stdout.output;
    EXPECT_TRUE(j.contains(key)) << cmd << "\n" << on_stdout.output;
    CliRun to_file = Vxctl(cmd + " --json " + dir / "out.json");
    ASSERT_EQ(to_file.status, 0) << cmd << "\n" << to_file.output;
    EXPECT_TRUE(nlohmann::json::parse(to_file.output, nullptr, false).is_discarded()) << cmd << ": text expected";
    EXPECT_TRUE(nlohmann::json::parse(Slurp(dir / "out.json")).contains(key)) << cmd;
    std::filesystem::remove(dir / "out.json");
  }
  // --json before the index directory would take it for the file: refused, saying so.
  CliRun before_dir = Vxctl("query --json " + dir / "idx" + q);
  EXPECT_EQ(before_dir.status, 2) << before_dir.output;
  EXPECT_NE(before_dir.output.find("is a directory, not a file"), std::string::npos) << before_dir.output;
}

// plan predicts a build from a calibration build of the base's first rows:
// disk, structure, vectors, resident memory and the build's peak RSS within
// 25% of what the real build then takes, for both types; a --build-memory
// below the plan's least is refused before any work, and at it the build
// runs. (Peak RSS is left out under sanitizers, whose shadow memory it
// counts.)
TEST(VxctlIndex, PlanPredictsTheBuildWithin25Percent) {
  testing::TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 32 --count 30000 --out " + dir / "b.fbin").status, 0);
  ASSERT_EQ(Vxctl("gen --dim 768 --count 20000 --normalize --out " + dir / "u.fbin").status, 0);
  const auto near = [](double predicted, double measured, const std::string& what) {
    EXPECT_NEAR(predicted / measured, 1.0, 0.25) << what << ": predicted " << predicted << ", measured " << measured;
  };
  // 768 dims under cosine: the build once copied every row to train its
  // codes and 65,536 rows to encode them, a third above its own model at
  // the peak.
  for (const auto& [type, base, metric] : std::vector<std::array<std::string, 3>>{
           {"hnsw", "b.fbin", "l2"}, {"ivf", "b.fbin", "l2"}, {"hnsw", "u.fbin", "cosine"}}) {
    SCOPED_TRACE(type + " " + metric);
    const std::string opts = " --type " + type + " --base " + dir / base + " --metric " + metric + " --threads 2";
    CliRun plan = Vxctl("plan" + opts + " --sample 5000 --scratch " + dir.path() + " --json", /*stdout_only=*/true);
    ASSERT_EQ(plan.status, 0) << plan.output;
    const auto p = nlohmann::json::parse(plan.output);
    EXPECT_EQ(p["count"], base == "b.fbin" ? 30000 : 20000);
    EXPECT_EQ(p["sample_rows"], 5000);
    EXPECT_GT(p["build_seconds"].get<double>(), 0);
    // The calibration build left nothing in the scratch directory.
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      EXPECT_EQ(e.path().filename().string().find("vx-plan-"), std::string::npos) << e.path();
    const std::string idx = dir / ("idx_" + type + "_" + metric);
    CliRun build = Vxctl("build" + opts + " --out " + idx);
    ASSERT_EQ(build.status, 0) << build.output;
    const auto info = nlohmann::json::parse(Vxctl("info " + idx + " --json", true).output);
    EXPECT_EQ(p["quant"], info["quant"]);
    uint64_t disk = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(idx)) {
      if (f.is_regular_file()) disk += f.file_size();
    }
    near(p["disk_bytes"], double(disk), "disk");
    near(p["structure_bytes"], info["structure_bytes"], "structure");
    near(p["vector_bytes"], info["vector_bytes"], "vectors");
    near(p["resident_bytes"], info["resident_bytes"], "resident");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    const size_t at = build.output.find("peak RSS ");
    ASSERT_NE(at, std::string::npos) << build.output;
    near(p["build_peak_bytes"], std::stod(build.output.substr(at + 9)) * 1048576, "build peak RSS");
#endif
  }
  // HNSW's least build memory: below it the build is refused, naming the
  // figure; at it the build runs.
  CliRun plan = Vxctl("plan --base " + dir / "b.fbin" + " --sample 5000 --scratch " + dir.path() + " --json", true);
  ASSERT_EQ(plan.status, 0) << plan.output;
  const uint64_t least_mb = (nlohmann::json::parse(plan.output)["least_build_memory_bytes"].get<uint64_t>() >> 20) + 1;
  CliRun below = Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "least" + " --build-memory " +
                       std::to_string(least_mb - 1));
  EXPECT_NE(below.status, 0) << below.output;
  EXPECT_NE(below.output.find("above the build memory budget"), std::string::npos) << below.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "least/MANIFEST"));
  CliRun at = Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "least" + " --build-memory " +
                    std::to_string(least_mb));
  EXPECT_EQ(at.status, 0) << at.output;
}

// bench --plot draws a chart people can read: numbered ticks on both axes,
// the target recall, each point labelled with its ef_search, a title naming
// the index, codes, k and memory, one colour per thread count (five here,
// none repeated), and it renders to PNG (rsvg-convert, librsvg2-bin).
TEST(VxctlIndex, BenchPlotHasAxesLabelsTitleAndRenders) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 8 --count 2000 --queries 20"));
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --quant sq8 --out " + dir / "idx").status, 0);
  CliRun bench =
      Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
            " --sweep ef-search=10,20,40 --threads 1,2,3,4,5 --memory 32 --target-recall 0.9 --plot " + dir / "p.svg");
  ASSERT_EQ(bench.status, 0) << bench.output;
  const std::string svg = Slurp(dir / "p.svg");
  for (const std::string& want :
       {std::string(">0.90<"), std::string(">1.00<"), std::string("target 0.9"), std::string(">recall@10<"),
        std::string("queries per second (log)"), std::string("hnsw 2000 x 8, sq8 codes, k 10, memory 32 MB"),
        std::string(" 5 threads</text>"), std::string("labels: ef_search")}) {
    EXPECT_NE(svg.find(want), std::string::npos) << want;
  }
  // Numbered QPS ticks (1-2-5 steps) and each point's ef_search as a label.
  size_t y_ticks = 0;
  for (size_t at = svg.find("text-anchor='end'>"); at != std::string::npos; at = svg.find("text-anchor='end'>", at + 1))
    ++y_ticks;
  EXPECT_GE(y_ticks, 2u) << svg;
  for (const char* ef : {">10<", ">20<", ">40<"}) {
    size_t n = 0;
    for (size_t at = svg.find(ef); at != std::string::npos; at = svg.find(ef, at + 1)) ++n;
    EXPECT_EQ(n, 5u) << ef;  // one label per thread count
  }
  std::set<std::string> colours;
  for (size_t at = svg.find("fill='hsl("); at != std::string::npos; at = svg.find("fill='hsl(", at + 1))
    colours.insert(svg.substr(at, svg.find(')', at) - at));
  EXPECT_EQ(colours.size(), 5u);
  ASSERT_EQ(std::system(("rsvg-convert " + dir / "p.svg" + " -o " + dir / "p.png").c_str()), 0)
      << "rsvg-convert (apt-get install librsvg2-bin) could not render the plot";
  const std::string png = Slurp(dir / "p.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // Width and height from the IHDR chunk: the SVG's 760 x 500.
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint8_t(png[at + 3]);
  };
  EXPECT_EQ(be32(16), 760u);
  EXPECT_EQ(be32(20), 500u);
}

// snapshot and restore from the command line: the restored index answers
// as the original; a damaged archive is a data error (exit 1) naming the
// offset, and the index restored before stays.
TEST(VxctlIndex, SnapshotAndRestoreEndToEnd) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 8 --count 2000 --queries 7"));
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --quant sq8 --out " + dir / "idx").status, 0);
  CliRun snap = Vxctl("snapshot " + dir / "idx" + " " + dir / "s.vxs");
  ASSERT_EQ(snap.status, 0) << snap.output;
  EXPECT_NE(snap.output.find("generation 1"), std::string::npos) << snap.output;
  CliRun restore = Vxctl("restore " + dir / "s.vxs" + " " + dir / "copy" + " --json");
  ASSERT_EQ(restore.status, 0) << restore.output;
  const std::string query = " --queries " + dir / "q.fbin" + " --out ";
  ASSERT_EQ(Vxctl("query " + dir / "idx" + query + dir / "a.csv").status, 0);
  ASSERT_EQ(Vxctl("query " + dir / "copy" + query + dir / "b.csv").status, 0);
  EXPECT_EQ(Slurp(dir / "a.csv"), Slurp(dir / "b.csv"));
  std::string bytes = Slurp(dir / "s.vxs");
  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(dir / "bad.vxs", std::ios::binary) << bytes;
  CliRun bad = Vxctl("restore " + dir / "bad.vxs" + " " + dir / "copy");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("fails its checksum at offset"), std::string::npos) << bad.output;
  ASSERT_EQ(Vxctl("query " + dir / "copy" + query + dir / "c.csv").status, 0);
  EXPECT_EQ(Slurp(dir / "a.csv"), Slurp(dir / "c.csv"));
  EXPECT_EQ(Vxctl("snapshot " + dir / "idx" + " " + dir / "t.vxs --level 0").status, 2);
}

// build --quant auto (the default) prints what it chose and why, and info
// repeats it: sq8 with room to spare, the smallest codes, and what serving
// needs, under --serve-memory 1; a bad budget exits 2.
TEST(VxctlIndex, AutoCodesFollowTheServingBudgetAndSayWhy) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 16 --count 40000 --queries 10"));
  CliRun roomy = Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "roomy" + " --threads 1");
  ASSERT_EQ(roomy.status, 0) << roomy.output;
  EXPECT_NE(roomy.output.find("codes auto: sq8 ("), std::string::npos) << roomy.output;
  EXPECT_NE(roomy.output.find("recall@10 at ef_search 40 on a sample of 10000 rows"), std::string::npos)
      << roomy.output;
  CliRun tight = Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "tight" + " --threads 1 --serve-memory 1");
  ASSERT_EQ(tight.status, 0) << tight.output;
  EXPECT_NE(tight.output.find("codes auto: rabitq (the smallest codes; they do not fit the 1 MB serving budget"),
            std::string::npos)
      << tight.output;
  CliRun info = Vxctl("info " + dir / "tight");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.output.find("codes rabitq in RAM"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("codes chosen by auto: rabitq"), std::string::npos) << info.output;
  EXPECT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "x" + " --serve-memory 0").status, 2);
}

// build --ids: searches return the keys (query --out .npy writes them as
// int64); info names the generation and its segments; a repeated key is a
// data error naming the rows.
TEST(VxctlIndex, BuildWithKeysQueryReturnsThem) {
  testing::TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 16 --count 2000 --queries 20 --out " + dir / "b.fbin" + " --queries-out " + dir / "q.fbin")
                .status,
            0);
  std::vector<int64_t> keys(2000);
  for (int64_t i = 0; i < 2000; ++i) keys[i] = 10'000'000'000 + 11 * i;
  ASSERT_TRUE(WriteMatrix(dir / "keys.npy", DType::kI64, 1, keys.data(), keys.size()).ok());
  CliRun build =
      Vxctl("build --base " + dir / "b.fbin" + " --ids " + dir / "keys.npy" + " --out " + dir / "idx" + " --quant sq8");
  ASSERT_EQ(build.status, 0) << build.output;
  CliRun q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --out " + dir / "res.npy");
  ASSERT_EQ(q.status, 0) << q.output;
  auto reader = VectorReader::Open(dir / "res.npy");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->info().dtype, DType::kI64);
  std::vector<int64_t> got(20 * 10);
  ASSERT_EQ(*(*reader)->Read(20, got.data()), 20u);
  for (int64_t k : got) EXPECT_TRUE(k >= keys[0] && (k - keys[0]) % 11 == 0 && (k - keys[0]) / 11 < 2000) << k;
  // Keys past int32 cannot go to .ivecs.
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --out " + dir / "res.ivecs");
  EXPECT_EQ(q.status, 1);
  EXPECT_NE(q.output.find("does not fit this int32 format; write .npy"), std::string::npos) << q.output;
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.output.find("generation 1"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("segments: none"), std::string::npos) << info.output;
  // Eight threads over a 1 MB pool all finish; the largest --memory is cut
  // to the index and neither aborts nor takes the memory.
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --threads 8 --memory 1");
  EXPECT_EQ(q.status, 0) << q.output;
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --memory 1073741824 --json");
  EXPECT_EQ(q.status, 0) << q.output;
  EXPECT_LT(JsonNumber(q.output, "peak_rss_mb"), 512) << q.output;
  keys[1500] = keys[7];
  ASSERT_TRUE(WriteMatrix(dir / "dup.npy", DType::kI64, 1, keys.data(), keys.size()).ok());
  build = Vxctl("build --base " + dir / "b.fbin" + " --ids " + dir / "dup.npy" + " --out " + dir / "idx2");
  EXPECT_EQ(build.status, 1);
  EXPECT_NE(build.output.find("row 1500 repeats key"), std::string::npos) << build.output;
}

// vxctl build --attrs and query --filter / --filters: every result
// matches its query's filter, --json says which plan ran, info lists the
// columns, and bad attributes or filters exit 1 naming the line, column
// or character.
TEST(VxctlIndex, BuildWithAttributesAndFilteredQueries) {
  testing::TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 16 --count 2000 --queries 20 --out " + dir / "b.fbin" + " --queries-out " + dir / "q.fbin")
                .status,
            0);
  {
    std::ofstream a(dir / "a.jsonl");
    for (int r = 0; r < 2000; ++r)
      a << "{\"tenant\": " << r % 40 << ", \"price\": " << r * 0.5 << ", \"tags\": [" << r % 3 << "]}\n";
  }
  CliRun build = Vxctl("build --base " + dir / "b.fbin" + " --attrs " + dir / "a.jsonl" + " --out " + dir / "idx" +
                       " --quant sq8");
  ASSERT_EQ(build.status, 0) << build.output;
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_NE(info.output.find("attributes: tenant int, price float, tags labels"), std::string::npos) << info.output;
  // One filter for every query: the rows of tenant 7 (50, scanned).
  CliRun q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filter 'tenant = 7' --out " +
                       dir / "r.npy" + " --json",
                   true);
  ASSERT_EQ(q.status, 0) << q.output;
  const auto j = nlohmann::json::parse(q.output);
  EXPECT_EQ(j["filter"]["matching_rows_per_query"], 50);
  EXPECT_EQ(j["filter"]["scans"], 20);
  EXPECT_EQ(j["filter"]["walks"], 0);
  std::vector<int64_t> got = ReadInt64Npy(dir / "r.npy");
  ASSERT_EQ(got.size(), 200u);
  for (int64_t row : got) EXPECT_EQ(row % 40, 7) << row;
  // A filter per query: query i wants tags HAS (i % 3) and a price below 500
  // (rows < 1000), a broad filter, walked.
  {
    std::ofstream f(dir / "filters.txt");
    for (int i = 0; i < 20; ++i) f << "tags HAS " << i % 3 << " AND price < 500\n";
  }
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filters " + dir / "filters.txt" + " --out " +
                dir / "r2.npy" + " --json",
            true);
  ASSERT_EQ(q.status, 0) << q.output;
  const auto j2 = nlohmann::json::parse(q.output);
  EXPECT_EQ(j2["filter"]["scans"].get<int>() + j2["filter"]["walks"].get<int>(), 20);
  got = ReadInt64Npy(dir / "r2.npy");
  ASSERT_EQ(got.size(), 200u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i] % 3, int64_t(i / 10) % 3) << "query " << i / 10 << " row " << got[i];
    EXPECT_LT(got[i], 1000) << "query " << i / 10;
  }
  // The same columns as a directory of .npy files (tenant only).
  std::filesystem::create_directory(dir / "cols");
  std::vector<int64_t> tenants(2000);
  for (int r = 0; r < 2000; ++r) tenants[r] = r % 40;
  ASSERT_TRUE(WriteMatrix(dir / "cols/tenant.npy", DType::kI64, 1, tenants.data(), tenants.size()).ok());
  build = Vxctl("build --base " + dir / "b.fbin" + " --attrs " + dir / "cols" + " --out " + dir / "idx_npy" +
                " --quant sq8");
  ASSERT_EQ(build.status, 0) << build.output;
  q = Vxctl("query " + dir / "idx_npy" + " --queries " + dir / "q.fbin" + " --filter 'tenant = 9' --out " +
            dir / "r3.npy");
  ASSERT_EQ(q.status, 0) << q.output;
  got = ReadInt64Npy(dir / "r3.npy");
  ASSERT_EQ(got.size(), 200u);
  for (int64_t row : got) EXPECT_EQ(row % 40, 9) << row;
  // Errors: a parse error points at the character; an unknown column names
  // it; a filters file of the wrong length; a bad attributes line.
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filter 'tenant = = 7'");
  EXPECT_EQ(q.status, 1);
  EXPECT_NE(q.output.find("at character 10"), std::string::npos) << q.output;
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filter 'colour = 7'");
  EXPECT_EQ(q.status, 1);
  EXPECT_NE(q.output.find("column 'colour'"), std::string::npos) << q.output;
  {
    std::ofstream f(dir / "short.txt");
    f << "tenant = 1\n";
    f << "tenant = 2\n";
  }
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filters " + dir / "short.txt");
  EXPECT_EQ(q.status, 1);
  EXPECT_NE(q.output.find("2 filters for 20 queries"), std::string::npos) << q.output;
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filter 'tenant = 1' --filters " +
            dir / "short.txt");
  EXPECT_EQ(q.status, 2) << q.output;
  {
    std::ofstream a(dir / "bad.jsonl");
    a << "{\"tenant\": 1, \"price\": 0.5}\n{\"tenant\": \"x\", \"price\": 0.5}\n";
  }
  build = Vxctl("build --base " + dir / "b.fbin" + " --attrs " + dir / "bad.jsonl" + " --out " + dir / "idx2");
  EXPECT_EQ(build.status, 1);
  EXPECT_NE(build.output.find("line 2, column 'tenant'"), std::string::npos) << build.output;
  // Inserted rows take their attributes from --attrs (price given as
  // integers: widened to the float column): the queries themselves, as
  // rows 2000..2019 of a new tenant, each its own query's nearest.
  {
    std::ofstream a(dir / "ins.jsonl");
    for (int r = 0; r < 20; ++r) a << "{\"tags\": [9], \"tenant\": 41, \"price\": " << r << "}\n";
  }
  CliRun ins = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin");
  EXPECT_EQ(ins.status, 1);
  EXPECT_NE(ins.output.find("tenant:int,price:float,tags:labels"), std::string::npos) << ins.output;
  ins = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin" + " --attrs " + dir / "short.txt");
  EXPECT_EQ(ins.status, 1) << ins.output;
  EXPECT_NE(ins.output.find("short.txt"), std::string::npos) << ins.output;
  ins =
      Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin" + " --attrs " + dir / "ins.jsonl" + " --batch 7");
  ASSERT_EQ(ins.status, 0) << ins.output;
  q = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --filter 'tenant = 41 AND price < 15' --out " +
            dir / "r4.npy");
  ASSERT_EQ(q.status, 0) << q.output;
  got = ReadInt64Npy(dir / "r4.npy");
  ASSERT_EQ(got.size(), 200u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] >= 2000 && got[i] < 2015) << got[i];
  for (int i = 0; i < 15; ++i) EXPECT_EQ(got[i * 10], 2000 + i) << "query " << i;
}

// vxctl delete and checkpoint: the deleted keys leave every query's
// results, info counts them, a bad key file deletes nothing and names the
// key, and a checkpoint folds the WAL into a tombstones segment.
TEST(VxctlIndex, DeleteCheckpointAndInfo) {
  testing::TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 16 --count 2000 --queries 20 --out " + dir / "b.fbin" + " --queries-out " + dir / "q.fbin")
                .status,
            0);
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "idx" + " --quant sq8").status, 0);
  const std::string query = "query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --out " + dir / "res.npy";
  ASSERT_EQ(Vxctl(query).status, 0);
  // Delete every key the queries returned.
  std::vector<int64_t> hit = ReadInt64Npy(dir / "res.npy");
  std::sort(hit.begin(), hit.end());
  hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
  ASSERT_GT(hit.size(), 20u);
  ASSERT_TRUE(WriteMatrix(dir / "del.npy", DType::kI64, 1, hit.data(), hit.size()).ok());
  std::vector<int64_t> bad = {hit[0] == 0 ? 1 : 0, 5000};  // one live key, one that does not exist
  ASSERT_TRUE(WriteMatrix(dir / "bad.npy", DType::kI64, 1, bad.data(), bad.size()).ok());
  CliRun del = Vxctl("delete " + dir / "idx" + " --ids " + dir / "bad.npy");
  EXPECT_EQ(del.status, 1);
  EXPECT_NE(del.output.find("key 5000 (row 1) does not exist"), std::string::npos) << del.output;
  del = Vxctl("delete " + dir / "idx" + " --ids " + dir / "del.npy" + " --batch 7 --threads 3 --json", true);
  ASSERT_EQ(del.status, 0) << del.output;
  EXPECT_EQ(JsonNumber(del.output, "deleted"), double(hit.size())) << del.output;
  EXPECT_EQ(JsonNumber(del.output, "live"), double(2000 - hit.size())) << del.output;
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_NE(info.output.find("rows: " + std::to_string(2000 - hit.size()) + " live (2000 built, 0 inserted, " +
                             std::to_string(hit.size()) + " deleted)"),
            std::string::npos)
      << info.output;
  EXPECT_EQ(Vxctl("delete " + dir / "idx" + " --ids " + dir / "bad.npy").status, 1) << "nothing of it applied";
  ASSERT_EQ(Vxctl(query).status, 0);
  for (int64_t key : ReadInt64Npy(dir / "res.npy"))
    EXPECT_FALSE(std::binary_search(hit.begin(), hit.end(), key)) << "deleted key " << key << " returned";
  EXPECT_EQ(ReadInt64Npy(dir / "res.npy").size(), 200u);
  CliRun cp = Vxctl("checkpoint " + dir / "idx" + " --json", true);
  ASSERT_EQ(cp.status, 0) << cp.output;
  EXPECT_GT(JsonNumber(cp.output, "wal_bytes_folded"), double(hit.size() * 4)) << cp.output;
  info = Vxctl("info " + dir / "idx");
  EXPECT_NE(info.output.find("segment 1: tombstones"), std::string::npos) << info.output;
  EXPECT_EQ(Vxctl("verify " + dir / "idx").status, 0);
  ASSERT_EQ(Vxctl(query).status, 0);
  for (int64_t key : ReadInt64Npy(dir / "res.npy"))
    EXPECT_FALSE(std::binary_search(hit.begin(), hit.end(), key)) << "deleted key " << key << " returned";
}

// Insert and upsert from files: the queries inserted as rows come back as
// their own nearest neighbours; a key that exists, a file of the wrong
// dimension or with a NaN is refused before anything is written; the rows
// survive a checkpoint, `verify` and a `reindex` that folds them in.
TEST(VxctlIndex, InsertUpsertCheckpointAndQuery) {
  testing::TempDir dir;
  ASSERT_EQ(Vxctl("gen --dim 16 --count 2000 --queries 20 --out " + dir / "b.fbin" + " --queries-out " + dir / "q.fbin")
                .status,
            0);
  ASSERT_EQ(Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "idx" + " --quant sq8").status, 0);
  CliRun ins = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin" + " --batch 3 --threads 2 --json", true);
  ASSERT_EQ(ins.status, 0) << ins.output;
  EXPECT_EQ(JsonNumber(ins.output, "inserted"), 20) << ins.output;
  EXPECT_EQ(JsonNumber(ins.output, "live"), 2020) << ins.output;
  const std::string query = "query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --k 1 --out " + dir / "res.npy";
  ASSERT_EQ(Vxctl(query).status, 0);
  std::vector<int64_t> top = ReadInt64Npy(dir / "res.npy");
  ASSERT_EQ(top.size(), 20u);
  for (int64_t q = 0; q < 20; ++q) EXPECT_EQ(top[q], 2000 + q) << "query " << q;  // default keys: the next rows

  std::vector<int64_t> keys(20);
  std::iota(keys.begin(), keys.end(), 2000);
  ASSERT_TRUE(WriteMatrix(dir / "same.npy", DType::kI64, 1, keys.data(), keys.size()).ok());
  CliRun again = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin" + " --ids " + dir / "same.npy");
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("key 2000 (row 0) exists"), std::string::npos) << again.output;
  std::iota(keys.begin(), keys.end(), 1990);  // ten built keys, ten inserted
  ASSERT_TRUE(WriteMatrix(dir / "keys.npy", DType::kI64, 1, keys.data(), keys.size()).ok());
  CliRun up = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "q.fbin" + " --ids " + dir / "keys.npy" +
                        " --upsert --checkpoint --json",
                    true);
  ASSERT_EQ(up.status, 0) << up.output;
  EXPECT_EQ(JsonNumber(up.output, "inserted"), 40) << up.output;
  EXPECT_EQ(JsonNumber(up.output, "deleted"), 20) << up.output;
  EXPECT_EQ(JsonNumber(up.output, "live"), 2020) << up.output;
  ASSERT_EQ(Vxctl(query).status, 0);
  top = ReadInt64Npy(dir / "res.npy");
  for (int64_t q = 0; q < 20; ++q) EXPECT_EQ(top[q], 1990 + q) << "query " << q << ": the upserted row";

  std::vector<float> wrong(10 * 8, 0.5f);
  ASSERT_TRUE(WriteMatrix(dir / "d8.fbin", DType::kF32, 8, wrong.data(), 10).ok());
  CliRun dim = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "d8.fbin");
  EXPECT_EQ(dim.status, 1);
  EXPECT_NE(dim.output.find("vectors of 8 dims; the index in"), std::string::npos) << dim.output;
  std::vector<float> nan(3 * 16, 0.5f);
  nan[16 + 4] = std::nanf("");
  ASSERT_TRUE(WriteMatrix(dir / "nan.fbin", DType::kF32, 16, nan.data(), 3).ok());
  CliRun bad = Vxctl("insert " + dir / "idx" + " --vectors " + dir / "nan.fbin");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("nan.fbin: record 1 component 4 is NaN"), std::string::npos) << bad.output;
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_NE(info.output.find("rows: 2020 live (2000 built, 40 inserted, 20 deleted)"), std::string::npos)
      << info.output;
  EXPECT_NE(info.output.find(": rows ("), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("writes in RAM: "), std::string::npos) << info.output;
  EXPECT_EQ(Vxctl("verify " + dir / "idx").status, 0);

  // reindex folds the inserted rows in and reclaims the deleted ones.
  CliRun re = Vxctl("reindex " + dir / "idx" + " --json", true);
  ASSERT_EQ(re.status, 0) << re.output;
  EXPECT_EQ(JsonNumber(re.output, "live"), 2020) << re.output;
  EXPECT_EQ(JsonNumber(re.output, "inserted"), 0) << re.output;
  EXPECT_EQ(JsonNumber(re.output, "rows_reclaimed"), 20) << re.output;
  info = Vxctl("info " + dir / "idx");
  EXPECT_NE(info.output.find("rows: 2020 live (2020 built, 0 inserted, 0 deleted)"), std::string::npos) << info.output;
  ASSERT_EQ(Vxctl(query).status, 0);
  top = ReadInt64Npy(dir / "res.npy");
  for (int64_t q = 0; q < 20; ++q) EXPECT_EQ(top[q], 1990 + q) << "query " << q << " after reindex";
  EXPECT_EQ(Vxctl("verify " + dir / "idx").status, 0);
}

}  // namespace
}  // namespace vx

namespace vx {
namespace {

// Larger than RAM, for real: an index more than 4x the memory cap (page
// cache included, via ../shared/tools/memcap) is queried under that cap and
// must give exactly the recall it gives without one.
TEST(VxctlIndex, QueryUnderAMemoryCapFourTimesSmallerThanTheIndex) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer builds need far more memory than the cap";
#endif
  const std::string memcap = std::string(VX_SHARED_DATA_DIR) + "/../tools/memcap";
  if (!testing::Exists(memcap)) GTEST_SKIP() << memcap << " not present";
  if (::geteuid() != 0) GTEST_SKIP() << "memcap needs root";
  if (std::system((memcap + " 64 true >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "no cgroup memory controller here (memcap 64 true failed)";
  }
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 128 --count 150000 --queries 200 --seed 5"));
  CliRun build = Vxctl("build --base " + dir / "b.fbin" + " --out " + dir / "idx" + " --quant rabitq");
  ASSERT_EQ(build.status, 0) << build.output;
  const uint64_t index_bytes =
      std::filesystem::file_size(dir / "idx/gen-1/graph") + std::filesystem::file_size(dir / "idx/gen-1/vectors");
  const uint64_t cap_mb = index_bytes / 4 / (1 << 20);
  ASSERT_GE(index_bytes, 4 * (cap_mb << 20));
  const std::string query = std::string(VXCTL_PATH) + " query " + dir / "idx" + " --queries " + dir / "q.fbin" +
                            " --gt " + dir / "gt.ivecs" + " --ef-search 160 --memory 4 --json";
  CliRun free_run = Vxctl("query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                          " --ef-search 160 --memory 4 --json");
  ASSERT_EQ(free_run.status, 0) << free_run.output;
  const double recall = JsonNumber(free_run.output, "recall@10");
  EXPECT_GE(recall, 0.9);

  FILE* p = ::popen((memcap + " " + std::to_string(cap_mb) + " " + query + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "under a " << cap_mb << " MiB cap:\n" << out;
  EXPECT_EQ(JsonNumber(out, "recall@10"), recall) << out;
  EXPECT_NE(out.find("memcap: cap " + std::to_string(cap_mb) + " MiB"), std::string::npos) << out;
  EXPECT_GT(JsonNumber(out, "ssd_reads_per_query"), 1.0) << "the index was not read from the SSD";
}

}  // namespace
}  // namespace vx

namespace vx {
namespace {

TEST(VxctlIndex, IvfBuildQueryInfoBenchEndToEnd) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 16 --count 3000 --queries 50"));
  CliRun build = Vxctl("build --type ivf --base " + dir / "b.fbin" + " --out " + dir / "idx" +
                       " --quant sq8 --lists 12 --replicas 1");
  ASSERT_EQ(build.status, 0) << build.output;
  const std::string query =
      "query " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" + " --json";
  CliRun one = Vxctl(query + " --probes 1");
  CliRun all = Vxctl(query + " --probes 12 --rerank 3000");
  ASSERT_EQ(one.status, 0) << one.output;
  ASSERT_EQ(all.status, 0) << all.output;
  EXPECT_EQ(JsonNumber(all.output, "recall@10"), 1.0) << all.output;
  EXPECT_LT(JsonNumber(one.output, "recall@10"), 1.0) << "one probe of 12 lists should miss some neighbours";
  EXPECT_EQ(JsonNumber(one.output, "probes"), 1.0);
  EXPECT_GT(JsonNumber(all.output, "codes_scored_per_query"), 3000.0) << "replicas are scored too";
  CliRun info = Vxctl("info " + dir / "idx");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.output.find("ivf index, 3000 vectors x 16 dims"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("lists 12  replicas 1"), std::string::npos) << info.output;
  CliRun bench = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                       " --sweep probes=1,4,12 --target-recall 0.9 --json " + dir / "b.json");
  EXPECT_EQ(bench.status, 0) << bench.output;
  EXPECT_NE(bench.output.find("smallest probes with recall@10 >= 0.9"), std::string::npos) << bench.output;
  std::ifstream f(dir / "b.json");
  const std::string json((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(json.find("\"probes\": 12"), std::string::npos) << json;
  // Warming the pool with other queries; of another dimension, refused.
  CliRun warm = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                      " --sweep probes=4 --warmup --warmup-queries " + dir / "b.fbin");
  EXPECT_EQ(warm.status, 0) << warm.output;
  ASSERT_EQ(Vxctl("gen --dim 8 --count 10 --out " + dir / "w8.fbin").status, 0);
  CliRun warm8 = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                       " --sweep probes=4 --warmup --warmup-queries " + dir / "w8.fbin");
  EXPECT_EQ(warm8.status, 1);
  EXPECT_NE(warm8.output.find("warm-up queries and queries differ in dimension"), std::string::npos) << warm8.output;
  // ef_search is an HNSW knob: sweeping it over an IVF index is refused.
  CliRun wrong = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                       " --sweep ef_search=10");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.output.find("sweep probes"), std::string::npos) << wrong.output;
}

// A warm-up with the measured queries runs at the largest swept ef_search and
// reranks as deep as it does, so a pool that holds the index serves every
// row without a read (an in-memory run measures memory, not the SSD).
TEST(VxctlIndex, WarmupWithTheMeasuredQueriesLeavesNothingToRead) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenWithGroundTruth(dir, "--dim 128 --count 3000 --queries 50"));
  ASSERT_EQ(Vxctl("build --type hnsw --base " + dir / "b.fbin" + " --out " + dir / "idx").status, 0);
  CliRun bench = Vxctl("bench " + dir / "idx" + " --queries " + dir / "q.fbin" + " --gt " + dir / "gt.ivecs" +
                       " --sweep ef_search=10,80 --threads 1 --memory 64 --warmup --json " + dir / "b.json");
  ASSERT_EQ(bench.status, 0) << bench.output;
  std::ifstream f(dir / "b.json");
  const std::string json((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  int rows = 0;
  for (size_t at = json.find("\"reads_per_query\": "); at != std::string::npos;
       at = json.find("\"reads_per_query\": ", at + 1)) {
    EXPECT_EQ(std::stod(json.substr(at + 19)), 0.0) << json;
    ++rows;
  }
  EXPECT_EQ(rows, 2) << json;
}

}  // namespace
}  // namespace vx
