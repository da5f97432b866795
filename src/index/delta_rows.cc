#include "index/delta_rows.h"

#include <algorithm>
#include <cstring>

#include "core/distance.h"
#include "index/index_base.h"

namespace vx {
namespace {

constexpr uint32_t kRowsMagic = 0x53525856;  // "VXRS"
constexpr uint32_t kRowsVersion = 1;
constexpr size_t kHeaderBytes = 32;

}  // namespace

std::shared_ptr<const DeltaView> DeltaView::Append(const int64_t* keys, const float* vectors, uint64_t n) const {
  auto out = std::make_shared<DeltaView>(*this);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t at = out->rows + i;
    if (at / DeltaChunk::kRows == out->chunks.size()) out->chunks.push_back(std::make_shared<DeltaChunk>(dim));
    DeltaChunk& c = *out->chunks[at / DeltaChunk::kRows];
    c.keys[at % DeltaChunk::kRows] = keys[i];
    std::memcpy(c.vectors.data() + (at % DeltaChunk::kRows) * dim, vectors + i * dim, dim * sizeof(float));
  }
  out->rows += n;
  return out;
}

uint64_t DeltaView::Search(Metric metric, const float* query, const RowCheck* check, TopK* top) const {
  if (rows == 0) return 0;
  const QueryDistance exact = QueryDistance::Make(metric, ElementType::kF32, query, dim).value();
  thread_local std::vector<float> dist(DeltaChunk::kRows);  // per thread: no allocation a query
  for (uint64_t first = 0; first < rows; first += DeltaChunk::kRows) {
    const uint64_t n = std::min<uint64_t>(DeltaChunk::kRows, rows - first);
    const DeltaChunk& c = *chunks[first / DeltaChunk::kRows];
    exact.Many(c.vectors.data(), n, dist.data());
    for (uint64_t i = 0; i < n; ++i) {
      if (check == nullptr || check->Admit(static_cast<uint32_t>(base_rows + first + i))) top->Push(dist[i], c.keys[i]);
    }
  }
  return rows;
}

std::string DeltaView::Serialize(uint64_t from) const {
  const uint64_t n = rows - from;
  std::string out(kHeaderBytes + n * (sizeof(int64_t) + dim * sizeof(float)), '\0');
  const uint64_t first = base_rows + from;
  std::memcpy(out.data(), &kRowsMagic, 4);
  std::memcpy(out.data() + 4, &kRowsVersion, 4);
  std::memcpy(out.data() + 8, &first, 8);
  std::memcpy(out.data() + 16, &n, 8);
  std::memcpy(out.data() + 24, &dim, 4);
  char* k = out.data() + kHeaderBytes;
  char* v = k + n * sizeof(int64_t);
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t key = this->key(from + i);
    std::memcpy(k + i * sizeof(int64_t), &key, sizeof key);
    std::memcpy(v + i * dim * sizeof(float), vector(from + i), dim * sizeof(float));
  }
  return out;
}

Result<std::shared_ptr<const DeltaView>> DeltaView::AppendFile(const std::string& bytes,
                                                               const std::string& path) const {
  uint32_t magic = 0, version = 0, file_dim = 0;
  uint64_t first = 0, n = 0;
  if (bytes.size() >= kHeaderBytes) {
    std::memcpy(&magic, bytes.data(), 4);
    std::memcpy(&version, bytes.data() + 4, 4);
    std::memcpy(&first, bytes.data() + 8, 8);
    std::memcpy(&n, bytes.data() + 16, 8);
    std::memcpy(&file_dim, bytes.data() + 24, 4);
  }
  if (magic != kRowsMagic) return Status::Corruption(path + ": not a rows segment (magic number wrong)");
  if (version != kRowsVersion) {
    return Status::NotSupported(path + ": rows segment format version " + std::to_string(version) + " (this vx reads " +
                                std::to_string(kRowsVersion) + ")");
  }
  if (file_dim != dim) {
    return Status::Corruption(path + ": rows of " + std::to_string(file_dim) + " dims in an index of " +
                              std::to_string(dim));
  }
  if (first != base_rows + rows) {
    return Status::Corruption(path + ": starts at row " + std::to_string(first) + "; the rows before end at " +
                              std::to_string(base_rows + rows));
  }
  const uint64_t row_bytes = sizeof(int64_t) + uint64_t{dim} * sizeof(float);
  if (n > (bytes.size() - kHeaderBytes) / row_bytes || bytes.size() != kHeaderBytes + n * row_bytes) {
    return Status::Corruption(path + ": " + std::to_string(bytes.size()) + " bytes cannot hold the " +
                              std::to_string(n) + " rows it names");
  }
  std::vector<int64_t> keys(n);
  std::memcpy(keys.data(), bytes.data() + kHeaderBytes, n * sizeof(int64_t));
  std::vector<float> vectors(n * dim);
  std::memcpy(vectors.data(), bytes.data() + kHeaderBytes + n * sizeof(int64_t), vectors.size() * sizeof(float));
  return Append(keys.data(), vectors.data(), n);
}

}  // namespace vx
