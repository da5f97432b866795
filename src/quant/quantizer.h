// Quantizers: compact in-memory codes that steer a search, scored
// asymmetrically (the query stays full precision). One interface for all:
//   f16      halfvec, 2 bytes per dimension
//   sq8      per-dimension ranges, 1 byte per dimension (+4 bytes for l2)
//   pq:M     M subspaces x 8 bits, k-means codebooks, lookup-table scoring
//   pq4:M    M subspaces x 4 bits, scored with 8-bit tables by SIMD shuffles
//   rabitq:B B bits per dimension (1 by default; 2-8: extended RaBitQ) after
//            a random rotation, with an unbiased distance estimator and a
//            per-candidate error bound
//
// Estimates use the metric semantics of vx/types.h (l2 squared, ip negated,
// cosine 1 - cos). Cosine normalises vectors and queries and is scored as ip.
//
// Thread-safety: after Train (or Deserialize), all const methods may be called
// from any number of threads. A PreparedQuery belongs to one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/distance.h"
#include "core/progress.h"
#include "vx/status.h"
#include "vx/types.h"

namespace vx {

enum class QuantKind : uint8_t { kF16 = 1, kSQ8 = 2, kPQ = 3, kRaBitQ = 4, kPQ4 = 5 };

struct QuantSpec {
  QuantKind kind = QuantKind::kSQ8;
  uint32_t pq_m = 0;             // pq, pq4: subspaces
  uint32_t bits = 1;             // rabitq: bits per dimension (1-8)
  std::string ToString() const;  // "f16", "sq8", "pq:16", "pq4:32", "rabitq", "rabitq:4"
};
// Parses "f16", "sq8", "pq:M", "pq4:M", "rabitq" (= "rabitq:1") or "rabitq:B", B <= 8.
Result<QuantSpec> ParseQuantSpec(std::string_view text);

// Per-query state built by Prepare: a transformed query or lookup tables.
// Reused across queries to avoid allocation.
struct PreparedQuery {
  std::vector<float> table;
  std::vector<uint8_t> lut8;  // pq4: 8-bit lookup tables, 16 bytes a subspace
  std::vector<int8_t> q8;     // sq8: the scaled query as i8, q8_scale a unit
  float q8_scale = 0;
  // RaBitQ: the rotated query as levels lo + delta j, one bit plane after
  // another, each a run of 64-bit words.
  std::vector<uint64_t> qbits;
  float q_lo = 0, q_delta = 0;
  float bias = 0;
  float scale = 0;
  float extra = 0;
};

struct TrainParams {
  uint64_t max_train_points = 65536;  // as FAISS: 256 points per centroid for k = 256
  uint64_t seed = 1;
  int threads = 0;
  uint32_t kmeans_iterations = 25;
  // Training reports its steps (PQ: subspaces trained) as phase "train
  // codes" and stops with Cancelled when asked. Optional.
  const ProgressControl* progress = nullptr;
};

class ByteWriter;
class ByteReader;

class Quantizer {
 public:
  static Result<std::unique_ptr<Quantizer>> Create(const QuantSpec& spec, Metric metric, uint32_t dim);
  // Reads what Serialize wrote; Corruption if it fails its checks.
  static Result<std::unique_ptr<Quantizer>> Deserialize(std::string_view bytes);
  virtual ~Quantizer() = default;

  const QuantSpec& spec() const { return spec_; }
  Metric metric() const { return metric_; }
  uint32_t dim() const { return dim_; }
  bool trained() const { return trained_; }
  virtual size_t code_size() const = 0;

  // Trains on n sample rows. InvalidArgument if the sample is too small;
  // Cancelled when params.progress asks to stop.
  Status Train(const float* sample, uint64_t n, const TrainParams& params);
  // Train for rows already of unit length under cosine (a build's,
  // normalised as read), without Train's normalised copy of them all.
  Status TrainUnit(const float* sample, uint64_t n, const TrainParams& params);
  // Encodes n rows into n * code_size() bytes, on `threads` threads.
  // InvalidArgument naming the row for a zero vector under cosine.
  Status Encode(const float* x, uint64_t n, uint8_t* codes, int threads = 0) const;
  // InvalidArgument for a zero query under cosine.
  Status Prepare(const float* q, PreparedQuery* out) const;
  // Prepare for a query already prepared by core/query.h's QueryVector
  // (under cosine: of unit length), which it does not normalise again.
  void PrepareUnit(const float* q, PreparedQuery* out) const { DoPrepare(q, out); }
  float Score(const PreparedQuery& q, const uint8_t* code) const;
  // Scores n codes stored contiguously.
  void ScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const;
  // Scores the codes of `rows` in a table of codes (row r's at r *
  // code_size()). A quantizer with a block kernel (PQ, f16) copies them
  // into `block` (rows.size() * code_size() bytes) and scores the block;
  // the others score each code where it is.
  void ScoreRows(const PreparedQuery& q, const uint8_t* table, std::span<const uint32_t> rows, uint8_t* block,
                 float* out) const;
  // Whether ErrorBound bounds the estimate's error (RaBitQ, sq8).
  virtual bool has_error_bound() const { return false; }
  // Whether ErrorBound costs O(1) a code (RaBitQ: factors stored in the
  // code), cheap enough for every entry an IVF scan admits; sq8's takes two
  // passes over the code, worth it only on a search's final candidates.
  virtual bool error_bound_is_cheap() const { return false; }
  // A bound on |Score - exact distance| that holds with high probability
  // (RaBitQ); +inf for quantizers without one.
  virtual float ErrorBound(const PreparedQuery& q, const uint8_t* code) const {
    return std::numeric_limits<float>::infinity();
  }
  // The vector a code stands for (approximate; cosine: the normalised vector).
  virtual void Decode(const uint8_t* code, float* out) const = 0;

  // Magic, version, parameters, body and an XXH3 checksum.
  std::string Serialize() const;

  // Test hook: score with another kernel set (SIMD vs scalar checks).
  void UseKernels(const KernelTable& kernels) { kernels_ = &kernels; }

 protected:
  Quantizer(const QuantSpec& spec, Metric metric, uint32_t dim)
      : spec_(spec), metric_(metric), dim_(dim), kernels_(&ActiveKernels()) {}
  // The metric the implementation scores: cosine is scored as ip.
  Metric inner_metric() const { return metric_ == Metric::kCosine ? Metric::kInnerProduct : metric_; }

  virtual Status DoTrain(const float* x, uint64_t n, const TrainParams& params) = 0;
  virtual void DoEncode(const float* x, uint8_t* code) const = 0;
  // n rows into n codes; a quantizer that transforms rows (RaBitQ's
  // rotation) does a block as one matrix product. Default: DoEncode each.
  virtual void DoEncodeBlock(const float* x, uint64_t n, uint8_t* codes) const;
  virtual void DoPrepare(const float* q, PreparedQuery* out) const = 0;
  virtual float DoScore(const PreparedQuery& q, const uint8_t* code) const = 0;
  virtual void DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const;
  // Whether DoScoreBlock scores n codes faster than n DoScore calls.
  virtual bool has_block_kernel() const { return false; }
  virtual void WriteBody(ByteWriter& w) const = 0;
  virtual Status ReadBody(ByteReader& r) = 0;

  QuantSpec spec_;
  Metric metric_;
  uint32_t dim_;
  const KernelTable* kernels_;
  bool trained_ = false;
};

// Little-endian byte buffers for quantizer bodies; the reader bounds-checks
// every read (a failed read is Corruption).
class ByteWriter {
 public:
  template <class T>
  void Put(const T& v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out_.append(p, sizeof(T));
  }
  template <class T>
  void PutVector(const std::vector<T>& v) {
    Put<uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <class T>
  Status Get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return Truncated();
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  // Reads a vector of exactly `expected` elements.
  template <class T>
  Status GetVector(std::vector<T>* v, uint64_t expected) {
    uint64_t n;
    VX_RETURN_IF_ERROR(Get(&n));
    if (n != expected)
      return Status::Corruption("quantizer data: array of " + std::to_string(n) + ", expected " +
                                std::to_string(expected));
    if ((in_.size() - pos_) / sizeof(T) < n) return Truncated();
    v->resize(n);
    std::memcpy(v->data(), in_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return Status::Ok();
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  static Status Truncated() { return Status::Corruption("quantizer data is truncated"); }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace vx
