// What every index build does the same way, before and after its own work:
// check the source and keys, choose and create the quantizer, lay out the
// vectors file, lock the directory for a new generation, normalise rows
// under cosine, and record the shared parameters at the commit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/progress.h"
#include "index/params.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/vector_file.h"
#include "quant/quantizer.h"
#include "vx/index.h"

namespace vx {

class IndexBase;

struct BuildSetup {
  Env* env = nullptr;
  uint64_t count = 0;
  uint32_t dim = 0;
  std::vector<int64_t> keys;  // per source row
  QuantSpec quant;
  std::string quant_choice;  // what "auto" chose and why (index/auto_codes.h)
  std::unique_ptr<Quantizer> quantizer;
  const Attributes* attributes = nullptr;  // one value per row, or nullptr: none
  VectorLayout vectors{};                  // the vectors file's layout; its page size is the index's
  ProgressControl progress;
};

// Where a build commits. By default (nullptr) it locks the directory itself
// and commits the new generation alone. IndexWriter::Reindex builds under
// the lock its writer holds and commits, with the generation, the writes
// made while it built, as segments that `segments` writes into the new
// generation's directory just before the commit.
struct BuildCommit {
  std::function<Result<std::vector<ManifestSegment>>(const GenerationWriter& gen)> segments;
  // A vacuum (IndexWriter::Vacuum): the generation the rows come from, and
  // source row i's row in it (kNoRow: a row its structure does not hold,
  // one inserted since its build). The type repairs that generation's
  // structure instead of building one anew where it can.
  const IndexBase* previous = nullptr;
  std::vector<uint32_t> previous_rows;
};

// GenerationWriter::Begin and Commit as `commit` says (nullptr: the default).
Result<std::unique_ptr<GenerationWriter>> BeginGeneration(Env* env, const std::string& dir, uint64_t min_bytes,
                                                          const BuildCommit* commit);
Status CommitGeneration(GenerationWriter& gen, ManifestParams params, const std::vector<std::string>& files,
                        const BuildCommit* commit);

// Checks the source (rows, at most 2^32 - 1) and the keys (one per row,
// distinct; the row numbers when options.keys is empty), and creates the
// quantizer options.quant names ("auto" chosen by ChooseCodes, which reads
// a sample of the source and leaves it rewound).
Result<BuildSetup> PrepareBuild(VectorSource& source, const BuildOptions& options);

// Writes the shared files of a new generation, rows in vectors-file order
// (file row r is source row row_of[r]; empty: source order): keys,
// quantizer and, when the build has attributes, attrs. Appends their names
// to *files (for the commit).
Status WriteSharedFiles(const GenerationWriter& gen, const BuildSetup& s, std::span<const uint32_t> row_of,
                        std::vector<std::string>* files);

// Scales n rows of dim floats to unit length; InvalidArgument naming the
// source and the row for a zero vector (cosine is undefined for it).
Status NormalizeRows(float* rows, uint64_t n, uint32_t dim, uint64_t first_row, const std::string& source);

// The shared parameters of an index built from `source` with `setup`.
IndexParams BuiltParams(const BuildSetup& setup, const BuildOptions& options, const std::string& type, uint32_t format,
                        const VectorSource& source);

}  // namespace vx
