// "auto" codes: the most accurate codes whose memory, beside the structure
// pages a search walks and the attributes' indexes, fits the memory the
// index will be served with (BuildOptions::serve_memory_bytes), checked on
// a sample of the base.
//
// The ladder, most accurate first: sq8 (a byte a dimension), rabitq:4,
// rabitq:2, rabitq:1 (4, 2 and 1 bits a dimension). RaBitQ, not PQ, below
// sq8: at the same bytes its codes rank neighbours better and need no
// training (docs/BENCHMARKS.md, "auto"). f16 only when sq8 misses the
// target recall on the sample and f16 fits too.
#pragma once

#include <cstdint>
#include <string>

#include "quant/quantizer.h"
#include "vx/index.h"

namespace vx {

inline constexpr double kAutoTargetRecall = 0.95;  // recall@10 on the sample
inline constexpr uint32_t kAutoCheckDepth = 40;    // candidates reranked: the default ef_search

// Bytes a row costs to serve: always in RAM (codes for HNSW; keys), and its
// share of the structure file (HNSW: the packed graph; IVF: list entries).
struct RowFootprint {
  uint64_t resident = 0, structure = 0;
};
RowFootprint FootprintOf(IndexType type, uint32_t m, size_t code_size);

struct CodeChoice {
  QuantSpec spec;
  std::string why;  // empty unless "auto" chose: the budget, what fits, the sample's recall
};

// The codes options.quant names; for "auto", chosen as above from the
// memory budget, a sample of up to 10,000 rows read from the head of
// `source` (rewound after) and 100 held-out queries among them.
Result<CodeChoice> ChooseCodes(VectorSource& source, const BuildOptions& options);

}  // namespace vx
