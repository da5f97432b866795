// A C++ program built against an installed vx: the same check as
// consumer.c through vx/index.h.
#include <cstdio>
#include <vector>

#include <vx/index.h>

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: %s DIR\n", argv[0]), 2;
  constexpr uint32_t kRows = 500, kDim = 8;
  std::vector<float> rows(kRows * kDim);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = float((i * 7919) % 1000) / 10.0f + float(i / kDim);
  std::vector<int64_t> keys(kRows);
  for (uint32_t r = 0; r < kRows; ++r) keys[r] = 1000 + r;
  auto source = vx::VectorSource::FromMemory(rows.data(), kRows, kDim);
  if (!source.ok()) return std::fprintf(stderr, "%s\n", source.status().ToString().c_str()), 1;
  vx::BuildOptions o;
  o.type = vx::IndexType::kIvf;
  o.quant = "sq8";
  o.keys = keys;
  if (vx::Status s = vx::BuildIndex(**source, argv[1], o); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  auto index = vx::Index::Open(argv[1], vx::IndexOptions{});
  if (!index.ok()) return std::fprintf(stderr, "%s\n", index.status().ToString().c_str()), 1;
  vx::SearchParams p;
  p.probes = 1000;
  std::vector<vx::SearchResult> out;
  for (uint32_t r = 0; r < kRows; r += 37) {
    if (vx::Status s = (*index)->Search(&rows[r * kDim], p, &out, nullptr); !s.ok())
      return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
    if (out.size() != 10 || out[0].key != 1000 + r || out[0].distance != 0.0f)
      return std::fprintf(stderr, "row %u: nearest %lld\n", r, static_cast<long long>(out[0].key)), 1;
  }
  std::printf("c++ consumer: %s index of %llu rows ok\n", vx::IndexTypeName((*index)->info().type),
              static_cast<unsigned long long>((*index)->info().count));
  return 0;
}
