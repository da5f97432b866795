#include "quant/quantizer.h"

#include <cmath>
#include <cstring>

#include "core/checksum.h"
#include "core/parallel.h"
#include "quant/impls.h"

namespace vx {
namespace {

constexpr uint32_t kMagic = 0x5A515856;  // "VXQZ"
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;  // magic, version, kind, metric, dim, param, body_len, checksum

// Unit-length copy of n rows for cosine; InvalidArgument naming a zero row.
Status Normalized(const float* x, uint64_t n, uint32_t dim, uint64_t first_row, std::vector<float>* out) {
  out->assign(x, x + n * dim);
  for (uint64_t i = 0; i < n; ++i) {
    float* r = out->data() + i * dim;
    double s = 0;
    for (uint32_t j = 0; j < dim; ++j) s += double{r[j]} * r[j];
    if (s == 0) {
      return Status::InvalidArgument("row " + std::to_string(first_row + i) +
                                     " is a zero vector; cosine distance is undefined for it");
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (uint32_t j = 0; j < dim; ++j) r[j] *= inv;
  }
  return Status::Ok();
}

}  // namespace

std::string QuantSpec::ToString() const {
  switch (kind) {
    case QuantKind::kF16:
      return "f16";
    case QuantKind::kSQ8:
      return "sq8";
    case QuantKind::kPQ:
      return "pq:" + std::to_string(pq_m);
    case QuantKind::kPQ4:
      return "pq4:" + std::to_string(pq_m);
    case QuantKind::kRaBitQ:
      return bits == 1 ? "rabitq" : "rabitq:" + std::to_string(bits);
  }
  return "?";
}

Result<QuantSpec> ParseQuantSpec(std::string_view text) {
  QuantSpec s;
  const size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  uint32_t arg = 0;
  if (colon != std::string_view::npos) {
    const std::string_view a = text.substr(colon + 1);
    if (a.empty() || a.size() > 6 || a.find_first_not_of("0123456789") != std::string_view::npos) {
      return Status::InvalidArgument("quantizer '" + std::string(text) + "': the number after ':' is not valid");
    }
    arg = static_cast<uint32_t>(std::stoul(std::string(a)));
  }
  if (name == "f16" && colon == std::string_view::npos) {
    s.kind = QuantKind::kF16;
  } else if (name == "sq8" && colon == std::string_view::npos) {
    s.kind = QuantKind::kSQ8;
  } else if ((name == "pq" || name == "pq4") && arg > 0) {
    s.kind = name == "pq" ? QuantKind::kPQ : QuantKind::kPQ4;
    s.pq_m = arg;
  } else if (name == "rabitq") {
    s.kind = QuantKind::kRaBitQ;
    s.bits = colon == std::string_view::npos ? 1 : arg;
    if (s.bits < 1 || s.bits > 8) {
      return Status::InvalidArgument("rabitq:" + std::to_string(s.bits) + ": bits per dimension must be 1 to 8");
    }
  } else {
    return Status::InvalidArgument("unknown quantizer '" + std::string(text) +
                                   "' (expected f16, sq8, pq:M, pq4:M, rabitq or rabitq:B)");
  }
  return s;
}

Result<std::unique_ptr<Quantizer>> Quantizer::Create(const QuantSpec& spec, Metric metric, uint32_t dim) {
  if (dim == 0) return Status::InvalidArgument("quantizer: dimension 0");
  switch (spec.kind) {
    case QuantKind::kF16:
      return internal::NewF16(spec, metric, dim);
    case QuantKind::kSQ8:
      return internal::NewSQ8(spec, metric, dim);
    case QuantKind::kPQ:
    case QuantKind::kPQ4:
      if (spec.pq_m == 0 || spec.pq_m > dim) {
        return Status::InvalidArgument(spec.ToString() + ": the subspaces must number 1 to " + std::to_string(dim) +
                                       " (one per dimension at most) for these vectors");
      }
      return internal::NewPQ(spec, metric, dim);
    case QuantKind::kRaBitQ:
      if (spec.bits < 1 || spec.bits > 8) return Status::InvalidArgument("rabitq: bits per dimension must be 1 to 8");
      return internal::NewRaBitQ(spec, metric, dim);
  }
  return Status::InvalidArgument("unknown quantizer kind");
}

Status Quantizer::Train(const float* sample, uint64_t n, const TrainParams& params) {
  if (metric_ != Metric::kCosine) return TrainUnit(sample, n, params);
  std::vector<float> unit;
  VX_RETURN_IF_ERROR(Normalized(sample, n, dim_, 0, &unit));
  return TrainUnit(unit.data(), n, params);
}

Status Quantizer::TrainUnit(const float* sample, uint64_t n, const TrainParams& params) {
  if (n == 0) return Status::InvalidArgument("quantizer: empty training sample");
  VX_RETURN_IF_ERROR(DoTrain(sample, n, params));
  if (params.progress) VX_RETURN_IF_ERROR(params.progress->Step(1, 1, "train codes"));
  trained_ = true;
  return Status::Ok();
}

Status Quantizer::Encode(const float* x, uint64_t n, uint8_t* codes, int threads) const {
  if (!trained_) return Status::InvalidArgument("quantizer: Encode before Train");
  constexpr uint64_t kBlock = 4096;
  const size_t cs = code_size();
  std::vector<Status> errors((n + kBlock - 1) / kBlock);
  ParallelFor(errors.size(), threads, [&](size_t b) {
    const uint64_t r0 = b * kBlock, rn = std::min<uint64_t>(kBlock, n - r0);
    const float* rows = x + r0 * dim_;
    std::vector<float> unit;
    if (metric_ == Metric::kCosine) {
      errors[b] = Normalized(rows, rn, dim_, r0, &unit);
      if (!errors[b].ok()) return;
      rows = unit.data();
    }
    DoEncodeBlock(rows, rn, codes + r0 * cs);
  });
  for (const Status& s : errors) VX_RETURN_IF_ERROR(s);
  return Status::Ok();
}

void Quantizer::DoEncodeBlock(const float* x, uint64_t n, uint8_t* codes) const {
  for (uint64_t i = 0; i < n; ++i) DoEncode(x + i * dim_, codes + i * code_size());
}

Status Quantizer::Prepare(const float* q, PreparedQuery* out) const {
  if (metric_ != Metric::kCosine) {
    DoPrepare(q, out);
    return Status::Ok();
  }
  std::vector<float> unit;
  Status s = Normalized(q, 1, dim_, 0, &unit);
  if (!s.ok()) return Status::InvalidArgument("cosine distance of a zero query vector");
  DoPrepare(unit.data(), out);
  return Status::Ok();
}

float Quantizer::Score(const PreparedQuery& q, const uint8_t* code) const {
  const float s = DoScore(q, code);
  return metric_ == Metric::kCosine ? 1.0f + s : s;  // cosine = 1 - ip = 1 + (-ip)
}

void Quantizer::ScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const {
  DoScoreBlock(q, codes, n, out);
  if (metric_ == Metric::kCosine) {
    for (size_t i = 0; i < n; ++i) out[i] += 1.0f;
  }
}

void Quantizer::ScoreRows(const PreparedQuery& q, const uint8_t* table, std::span<const uint32_t> rows, uint8_t* block,
                          float* out) const {
  const size_t cs = code_size();
  if (has_block_kernel()) {
    for (size_t i = 0; i < rows.size(); ++i) std::memcpy(block + i * cs, table + uint64_t{rows[i]} * cs, cs);
    DoScoreBlock(q, block, rows.size(), out);
  } else {
    for (size_t i = 0; i < rows.size(); ++i) out[i] = DoScore(q, table + uint64_t{rows[i]} * cs);
  }
  if (metric_ == Metric::kCosine) {
    for (size_t i = 0; i < rows.size(); ++i) out[i] += 1.0f;
  }
}

void Quantizer::DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const {
  const size_t cs = code_size();
  for (size_t i = 0; i < n; ++i) out[i] = DoScore(q, codes + i * cs);
}

std::string Quantizer::Serialize() const {
  ByteWriter body;
  WriteBody(body);
  ByteWriter w;
  w.Put(kMagic);
  w.Put(kVersion);
  w.Put(static_cast<uint8_t>(spec_.kind));
  w.Put(static_cast<uint8_t>(metric_));
  w.Put(dim_);
  w.Put(spec_.kind == QuantKind::kPQ || spec_.kind == QuantKind::kPQ4 ? spec_.pq_m : spec_.bits);
  w.Put(static_cast<uint64_t>(body.bytes().size()));
  w.Put(Checksum(body.bytes().data(), body.bytes().size()));
  return w.bytes() + body.bytes();
}

Result<std::unique_ptr<Quantizer>> Quantizer::Deserialize(std::string_view bytes) {
  ByteReader h(bytes.substr(0, std::min(bytes.size(), kHeaderBytes)));
  uint32_t magic = 0, dim = 0, param = 0;
  uint16_t version = 0;
  uint8_t kind = 0, metric = 0;
  uint64_t len = 0, sum = 0;
  if (!h.Get(&magic).ok() || !h.Get(&version).ok() || !h.Get(&kind).ok() || !h.Get(&metric).ok() || !h.Get(&dim).ok() ||
      !h.Get(&param).ok() || !h.Get(&len).ok() || !h.Get(&sum).ok()) {
    return Status::Corruption("quantizer data: truncated header");
  }
  if (magic != kMagic) return Status::Corruption("quantizer data: bad magic");
  if (version != kVersion) return Status::Corruption("quantizer data: unsupported version " + std::to_string(version));
  if (len != bytes.size() - kHeaderBytes) {
    return Status::Corruption("quantizer data: body of " + std::to_string(bytes.size() - kHeaderBytes) +
                              " bytes, header says " + std::to_string(len));
  }
  const std::string_view body = bytes.substr(kHeaderBytes);
  if (Checksum(body.data(), body.size()) != sum) return Status::Corruption("quantizer data: checksum mismatch");
  if (kind < 1 || kind > 5 || metric > 2) return Status::Corruption("quantizer data: unknown kind or metric");
  QuantSpec spec;
  spec.kind = static_cast<QuantKind>(kind);
  if (spec.kind == QuantKind::kPQ || spec.kind == QuantKind::kPQ4)
    spec.pq_m = param;
  else
    spec.bits = param;
  auto q = Create(spec, static_cast<Metric>(metric), dim);
  if (!q.ok()) return Status::Corruption("quantizer data: " + q.status().message());
  ByteReader r(body);
  VX_RETURN_IF_ERROR((*q)->ReadBody(r));
  if (!r.done()) return Status::Corruption("quantizer data: trailing bytes");
  (*q)->trained_ = true;
  return q;
}

}  // namespace vx
