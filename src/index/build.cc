#include "index/build.h"

#include <cmath>

#include "core/parallel.h"
#include "index/attrs.h"
#include "index/auto_codes.h"
#include "index/keys.h"

namespace vx {

Result<BuildSetup> PrepareBuild(VectorSource& source, const BuildOptions& o) {
  BuildSetup s;
  s.env = o.env ? o.env : DefaultEnv();
  VX_RETURN_IF_ERROR(CheckThreads(o.threads, "threads"));
  s.count = source.count();
  s.dim = source.dim();
  if (s.count == 0) return Status::InvalidArgument(source.name() + ": no vectors");
  if (s.count >= UINT32_MAX) return Status::InvalidArgument(source.name() + ": more than 2^32 - 1 vectors");
  if (o.keys.empty()) {
    s.keys.resize(s.count);
    for (uint64_t i = 0; i < s.count; ++i) s.keys[i] = static_cast<int64_t>(i);
  } else {
    VX_RETURN_IF_ERROR(CheckKeys(o.keys, s.count, "keys"));
    s.keys = o.keys;
  }
  if (!o.attributes.empty()) {
    VX_ASSIGN_OR_RETURN(const uint64_t rows, o.attributes.Rows());
    if (rows != s.count) {
      return Status::InvalidArgument("attributes: " + std::to_string(rows) + " rows for the " +
                                     std::to_string(s.count) + " of " + source.name() + "; give one per row");
    }
    s.attributes = &o.attributes;
  }
  VX_ASSIGN_OR_RETURN(CodeChoice codes, ChooseCodes(source, o));
  s.quant = codes.spec;
  s.quant_choice = std::move(codes.why);
  VX_ASSIGN_OR_RETURN(s.quantizer, Quantizer::Create(s.quant, o.metric, s.dim));
  VX_ASSIGN_OR_RETURN(s.vectors, VectorLayout::Make(o.page_size, s.dim, o.storage));
  s.progress.report = o.progress;
  s.progress.cancel = o.cancel;
  return s;
}

Result<std::unique_ptr<GenerationWriter>> BeginGeneration(Env* env, const std::string& dir, uint64_t min_bytes,
                                                          const BuildCommit* commit) {
  return GenerationWriter::Begin(env, dir, min_bytes, 0, /*locked=*/commit != nullptr);
}

Status CommitGeneration(GenerationWriter& gen, ManifestParams params, const std::vector<std::string>& files,
                        const BuildCommit* commit) {
  std::vector<ManifestSegment> segments;
  if (commit != nullptr) {
    VX_ASSIGN_OR_RETURN(segments, commit->segments(gen));
  }
  return gen.Commit(std::move(params), files, std::move(segments));
}

Status NormalizeRows(float* rows, uint64_t n, uint32_t dim, uint64_t first_row, const std::string& source) {
  for (uint64_t i = 0; i < n; ++i) {
    float* x = rows + i * dim;
    double s = 0;
    for (uint32_t j = 0; j < dim; ++j) s += double{x[j]} * x[j];
    if (s == 0) {
      return Status::InvalidArgument(source + ": record " + std::to_string(first_row + i) +
                                     " is a zero vector; cosine distance is undefined for it");
    }
    const double inv = 1 / std::sqrt(s);
    for (uint32_t j = 0; j < dim; ++j) x[j] = static_cast<float>(x[j] * inv);
  }
  return Status::Ok();
}

Status WriteSharedFiles(const GenerationWriter& gen, const BuildSetup& s, std::span<const uint32_t> row_of,
                        std::vector<std::string>* files) {
  std::vector<int64_t> keys(s.keys.size());
  for (uint64_t r = 0; r < keys.size(); ++r) keys[r] = s.keys[row_of.empty() ? r : row_of[r]];
  VX_RETURN_IF_ERROR(WriteWholeFile(s.env, gen.Path(kKeysFile), keys.data(), keys.size() * sizeof(int64_t)));
  const std::string qbytes = s.quantizer->Serialize();
  VX_RETURN_IF_ERROR(WriteWholeFile(s.env, gen.Path(kQuantizerFile), qbytes.data(), qbytes.size()));
  files->insert(files->end(), {kKeysFile, kQuantizerFile});
  if (s.attributes == nullptr) return Status::Ok();
  VX_ASSIGN_OR_RETURN(const std::string abytes, AttrIndex::Serialize(*s.attributes, row_of));
  VX_RETURN_IF_ERROR(WriteWholeFile(s.env, gen.Path(kAttrsFile), abytes.data(), abytes.size()));
  files->push_back(kAttrsFile);
  return Status::Ok();
}

IndexParams BuiltParams(const BuildSetup& setup, const BuildOptions& o, const std::string& type, uint32_t format,
                        const VectorSource& source) {
  IndexParams p;
  p.type = type;
  p.format = format;
  p.metric = o.metric;
  p.storage = o.storage;
  p.quant = setup.quant.ToString();
  p.quant_choice = setup.quant_choice;
  p.count = setup.count;
  p.dim = setup.dim;
  p.page_size = static_cast<uint32_t>(setup.vectors.page_size);
  p.source = source.name();
  if (setup.attributes != nullptr) {
    for (const AttributeColumn& c : setup.attributes->columns) p.attributes.emplace_back(c.name, c.type);
  }
  return p;
}

}  // namespace vx
