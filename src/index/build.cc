#include "index/build.h"

#include <cmath>

#include "core/parallel.h"
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
  VX_ASSIGN_OR_RETURN(CodeChoice codes, ChooseCodes(source, o));
  s.quant = codes.spec;
  s.quant_choice = std::move(codes.why);
  VX_ASSIGN_OR_RETURN(s.quantizer, Quantizer::Create(s.quant, o.metric, s.dim));
  VX_ASSIGN_OR_RETURN(s.vectors, VectorLayout::Make(o.page_size, s.dim, o.storage));
  s.progress.report = o.progress;
  s.progress.cancel = o.cancel;
  return s;
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
  return p;
}

}  // namespace vx
