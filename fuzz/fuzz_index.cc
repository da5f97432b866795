// libFuzzer target: everything an open, a search, a prewarm and a verify
// parse from an index directory: the manifest's parameters, the quantizer,
// the keys, HNSW's upper layers and page map, IVF's centroids and directory,
// and every page type (file headers, graph, list and vector pages).
//
// Four small indexes (HNSW and IVF; sq8, pq, rabitq and f16 codes) are built
// in memory at start. Input: a byte choosing the index, a byte choosing one
// of its files (or the manifest's JSON body), then that file's new bytes.
// The harness writes the index with that file replaced and makes the
// replacement pass the integrity checks that would otherwise stop it at
// the door: each page of a paged file gets its right binding and checksum,
// and the manifest records the files' new sizes and checksums (a manifest
// body gets a right header and checksum). So the fuzzer reaches the
// decoders behind the checksums. Any Status is fine; a crash, a hang, a
// leak, undefined behaviour or more than k results is a bug.
//
// VX_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (each file of each index,
// unchanged) to DIR at start.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "io/manifest.h"
#include "io/page.h"
#include "vx/index.h"

namespace {

constexpr uint32_t kDim = 16, kRows = 300;
constexpr char kDir[] = "/idx";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_index: %s\n", what);
    std::abort();
  }
}

struct Seed {
  vx::Manifest manifest;
  std::vector<std::string> names;  // the files, as the manifest lists them
  std::vector<std::string> bytes;
};

std::vector<float> Rows() {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> rows(kRows * kDim);
  for (uint32_t i = 0; i < kRows; ++i) {
    for (uint32_t d = 0; d < kDim; ++d) rows[i * kDim + d] = float(i % 5) * 3 + n(rng);
  }
  return rows;
}

std::string ReadAll(vx::Env* env, const std::string& path) {
  auto f = env->OpenFile(path, vx::OpenOptions{});
  Check(f.ok(), "seed file missing");
  std::string s(*(*f)->Size(), '\0');
  size_t got = 0;
  Check(s.empty() || (*f)->Read(0, s.size(), s.data(), &got).ok(), "seed file unreadable");
  return s;
}

Seed BuildSeed(vx::IndexType type, const char* quant, vx::Metric metric) {
  auto env = vx::NewMemEnv();
  vx::BuildOptions o;
  o.type = type;
  o.quant = quant;
  o.metric = metric;
  o.lists = 4;
  o.threads = 1;
  o.env = env.get();
  const std::vector<float> rows = Rows();
  auto source = vx::VectorSource::FromMemory(rows.data(), kRows, kDim);
  Check(source.ok(), "VectorSource");
  const vx::Status s = vx::BuildIndex(**source, kDir, o);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  Check(s.ok(), "building a seed index");
  Seed seed;
  auto m = vx::ReadManifest(env.get(), kDir);
  Check(m.ok(), "seed manifest");
  seed.manifest = *m;
  for (const vx::ManifestFile& f : m->files) {
    seed.names.push_back(f.name);
    seed.bytes.push_back(ReadAll(env.get(), m->FilePath(kDir, f.name)));
  }
  const std::string manifest = ReadAll(env.get(), std::string(kDir) + "/" + vx::kManifestName);
  seed.names.push_back(vx::kManifestName);
  seed.bytes.push_back(manifest.substr(24));  // the JSON body
  return seed;
}

const std::vector<Seed>& Seeds() {
  static const std::vector<Seed> seeds = {
      BuildSeed(vx::IndexType::kHnsw, "sq8", vx::Metric::kL2),
      BuildSeed(vx::IndexType::kIvf, "pq:4", vx::Metric::kL2),
      BuildSeed(vx::IndexType::kHnsw, "rabitq", vx::Metric::kCosine),
      BuildSeed(vx::IndexType::kIvf, "f16", vx::Metric::kInnerProduct),
  };
  return seeds;
}

void Put(vx::Env* env, const std::string& path, const std::string& bytes) {
  auto f = env->OpenFile(path, vx::OpenOptions{.write = true, .create = true, .truncate = true});
  Check(f.ok() && (bytes.empty() || (*f)->Write(0, bytes.data(), bytes.size()).ok()), "writing a file");
}

// Gives each whole page its file's binding and a right checksum.
void Reseal(std::string& bytes, size_t page_size, uint64_t binding) {
  for (size_t p = 0; p + page_size <= bytes.size(); p += page_size) {
    uint8_t* page = reinterpret_cast<uint8_t*>(bytes.data() + p);
    std::memcpy(page + offsetof(vx::PageHeader, binding), &binding, sizeof binding);
    const uint64_t sum = vx::Checksum(page + sizeof sum, page_size - sizeof sum);  // what SealPage covers
    std::memcpy(page + offsetof(vx::PageHeader, checksum), &sum, sizeof sum);
  }
}

void WriteSeedCorpus(const char* dir) {
  const std::vector<Seed>& seeds = Seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    for (size_t f = 0; f < seeds[i].names.size(); ++f) {
      const std::string path = std::string(dir) + "/seed-" + std::to_string(i) + "-" + seeds[i].names[f];
      FILE* out = std::fopen(path.c_str(), "wb");
      Check(out != nullptr, "cannot write a seed");
      const uint8_t head[2] = {static_cast<uint8_t>(i), static_cast<uint8_t>(f)};
      std::fwrite(head, 1, 2, out);
      std::fwrite(seeds[i].bytes[f].data(), 1, seeds[i].bytes[f].size(), out);
      std::fclose(out);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("VX_FUZZ_WRITE_SEEDS")) WriteSeedCorpus(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Seed& seed = Seeds()[data[0] % Seeds().size()];
  const size_t which = data[1] % seed.names.size();
  const std::string input(reinterpret_cast<const char*>(data + 2), size - 2);
  auto env = vx::NewMemEnv();
  const std::string gen_dir = vx::GenerationDir(kDir, seed.manifest.generation);
  Check(env->CreateDir(kDir).ok() && env->CreateDir(gen_dir).ok(), "CreateDir");
  const bool manifest_body = seed.names[which] == vx::kManifestName;
  vx::Manifest m = seed.manifest;
  m.files.clear();
  for (size_t f = 0; f + 1 < seed.names.size(); ++f) {
    const std::string& name = seed.names[f];
    std::string bytes = f == which ? input : seed.bytes[f];
    if (f == which && (name == "graph" || name == "lists" || name == "vectors")) {
      Reseal(bytes, std::stoul(seed.manifest.params.at("page_size")), seed.manifest.PageBindingOf(name));
    }
    Put(env.get(), gen_dir + "/" + name, bytes);
    auto described = vx::DescribeFile(env.get(), gen_dir, name);
    Check(described.ok(), "DescribeFile");
    m.files.push_back(*described);
  }
  if (manifest_body) {
    Put(env.get(), std::string(kDir) + "/" + vx::kManifestName, vx::ManifestFileBytes(input));
  } else {
    Check(vx::WriteManifest(env.get(), kDir, m).ok(), "WriteManifest");
  }

  vx::IndexOptions io;
  io.env = env.get();
  io.structure_cache_bytes = 64 << 10;
  io.vector_cache_bytes = 64 << 10;
  io.max_searchers = 1;
  auto index = vx::Index::Open(kDir, io);
  if (index.ok()) {
    const std::vector<float> rows = Rows();
    vx::SearchParams p;
    p.ef_search = 16;
    p.probes = 2;
    std::vector<vx::SearchResult> out;
    for (uint32_t q = 0; q < 3; ++q) {
      out.clear();
      if ((*index)->Search(rows.data() + q * 97 * kDim, p, &out, nullptr).ok()) {
        Check(out.size() <= p.k, "more than k results");
      }
    }
    static_cast<void>((*index)->Prewarm());
  }
  static_cast<void>(vx::Index::Verify(kDir, env.get()));
  return 0;
}
