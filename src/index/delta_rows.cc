#include "index/delta_rows.h"

#include <algorithm>
#include <cstring>

#include "core/distance.h"
#include "index/attrs.h"
#include "index/index_base.h"

namespace vx {
namespace {

constexpr uint32_t kRowsMagic = 0x53525856;  // "VXRS"
constexpr uint32_t kRowsVersion = 1;
constexpr size_t kHeaderBytes = 32;

}  // namespace

DeltaChunk::DeltaChunk(uint32_t dim, const AttrSchema& schema)
    : keys(kRows), vectors(kRows * dim), attrs(schema.size()) {
  for (size_t c = 0; c < schema.size(); ++c) {
    switch (schema[c].second) {
      case AttributeType::kInt:
        attrs[c].ints.resize(kRows);
        break;
      case AttributeType::kFloat:
        attrs[c].floats.resize(kRows);
        break;
      case AttributeType::kLabels:
        attrs[c].labels.resize(kRows);
        break;
    }
  }
}

uint64_t DeltaView::chunk_bytes() const {
  uint64_t per_row = sizeof(int64_t) + uint64_t{dim} * sizeof(float);
  for (const auto& [name, type] : schema) per_row += type == AttributeType::kLabels ? sizeof(std::vector<int64_t>) : 8;
  return DeltaChunk::kRows * per_row;
}

std::shared_ptr<const DeltaView> DeltaView::Append(const int64_t* keys, const float* vectors, uint64_t n,
                                                   const Attributes* attrs) const {
  auto out = std::make_shared<DeltaView>(*this);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t at = out->rows + i;
    if (at / DeltaChunk::kRows == out->chunks.size()) out->chunks.push_back(std::make_shared<DeltaChunk>(dim, schema));
    DeltaChunk& c = *out->chunks[at / DeltaChunk::kRows];
    const uint64_t slot = at % DeltaChunk::kRows;
    c.keys[slot] = keys[i];
    std::memcpy(c.vectors.data() + slot * dim, vectors + i * dim, dim * sizeof(float));
    for (size_t col = 0; col < schema.size(); ++col) {
      const AttributeColumn& src = attrs->columns[col];
      switch (schema[col].second) {
        case AttributeType::kInt:
          c.attrs[col].ints[slot] = src.ints[i];
          break;
        case AttributeType::kFloat:
          c.attrs[col].floats[slot] = src.floats[i];
          break;
        case AttributeType::kLabels:
          c.attrs[col].labels[slot].assign(src.labels.begin() + src.offsets[i],
                                           src.labels.begin() + src.offsets[i + 1]);
          out->label_count += src.offsets[i + 1] - src.offsets[i];
          break;
      }
    }
  }
  out->rows += n;
  return out;
}

Result<Attributes> DeltaView::ParseAttrs(const std::string& bytes, uint64_t n, const std::string& path) const {
  VX_ASSIGN_OR_RETURN(Attributes a, AttrIndex::Parse(bytes, n, path));
  AttrSchema got;
  for (const AttributeColumn& c : a.columns) got.emplace_back(c.name, c.type);
  if (got != schema) {
    return Status::Corruption(path + ": rows with attribute columns (" + AttributeSchema(got) + ") in an index of (" +
                              AttributeSchema(schema) + ")");
  }
  return a;
}

Attributes DeltaView::Attrs(uint64_t from, uint64_t to) const {
  Attributes a;
  for (size_t col = 0; col < schema.size(); ++col) {
    AttributeColumn out;
    out.name = schema[col].first;
    out.type = schema[col].second;
    if (out.type == AttributeType::kLabels) out.offsets.push_back(0);
    for (uint64_t r = from; r < to; ++r) {
      const DeltaChunk::Attr& c = chunks[r / DeltaChunk::kRows]->attrs[col];
      const uint64_t slot = r % DeltaChunk::kRows;
      switch (out.type) {
        case AttributeType::kInt:
          out.ints.push_back(c.ints[slot]);
          break;
        case AttributeType::kFloat:
          out.floats.push_back(c.floats[slot]);
          break;
        case AttributeType::kLabels:
          out.labels.insert(out.labels.end(), c.labels[slot].begin(), c.labels[slot].end());
          out.offsets.push_back(out.labels.size());
          break;
      }
    }
    a.columns.push_back(std::move(out));
  }
  return a;
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

uint64_t DeltaView::SearchRows(Metric metric, const float* query, std::span<const uint32_t> rows, TopK* top) const {
  if (rows.empty()) return 0;
  const QueryDistance exact = QueryDistance::Make(metric, ElementType::kF32, query, dim).value();
  for (uint32_t row : rows) {
    const uint64_t i = row - base_rows;
    top->Push(exact(vector(i)), key(i));
  }
  return rows.size();
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
  const uint32_t columns = static_cast<uint32_t>(schema.size());
  std::memcpy(out.data() + 28, &columns, 4);
  char* k = out.data() + kHeaderBytes;
  char* v = k + n * sizeof(int64_t);
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t key = this->key(from + i);
    std::memcpy(k + i * sizeof(int64_t), &key, sizeof key);
    std::memcpy(v + i * dim * sizeof(float), vector(from + i), dim * sizeof(float));
  }
  // Rows taken from the index's own chunks: always well formed.
  if (columns > 0) out += AttrIndex::Serialize(Attrs(from, rows), {}).value();
  return out;
}

Result<std::shared_ptr<const DeltaView>> DeltaView::AppendFile(const std::string& bytes,
                                                               const std::string& path) const {
  uint32_t magic = 0, version = 0, file_dim = 0, columns = 0;
  uint64_t first = 0, n = 0;
  if (bytes.size() >= kHeaderBytes) {
    std::memcpy(&magic, bytes.data(), 4);
    std::memcpy(&version, bytes.data() + 4, 4);
    std::memcpy(&first, bytes.data() + 8, 8);
    std::memcpy(&n, bytes.data() + 16, 8);
    std::memcpy(&file_dim, bytes.data() + 24, 4);
    std::memcpy(&columns, bytes.data() + 28, 4);
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
  if (columns != schema.size()) {
    return Status::Corruption(path + ": rows with " + std::to_string(columns) + " attribute columns in an index of " +
                              std::to_string(schema.size()));
  }
  const uint64_t row_bytes = sizeof(int64_t) + uint64_t{dim} * sizeof(float);
  const uint64_t attr_at = kHeaderBytes + n * row_bytes;
  if (n > (bytes.size() - kHeaderBytes) / row_bytes ||
      (columns == 0 ? bytes.size() != attr_at : bytes.size() <= attr_at)) {
    return Status::Corruption(path + ": " + std::to_string(bytes.size()) + " bytes cannot hold the " +
                              std::to_string(n) + " rows it names");
  }
  std::vector<int64_t> keys(n);
  std::memcpy(keys.data(), bytes.data() + kHeaderBytes, n * sizeof(int64_t));
  std::vector<float> vectors(n * dim);
  std::memcpy(vectors.data(), bytes.data() + kHeaderBytes + n * sizeof(int64_t), vectors.size() * sizeof(float));
  if (columns == 0) return Append(keys.data(), vectors.data(), n, nullptr);
  VX_ASSIGN_OR_RETURN(const Attributes attrs, ParseAttrs(bytes.substr(attr_at), n, path));
  return Append(keys.data(), vectors.data(), n, &attrs);
}

}  // namespace vx
